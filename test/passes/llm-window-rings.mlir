// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-window-rings))' | FileCheck %s --enable-var-scope

// Prefill: the windowed attention reads the old cache and the step's keys
// and values, and the write follows it.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<?xi32>, %[[SLOTS:[a-z0-9]+]]: tensor<?xi32>, %[[C0:[a-z0-9]+]]: !llm.kv_cache
// CHECK: %[[A:.+]] = llm.attention %{{.+}}, %[[C0]] at %[[SLOTS]], %[[POS]] step %[[K:[a-z0-9]+]], %[[V:[a-z0-9]+]] scale 0.25 {window = 6 : i64}
// CHECK-NEXT: %[[C1:.+]] = llm.kv_cache_write %[[K]], %[[V]] into %[[C0]] at %[[SLOTS]], %[[POS]]
// CHECK: return %[[A]], %[[C1]]
func.func @prefill(%q: tensor<?x4x16xbf16>, %k: tensor<?x2x16xbf16>, %v: tensor<?x2x16xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c0: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>) -> (tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>) attributes {llm.step = #llm.step<prefill>} {
  %c1 = llm.kv_cache_write %k, %v into %c0 at %slots, %pos : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>
  %a = llm.attention %q, %c1 at %slots, %pos scale 0.25 {window = 6 : i64} : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6> -> tensor<?x4x16xbf16>
  return %a, %c1 : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>
}

// -----

// Decode (one token per sequence) and attention without a window keep the
// write first; so does an FP8 cache (its scales are per head).
// CHECK-LABEL: func.func @decode
// CHECK: llm.kv_cache_write
// CHECK-NEXT: llm.attention
// CHECK-NOT: step
func.func @decode(%q: tensor<?x4x16xbf16>, %k: tensor<?x2x16xbf16>, %v: tensor<?x2x16xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c0: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>) -> (tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>) attributes {llm.step = #llm.step<decode>} {
  %c1 = llm.kv_cache_write %k, %v into %c0 at %slots, %pos : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>
  %a = llm.attention %q, %c1 at %slots, %pos scale 0.25 {window = 6 : i64} : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6> -> tensor<?x4x16xbf16>
  return %a, %c1 : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16, window = 6>
}

// -----

// CHECK-LABEL: func.func @global
// CHECK: llm.kv_cache_write
// CHECK-NEXT: llm.attention
// CHECK-NOT: step
func.func @global(%q: tensor<?x4x16xbf16>, %k: tensor<?x2x16xbf16>, %v: tensor<?x2x16xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c0: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16>) -> (tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16>) attributes {llm.step = #llm.step<prefill>} {
  %c1 = llm.kv_cache_write %k, %v into %c0 at %slots, %pos : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16>
  %a = llm.attention %q, %c1 at %slots, %pos scale 0.25 : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16> -> tensor<?x4x16xbf16>
  return %a, %c1 : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = bf16>
}

// -----

// CHECK-LABEL: func.func @fp8
// CHECK: llm.kv_cache_write
// CHECK-NEXT: llm.attention
// CHECK-NOT: step
func.func @fp8(%q: tensor<?x4x16xbf16>, %k: tensor<?x2x16xbf16>, %v: tensor<?x2x16xbf16>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c0: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f8E4M3FN, window = 6>) -> (tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f8E4M3FN, window = 6>) attributes {llm.step = #llm.step<prefill>} {
  %c1 = llm.kv_cache_write %k, %v into %c0 at %slots, %pos : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f8E4M3FN, window = 6>
  %a = llm.attention %q, %c1 at %slots, %pos scale 0.25 {window = 6 : i64} : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f8E4M3FN, window = 6> -> tensor<?x4x16xbf16>
  return %a, %c1 : tensor<?x4x16xbf16>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f8E4M3FN, window = 6>
}
