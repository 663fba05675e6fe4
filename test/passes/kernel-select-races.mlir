// RUN: llmc-opt %s --pass-pipeline="builtin.module(kernel-select{max-seq-len=512})" | FileCheck %s --check-prefix=RACE --enable-var-scope

// Memory planned by hand: K's output shares bytes with x. Running the two
// projections at once could then change a result, so each gets its own
// GEMV; the same holds for a norm pair whose outputs overlap.
// RACE-LABEL: func.func @races
// RACE: kernel.launch "q_proj+k_proj"
// RACE-NOT: gemv_multi
// RACE: kernel.call @gemv({{.*}}entry = "linear_gemv_n64_k64_f32_f32_f32"
// RACE: kernel.call @gemv({{.*}}entry = "linear_gemv_n64_k64_f32_f32_f32"
// RACE: kernel.launch "norms"
// RACE-NOT: rms_norm_pair
// RACE: kernel.call @rms_norm({{.*}}entry = "rms_norm_s16_g4_var3_f32_none_f32"
// RACE: kernel.call @rms_norm({{.*}}entry = "rms_norm_s16_g4_var3_f32_none_f32"
func.func @races(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>) -> tensor<?x64xf32> attributes {kernel.arena_bytes = 4096 : i64, kernel.max_tokens = 4 : i64} {
  %e = llm.param "embed" : tensor<80x64xf32>
  %w = llm.param "w" : tensor<64x64xf32>
  %x = kernel.launch "embed"(%tokens, %e) : (tensor<?xi32>, tensor<80x64xf32>) -> tensor<?x64xf32> attributes {kernel.offsets = array<i64: 0>} {
  ^bb0(%t: tensor<?xi32>, %t2: tensor<80x64xf32>):
    %0 = llm.embedding %t, %t2 {kernel.offsets = array<i64: 0>} : tensor<80x64xf32> -> tensor<?x64xf32>
    kernel.yield %0 : tensor<?x64xf32>
  }
  %q:2 = kernel.launch "q_proj+k_proj"(%x, %w) : (tensor<?x64xf32>, tensor<64x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) attributes {kernel.offsets = array<i64: 1024, 0>} {
  ^bb0(%a: tensor<?x64xf32>, %b: tensor<64x64xf32>):
    %0 = llm.linear %a, %b {kernel.offsets = array<i64: 1024>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %1 = llm.linear %a, %b {kernel.offsets = array<i64: 0>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    kernel.yield %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
  }
  %n = kernel.launch "norms"(%q#0, %q#1) : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32> attributes {kernel.offsets = array<i64: 2048>} {
  ^bb0(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>):
    %0 = llm.split_heads %a {kernel.offsets = array<i64: 1024>} : tensor<?x64xf32> -> tensor<?x4x16xf32>
    %1 = llm.split_heads %b {kernel.offsets = array<i64: 0>} : tensor<?x64xf32> -> tensor<?x4x16xf32>
    %2 = llm.rms_norm no_weight %0 eps 1.0e-06 {kernel.offsets = array<i64: 2048>} : tensor<?x4x16xf32>
    %3 = llm.rms_norm no_weight %1 eps 1.0e-06 {kernel.offsets = array<i64: 2048>} : tensor<?x4x16xf32>
    %4 = llm.merge_heads %3 {kernel.offsets = array<i64: 2048>} : tensor<?x4x16xf32> -> tensor<?x64xf32>
    kernel.yield %4 : tensor<?x64xf32>
  }
  return %n : tensor<?x64xf32>
}

// RoPE of Q and K and the cache write run as one launch when their bytes
// are apart; with the rotated queries over the values, the fused launch
// could rotate Q before the cache write reads V, so each runs on its own.
// RACE-LABEL: func.func @rope_apart
// RACE: kernel.call @rope_kv_cache_write({{.*}}entry = "rope_kv_cache_write_hq2_hk1_d8_r8_half_f32_f32_f32_f32_f32_f32_{{[0-9A-F]+}}", grid = array<i32: 1, 1, 1>
// RACE-LABEL: func.func @rope_over_values
// RACE-NOT: rope_kv_cache_write
// RACE: kernel.call @rope({{.*}}entry = "rope_h2_d8_r8_half_f32_f32_{{[0-9A-F]+}}"
// RACE: kernel.call @rope({{.*}}entry = "rope_h1_d8_r8_half_f32_f32_{{[0-9A-F]+}}"
// RACE: kernel.call @kv_cache_write({{.*}}entry = "kv_cache_write_r8_f32_f32_f32"
// RACE-NOT: rope_kv_cache_write
// Linears of two different inputs never share a GEMV.
// RACE-LABEL: func.func @linears_of_two_inputs
// RACE-NOT: gemv_multi
// RACE: kernel.call @gemv({{.*}}entry = "linear_gemv_n32_k64_f32_f32_f32"
// RACE: kernel.call @gemv({{.*}}entry = "linear_gemv_n48_k64_f32_f32_f32"
// RACE-NOT: gemv_multi
func.func @rope_apart(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) -> (tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) attributes {kernel.arena_bytes = 1024 : i64, kernel.max_tokens = 4 : i64} {
  %eq = llm.param "eq" : tensor<80x16xf32>
  %ek = llm.param "ek" : tensor<80x8xf32>
  %ev = llm.param "ev" : tensor<80x8xf32>
  %xq = kernel.launch "eq"(%tokens, %eq) : (tensor<?xi32>, tensor<80x16xf32>) -> tensor<?x16xf32> attributes {kernel.offsets = array<i64: 0>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x16xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 0>} : tensor<80x16xf32> -> tensor<?x16xf32>
    kernel.yield %0 : tensor<?x16xf32>
  }
  %xk = kernel.launch "ek"(%tokens, %ek) : (tensor<?xi32>, tensor<80x8xf32>) -> tensor<?x8xf32> attributes {kernel.offsets = array<i64: 256>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x8xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 256>} : tensor<80x8xf32> -> tensor<?x8xf32>
    kernel.yield %0 : tensor<?x8xf32>
  }
  %xv = kernel.launch "ev"(%tokens, %ev) : (tensor<?xi32>, tensor<80x8xf32>) -> tensor<?x8xf32> attributes {kernel.offsets = array<i64: 384>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x8xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 384>} : tensor<80x8xf32> -> tensor<?x8xf32>
    kernel.yield %0 : tensor<?x8xf32>
  }
  %r:2 = kernel.launch "rope+cache"(%xq, %xk, %xv, %pos, %c, %slots) : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>, tensor<?xi32>) -> (tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) attributes {kernel.offsets = array<i64: 640, -1>} {
  ^bb0(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %p: tensor<?xi32>, %cc: !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>, %s: tensor<?xi32>):
    %qh = llm.split_heads %q {kernel.offsets = array<i64: 0>} : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %kh = llm.split_heads %k {kernel.offsets = array<i64: 256>} : tensor<?x8xf32> -> tensor<?x1x8xf32>
    %vh = llm.split_heads %v {kernel.offsets = array<i64: 384>} : tensor<?x8xf32> -> tensor<?x1x8xf32>
    %qr = llm.rope <default, theta = 10000.0, dim = 8> %qh, %p {kernel.offsets = array<i64: 640>} : tensor<?x2x8xf32>
    %kr = llm.rope <default, theta = 10000.0, dim = 8> %kh, %p {kernel.offsets = array<i64: 512>} : tensor<?x1x8xf32>
    %cw = llm.kv_cache_write %kr, %vh into %cc at %s, %p {kernel.offsets = array<i64: -1>} : tensor<?x1x8xf32>, tensor<?x1x8xf32>, <kv_heads = 1, head_dim = 8, dtype = f32>
    kernel.yield %qr, %cw : tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>
  }
  return %r#0, %r#1 : tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>
}

func.func @rope_over_values(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) -> (tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) attributes {kernel.arena_bytes = 1024 : i64, kernel.max_tokens = 4 : i64} {
  %eq = llm.param "eq" : tensor<80x16xf32>
  %ek = llm.param "ek" : tensor<80x8xf32>
  %ev = llm.param "ev" : tensor<80x8xf32>
  %xq = kernel.launch "eq"(%tokens, %eq) : (tensor<?xi32>, tensor<80x16xf32>) -> tensor<?x16xf32> attributes {kernel.offsets = array<i64: 0>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x16xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 0>} : tensor<80x16xf32> -> tensor<?x16xf32>
    kernel.yield %0 : tensor<?x16xf32>
  }
  %xk = kernel.launch "ek"(%tokens, %ek) : (tensor<?xi32>, tensor<80x8xf32>) -> tensor<?x8xf32> attributes {kernel.offsets = array<i64: 256>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x8xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 256>} : tensor<80x8xf32> -> tensor<?x8xf32>
    kernel.yield %0 : tensor<?x8xf32>
  }
  %xv = kernel.launch "ev"(%tokens, %ev) : (tensor<?xi32>, tensor<80x8xf32>) -> tensor<?x8xf32> attributes {kernel.offsets = array<i64: 384>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x8xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 384>} : tensor<80x8xf32> -> tensor<?x8xf32>
    kernel.yield %0 : tensor<?x8xf32>
  }
  %r:2 = kernel.launch "rope+cache"(%xq, %xk, %xv, %pos, %c, %slots) : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>, tensor<?xi32>) -> (tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) attributes {kernel.offsets = array<i64: 384, -1>} {
  ^bb0(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %p: tensor<?xi32>, %cc: !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>, %s: tensor<?xi32>):
    %qh = llm.split_heads %q {kernel.offsets = array<i64: 0>} : tensor<?x16xf32> -> tensor<?x2x8xf32>
    %kh = llm.split_heads %k {kernel.offsets = array<i64: 256>} : tensor<?x8xf32> -> tensor<?x1x8xf32>
    %vh = llm.split_heads %v {kernel.offsets = array<i64: 384>} : tensor<?x8xf32> -> tensor<?x1x8xf32>
    %qr = llm.rope <default, theta = 10000.0, dim = 8> %qh, %p {kernel.offsets = array<i64: 384>} : tensor<?x2x8xf32>
    %kr = llm.rope <default, theta = 10000.0, dim = 8> %kh, %p {kernel.offsets = array<i64: 512>} : tensor<?x1x8xf32>
    %cw = llm.kv_cache_write %kr, %vh into %cc at %s, %p {kernel.offsets = array<i64: -1>} : tensor<?x1x8xf32>, tensor<?x1x8xf32>, <kv_heads = 1, head_dim = 8, dtype = f32>
    kernel.yield %qr, %cw : tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>
  }
  return %r#0, %r#1 : tensor<?x2x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>
}

func.func @linears_of_two_inputs(%tokens: tensor<?xi32>) -> (tensor<?x32xf32>, tensor<?x48xf32>) attributes {kernel.arena_bytes = 2048 : i64, kernel.max_tokens = 4 : i64} {
  %e = llm.param "embed" : tensor<80x64xf32>
  %w1 = llm.param "w1" : tensor<32x64xf32>
  %w2 = llm.param "w2" : tensor<48x64xf32>
  %x = kernel.launch "x"(%tokens, %e) : (tensor<?xi32>, tensor<80x64xf32>) -> tensor<?x64xf32> attributes {kernel.offsets = array<i64: 0>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x64xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 0>} : tensor<80x64xf32> -> tensor<?x64xf32>
    kernel.yield %0 : tensor<?x64xf32>
  }
  %x2 = kernel.launch "x2"(%tokens, %e) : (tensor<?xi32>, tensor<80x64xf32>) -> tensor<?x64xf32> attributes {kernel.offsets = array<i64: 1024>} {
  ^bb0(%t: tensor<?xi32>, %w: tensor<80x64xf32>):
    %0 = llm.embedding %t, %w {kernel.offsets = array<i64: 1024>} : tensor<80x64xf32> -> tensor<?x64xf32>
    kernel.yield %0 : tensor<?x64xf32>
  }
  %y:2 = kernel.launch "p1+p2"(%x, %x2, %w1, %w2) : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<32x64xf32>, tensor<48x64xf32>) -> (tensor<?x32xf32>, tensor<?x48xf32>) attributes {kernel.offsets = array<i64: 512, 1536>} {
  ^bb0(%a: tensor<?x64xf32>, %a2: tensor<?x64xf32>, %b1: tensor<32x64xf32>, %b2: tensor<48x64xf32>):
    %0 = llm.linear %a, %b1 {kernel.offsets = array<i64: 512>} : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %1 = llm.linear %a2, %b2 {kernel.offsets = array<i64: 1536>} : tensor<?x64xf32>, tensor<48x64xf32> -> tensor<?x48xf32>
    kernel.yield %0, %1 : tensor<?x32xf32>, tensor<?x48xf32>
  }
  return %y#0, %y#1 : tensor<?x32xf32>, tensor<?x48xf32>
}
