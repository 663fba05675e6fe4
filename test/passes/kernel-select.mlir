// RUN: llmc-opt %s --split-input-file --kernel-lower="max-tokens=4 max-seq-len=512" | FileCheck %s --enable-var-scope
// RUN: llmc-opt %s --split-input-file --kernel-lower="max-tokens=32 max-seq-len=512" | FileCheck %s --check-prefix=PREFILL --enable-var-scope

// Decode steps of at most 4 tokens (GEMV only). The fusions: Q, K and V
// share one gemv_multi; the Q and K norms one rms_norm_pair; both RoPEs and
// the cache write one rope_kv_cache_write. Attention decodes split-KV into
// scratch, then combines; greedy sampling follows every launch.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: kernel.scratch_bytes = 2304
// CHECK: kernel.launch "q_proj+k_proj+v_proj"
// CHECK: kernel.call @gemv_multi({{.*}}) {args = ["num_tokens", 0, 1, f32, 2, 3, f32, 4, 5, f32, 6], block = 256 : i32, entry = "linear_gemv3_n64_n32_n32_k64_f32_f32_f32", grid = array<i32: 16, 1, 1>, hot, max_tokens = 0 : i32, min_tokens = 1 : i32, template_args = [64, 32, 32, 64, 8, 8, true, false, false, false, f32, f32, f32, f32]
// CHECK-SAME: writes = array<i1: false, false, true, false, true, false, true>
// CHECK-NOT: @gemv(
// CHECK: kernel.call @rms_norm_pair({{.*}}entry = "rms_norm2_s16_g4_g2_var3_f32_none_f32", grid = array<i32: 6, 1, 1>
// CHECK: kernel.call @rope_kv_cache_write({{.*}}entry = "rope_kv_cache_write_hq4_hk2_d16_r16_half_f32_f32_f32_f32_f32_f32_{{[0-9A-F]+}}"
// CHECK-SAME: inv_freq = array<f32: 1.000000e+00, 0.316227764,
// CHECK-NEXT: kernel.yield
// CHECK: kernel.launch "attn"
// CHECK: %[[S:.+]] = kernel.scratch offset 0 row_elems 0 : tensor<?xf32>
// CHECK: kernel.call @attn_decode_split({{.*}}, %[[S]]) {{.*}}entry = "attention_decode_split2_g2_h4_kv2_d16_w0_c0_f32_f32_f32_{{[0-9A-F]+}}", grid = array<i32: 2, 1, 2>, hot
// CHECK: kernel.call @attn_decode_combine(%[[S]], {{.*}}entry = "attention_decode_combine2_h4_d16_f32"
// CHECK: kernel.greedy
// CHECK: %[[P:.+]] = kernel.scratch offset 0 row_elems 0 : tensor<?xf32>
// CHECK: %[[T:.+]] = kernel.scratch offset 256 row_elems 1 : tensor<?xi32>
// CHECK: kernel.call @argmax_partial({{.*}}, %[[P]]) {{.*}}entry = "argmax_partial_v64_s1_f32"
// CHECK: kernel.call @argmax_final(%[[P]], %[[T]]) {{.*}}entry = "argmax_final_s1"
// CHECK: kernel.yield %[[T]]
// Steps of up to 32 tokens: each matmul also gets a GEMM for T > 16, and
// prefill attention runs flash attention over 16-token tiles.
// PREFILL-LABEL: func.func @decode
// PREFILL: kernel.call @gemv_multi({{.*}}max_tokens = 16 : i32, min_tokens = 1 : i32
// PREFILL: kernel.call @gemm_simt({{.*}}entry = "linear_gemm_simt_n64_k64_f32_f32_f32", grid = array<i32: 1, 1, 1>, hot, max_tokens = 0 : i32, min_tokens = 17 : i32, template_args = [64, 64, false, false, 0, f32, f32, f32, f32], token_axis = 1 : i32, tokens_per_block = 64 : i32
// PREFILL: kernel.call @gemm_simt({{.*}}entry = "linear_gemm_simt_n32_k64_f32_f32_f32"
// PREFILL: kernel.call @gemm_simt({{.*}}entry = "linear_gemm_simt_n32_k64_f32_f32_f32"
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>) -> (tensor<?x64xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>) attributes {llm.step = #llm.step<decode>} {
  %e = llm.param "embed" : tensor<80x64xf32>
  %wq = llm.param "q.weight" : tensor<64x64xf32>
  %wk = llm.param "k.weight" : tensor<32x64xf32>
  %wv = llm.param "v.weight" : tensor<32x64xf32>
  %x = llm.embedding %tokens, %e : tensor<80x64xf32> -> tensor<?x64xf32> loc("embed")
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("q_proj")
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32> loc("k_proj")
  %v = llm.linear %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32> loc("v_proj")
  %qh = llm.split_heads %q : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %kh = llm.split_heads %k : tensor<?x32xf32> -> tensor<?x2x16xf32>
  %vh = llm.split_heads %v : tensor<?x32xf32> -> tensor<?x2x16xf32>
  %qn = llm.rms_norm no_weight %qh eps 1.0e-06 : tensor<?x4x16xf32> loc("q_norm")
  %kn = llm.rms_norm no_weight %kh eps 1.0e-06 : tensor<?x2x16xf32> loc("k_norm")
  %qr = llm.rope <default, theta = 10000.0, dim = 16> %qn, %pos : tensor<?x4x16xf32> loc("q_rope")
  %kr = llm.rope <default, theta = 10000.0, dim = 16> %kn, %pos : tensor<?x2x16xf32> loc("k_rope")
  %c1 = llm.kv_cache_write %kr, %vh into %c at %slots, %pos : tensor<?x2x16xf32>, tensor<?x2x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32> loc("cache")
  %a = llm.attention %qr, %c1 at %slots, %pos scale 0.25 : tensor<?x4x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32> -> tensor<?x4x16xf32> loc("attn")
  %am = llm.merge_heads %a : tensor<?x4x16xf32> -> tensor<?x64xf32>
  return %am, %c1 : tensor<?x64xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>
}
