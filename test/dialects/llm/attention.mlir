// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// GQA: 32 query heads over 8 KV heads.
// CHECK-LABEL: func.func @attention_gqa
func.func @attention_gqa(%q: tensor<?x32x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %slots: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x32x64xbf16> {
  // CHECK: llm.attention %{{.+}}, %{{.+}} at %{{.+}}, %{{.+}} scale 0.125 : tensor<?x32x64xbf16>, <kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x32x64xbf16>
  %a = llm.attention %q, %c at %slots, %pos scale 0.125 : tensor<?x32x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x32x64xbf16>
  return %a : tensor<?x32x64xbf16>
}

// -----

// Sliding window over a windowed cache, softcap, and attention sinks.
// CHECK-LABEL: func.func @attention_window_sinks
func.func @attention_window_sinks(%q: tensor<?x8x64xbf16>, %c: !llm.kv_cache<kv_heads = 1, head_dim = 64, dtype = bf16, window = 128>, %slots: tensor<?xi32>, %pos: tensor<?xi32>, %sinks: tensor<8xbf16>) -> tensor<?x8x64xbf16> {
  // CHECK: llm.attention %{{.+}}, %{{.+}} at %{{.+}}, %{{.+}} sinks %{{.+}} scale 0.125 {softcap = 5.000000e+01 : f64, window = 128 : i64} : tensor<?x8x64xbf16>, <kv_heads = 1, head_dim = 64, dtype = bf16, window = 128>, tensor<8xbf16> -> tensor<?x8x64xbf16>
  %a = llm.attention %q, %c at %slots, %pos sinks %sinks scale 0.125 {window = 128 : i64, softcap = 50.0 : f64} : tensor<?x8x64xbf16>, !llm.kv_cache<kv_heads = 1, head_dim = 64, dtype = bf16, window = 128>, tensor<8xbf16> -> tensor<?x8x64xbf16>
  return %a : tensor<?x8x64xbf16>
}

// -----

// Chunked attention (Llama 4).
// CHECK-LABEL: func.func @attention_chunked
func.func @attention_chunked(%q: tensor<?x32x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %slots: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x32x64xbf16> {
  // CHECK: llm.attention {{.+}} {chunk = 8192 : i64}
  %a = llm.attention %q, %c at %slots, %pos scale 0.125 {chunk = 8192 : i64} : tensor<?x32x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x32x64xbf16>
  return %a : tensor<?x32x64xbf16>
}

// -----

// Llama 4's temperature tuning of NoPE layers' queries.
// CHECK-LABEL: func.func @attn_temperature
func.func @attn_temperature(%q: tensor<?x40x128xbf16>, %pos: tensor<?xi32>) -> tensor<?x40x128xbf16> {
  // CHECK: llm.attn_temperature %{{.+}}, %{{.+}} floor_scale 8192.0 scale 0.1 : tensor<?x40x128xbf16>
  %t = llm.attn_temperature %q, %pos floor_scale 8192.0 scale 0.1 : tensor<?x40x128xbf16>
  return %t : tensor<?x40x128xbf16>
}
