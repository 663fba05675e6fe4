// RUN: llmc-opt %s --kernel-lower="max-tokens=32 max-seq-len=64" | FileCheck %s
//
// Every llm op in the variants the families in scope need, in one toy model
// of two attention layers: every RMSNorm variant (per token and per head,
// Q and K norms in a row), biased and plain linears, both gated-linear
// forms (gated_linear, and linear + glu), each activation, add, softcap, an
// embedding scale, interleaved partial yarn RoPE (attention scaling 0.9),
// causal attention with a chunk and a score softcap, and sliding-window
// attention with sinks (gpt-oss) and Llama 4's temperature-tuned queries
// on a windowed cache; two Mixture-of-Experts blocks: a
// DeepSeek-V3-style router (sigmoid, correction bias, 2 of 4 groups, top 3,
// renormalized, scaled) with SiLU experts whose inputs the weights scale
// (Llama 4's scale_input), and gpt-oss's router (top 2 of the biased
// logits, softmax over those, weights in the activation type) with biased
// experts and the clamped SwiGLU (whose intermediate size 42 takes the
// scalar path), scaled per token by a
// sigmoid gate (Qwen2-MoE's shared_expert_gate); quantized linears (FP8
// blocks of 32 x 32, int4 groups of 32 along rows of 80 with f16 scales,
// the last group partial, and of 64 with bf16 scales, zero points and a
// bias; int8 rows
// with one f32 scale, and rows of 40 in f16-scaled groups of 16, the
// one-byte path); and a
// third attention
// layer of Multi-head Latent Attention (32 heads, latent 32, RoPE 8 on the
// trailing dims of 24-wide queries in fp32, values 12 wide) over a latent
// cache, in the expanded form and in the absorbed one.
//
// The tests of test/unit/codegen and test/emulation read it through
// test/support/TestModule.h: they set the element type `!dt` (f32, f16 or
// bf16), give it a @decode step (a copy of @prefill), run kernel-lower (not
// llm-optimize, whose fusions would take the glu and the last add apart),
// and compile, write and run the plan. Here, the selection of a 32-token
// step in f32.
// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @embedding({{.*}}entry = "embedding_v80_h64_f32_f32"
// CHECK: kernel.call @rms_norm({{.*}}entry = "rms_norm_s64_g1_var2_f32_f32_f32"
// CHECK: kernel.call @gemv_multi({{.*}}entry = "linear_gemv3_n64_n32_n32_k64_f32_f32_f32_bias100"{{.*}}max_tokens = 16
// CHECK: kernel.call @gemm_simt({{.*}}entry = "linear_gemm_simt_n64_k64_f32_f32_f32_bias"{{.*}}min_tokens = 17
// CHECK: kernel.call @rms_norm_pair({{.*}}entry = "rms_norm2_s16_g4_g2_var3_f32_none_f32"
// CHECK: kernel.call @rope_kv_cache_write({{.*}}entry = "rope_kv_cache_write_hq4_hk2_d16_r8_interleaved_f32_f32_f32_f32_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @kv_cache_write({{.*}}entry = "kv_cache_write_r32_f32_f32_f32"
// CHECK: kernel.call @attn_prefill({{.*}}entry = "attention_prefill_h4_kv2_d16_w0_c8_softcap_f32_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @attn_temperature({{.*}}entry = "attn_temperature_s64_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @attn_prefill({{.*}}entry = "attention_prefill_h4_kv2_d16_w6_c0_sinksf32_f32_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @rope({{.*}}entry = "rope_h32_d24_r8_o16_interleaved_fp32_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @latent_cache_write({{.*}}entry = "latent_cache_write_l32_r8_interleaved_fp32_f32_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @mla_absorb_query({{.*}}entry = "mla_absorb_query_h32_n16_r8_v12_l32_f32_f32_f32"
// CHECK: kernel.call @latent_attn_split({{.*}}entry = "latent_attn_split1_h32_l32_r8_g32_k16_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @attn_decode_combine({{.*}}entry = "attention_decode_combine1_h32_d32_f32"
// CHECK: kernel.call @mla_absorb_output({{.*}}entry = "mla_absorb_output_h32_l32_n16_v12_f32_f32_f32"
// CHECK: kernel.call @mla_absorb_query(
// CHECK: kernel.call @latent_attn_split(
// CHECK: kernel.call @mla_absorb_output(
// CHECK: kernel.call @add({{.*}}entry = "add_s64_f32_f32_f32"
// CHECK: kernel.call @add_rms_norm({{.*}}entry = "add_rms_norm_s64_var1_f32_f32_f32"
// CHECK: kernel.call @gemv_multi({{.*}}entry = "linear_gemv2_n96_n96_k64_f32_f32_f32"
// CHECK: kernel.call @glu({{.*}}entry = "glu_s96_f32_f32_f32"
// CHECK: kernel.call @gemv({{.*}}entry = "gated_linear_gemv_n96_k64_f32_f32_f32_act2"
// CHECK: kernel.call @add({{.*}}entry = "add_s96_f32_f32_f32"
// CHECK: kernel.call @moe_router({{.*}}entry = "moe_router_e8_h64_k3_sigmoid_f32_f32_f32logits_bias_g2of4_norm_wf32"
// CHECK: kernel.call @moe_scale_input({{.*}}entry = "moe_scale_input_h64_k3_f32_wf32"
// CHECK: kernel.call @moe_gate_up_shared({{.*}}entry = "moe_gate_up_shared_e8_h64_i32_k3_s48_f32_act0_sact0_pairs", grid = array<i32: 4, 6, 1>, hot, max_tokens = 16 : i32, min_tokens = 1 : i32
// CHECK: kernel.call @moe_down_shared({{.*}}entry = "moe_down_shared_e8_h64_i32_k3_s48_f32_wf32", grid = array<i32: 1, 8, 1>, hot, max_tokens = 16 : i32, min_tokens = 1 : i32
// CHECK: kernel.call @moe_gate_up({{.*}}entry = "moe_gate_up_e8_h64_i32_k3_f32_f32_act0_pairs"{{.*}}min_tokens = 17 : i32
// CHECK: kernel.call @moe_down({{.*}}entry = "moe_down_e8_h64_i32_k3_f32_f32_wf32"
// CHECK: kernel.call @moe_router({{.*}}entry = "moe_router_e6_h64_k2_topk_softmax_f32_f32_lbiasf32_wf32"
// CHECK: kernel.call @moe_gate_up({{.*}}entry = "moe_gate_up_e6_h64_i42_k2_f32_f32_act0_biasf32_oai_{{[0-9A-F]+}}"
// CHECK: kernel.call @moe_down({{.*}}entry = "moe_down_e6_h64_i42_k2_f32_f32_wf32_scalar_biasf32"
// CHECK: kernel.call @sigmoid_gate({{.*}}entry = "sigmoid_gate_h64_n64_f32_f32_f32"
// CHECK: kernel.launch "moe_experts3+shared_expert3+shared_expert3_gate"
// CHECK: kernel.call @moe_gate_up_shared({{.*}}entry = "moe_gate_up_shared_e6_h64_i32_k2_s36_f32_act0_sact1"
// CHECK: kernel.call @moe_down_shared({{.*}}entry = "moe_down_shared_e6_h64_i32_k2_s36_f32_wf32_sgatef32"
// CHECK: kernel.call @gemm_simt({{.*}}entry = "gated_linear_gemm_simt_n36_k64_f32_f32_f32_act1"{{.*}}min_tokens = 17 : i32
// CHECK: kernel.call @sigmoid_gate({{.*}}min_tokens = 17 : i32
// CHECK: kernel.call @add({{.*}}min_tokens = 17 : i32
// CHECK: kernel.call @gemv_e4m3({{.*}}entry = "linear_gemv_e4m3_n80_k64_b32x32_f32_f32"{{.*}}min_tokens = 1 : i32
// CHECK: kernel.call @gemv_i4({{.*}}entry = "linear_gemv_i4_n64_k80_g32_sf16_f32_f32"{{.*}}min_tokens = 1 : i32, scales = array<i1: false, false, true, false>
// CHECK: kernel.call @gemv_i4({{.*}}entry = "linear_gemv_i4_n64_k64_g64_sbf16_zp_f32_f32_biasf32"
// CHECK: kernel.call @gemv_i8({{.*}}entry = "linear_gemv_i8_n40_k64_g64_sf32_f32_f32"
// CHECK: kernel.call @gemv_i8({{.*}}entry = "linear_gemv_i8_n64_k40_g16_sf16_f32_f32"
// CHECK: kernel.call @add({{.*}}entry = "add_s64_f32_f32_f32"
// CHECK: kernel.call @softcap({{.*}}entry = "softcap_s64_f32_f32_{{[0-9A-F]+}}"
// CHECK: kernel.call @rms_norm({{.*}}entry = "rms_norm_s64_g1_var0_f32_f32_f32"
// CHECK: kernel.call @gemv({{.*}}entry = "lm_head_gemv_n80_k64_f32_f32_f32"
// CHECK: kernel.greedy
// CHECK: kernel.call @argmax_partial({{.*}}entry = "argmax_partial_v80_s1_f32"
!dt = f32
module attributes {llm.model = #llm.model<family = "llmc_all_ops", vocab_size = 80, hidden_size = 64, num_layers = 3, max_position_embeddings = 64, dtype = !dt>} {
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>,
                   %c0: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt>,
                   %c1: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt, window = 6>,
                   %c2: !llm.latent_cache<latent_dim = 32, rope_dim = 8, dtype = !dt>)
    -> (tensor<?x80x!dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt>,
        !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt, window = 6>,
        !llm.latent_cache<latent_dim = 32, rope_dim = 8, dtype = !dt>)
    attributes {llm.step = #llm.step<prefill>} {
  %embed = llm.param "embed.weight" : tensor<80x64x!dt>
  %h0 = llm.embedding %tokens, %embed scale 2.0 : tensor<80x64x!dt> -> tensor<?x64x!dt> loc("embed")
  %in_norm = llm.param "in_norm.weight" : tensor<64x!dt>
  %x = llm.rms_norm one_plus_weight %h0, %in_norm eps 1.0e-06 : tensor<?x64x!dt>, tensor<64x!dt> loc("in_norm")

  %wq = llm.param "q_proj.weight" : tensor<64x64x!dt>
  %bq = llm.param "q_proj.bias" : tensor<64x!dt>
  %wk = llm.param "k_proj.weight" : tensor<32x64x!dt>
  %wv = llm.param "v_proj.weight" : tensor<32x64x!dt>
  %q = llm.linear %x, %wq, %bq : tensor<?x64x!dt>, tensor<64x64x!dt>, tensor<64x!dt> -> tensor<?x64x!dt> loc("q_proj")
  %k = llm.linear %x, %wk : tensor<?x64x!dt>, tensor<32x64x!dt> -> tensor<?x32x!dt> loc("k_proj")
  %v = llm.linear %x, %wv : tensor<?x64x!dt>, tensor<32x64x!dt> -> tensor<?x32x!dt> loc("v_proj")
  %qh = llm.split_heads %q : tensor<?x64x!dt> -> tensor<?x4x16x!dt>
  %kh = llm.split_heads %k : tensor<?x32x!dt> -> tensor<?x2x16x!dt>
  %vh = llm.split_heads %v : tensor<?x32x!dt> -> tensor<?x2x16x!dt>
  %qn = llm.rms_norm no_weight %qh eps 1.0e-06 : tensor<?x4x16x!dt> loc("q_norm")
  %kn = llm.rms_norm no_weight %kh eps 1.0e-06 : tensor<?x2x16x!dt> loc("k_norm")
  %qr = llm.rope #llm.rope<yarn, theta = 10000.0, dim = 8, layout = interleaved, factor = 4.0, original_max_position = 16, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 0.9, truncate = true> %qn, %pos : tensor<?x4x16x!dt> loc("q_rope")
  %kr = llm.rope #llm.rope<yarn, theta = 10000.0, dim = 8, layout = interleaved, factor = 4.0, original_max_position = 16, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 0.9, truncate = true> %kn, %pos : tensor<?x2x16x!dt> loc("k_rope")
  %c0w = llm.kv_cache_write %kr, %vh into %c0 at %slots, %pos : tensor<?x2x16x!dt>, tensor<?x2x16x!dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt> loc("cache0")
  %c1w = llm.kv_cache_write %kr, %vh into %c1 at %slots, %pos : tensor<?x2x16x!dt>, tensor<?x2x16x!dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt, window = 6> loc("cache1")
  %ac = llm.attention %qr, %c0w at %slots, %pos scale 0.25 {chunk = 8 : i64, softcap = 20.0 : f64} : tensor<?x4x16x!dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt> -> tensor<?x4x16x!dt> loc("attn_chunked")
  %sinks = llm.param "sinks" : tensor<4x!dt>
  %qt = llm.attn_temperature %qr, %pos floor_scale 4.0 scale 0.1 : tensor<?x4x16x!dt> loc("q_temperature")
  %aw = llm.attention %qt, %c1w at %slots, %pos sinks %sinks scale 0.25 {window = 6 : i64} : tensor<?x4x16x!dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt, window = 6>, tensor<4x!dt> -> tensor<?x4x16x!dt> loc("attn_window")
  %acm = llm.merge_heads %ac : tensor<?x4x16x!dt> -> tensor<?x64x!dt>
  %awm = llm.merge_heads %aw : tensor<?x4x16x!dt> -> tensor<?x64x!dt>
  %a = llm.add %acm, %awm : tensor<?x64x!dt> loc("attn_sum")
  %wo = llm.param "o_proj.weight" : tensor<64x64x!dt>
  %o0 = llm.linear %a, %wo : tensor<?x64x!dt>, tensor<64x64x!dt> -> tensor<?x64x!dt> loc("o_proj")

  %wmq = llm.param "mla.q_proj.weight" : tensor<768x64x!dt>
  %mq = llm.linear %x, %wmq : tensor<?x64x!dt>, tensor<768x64x!dt> -> tensor<?x768x!dt> loc("mla.q_proj")
  %mqh = llm.split_heads %mq : tensor<?x768x!dt> -> tensor<?x32x24x!dt>
  // Unit-scale queries keep the scores of the f16 test in range.
  %mqn = llm.rms_norm no_weight %mqh eps 1.0e-06 : tensor<?x32x24x!dt> loc("mla.q_norm")
  %mqr = llm.rope #llm.rope<default, theta = 10000.0, dim = 8, layout = interleaved> %mqn, %pos offset 16 fp32 : tensor<?x32x24x!dt> loc("mla.q_rope")
  %wkva = llm.param "mla.kv_a_proj_with_mqa.weight" : tensor<40x64x!dt>
  %kva = llm.linear %x, %wkva : tensor<?x64x!dt>, tensor<40x64x!dt> -> tensor<?x40x!dt> loc("mla.kv_a_proj_with_mqa")
  %kvan = llm.param "mla.kv_a_layernorm.weight" : tensor<32x!dt>
  %c2w = llm.latent_cache_write %kva, %kvan into %c2 at %slots, %pos rope #llm.rope<default, theta = 10000.0, dim = 8, layout = interleaved> eps 1.0e-06 fp32 : tensor<?x40x!dt>, tensor<32x!dt>, !llm.latent_cache<latent_dim = 32, rope_dim = 8, dtype = !dt> loc("mla.kv_a_layernorm")
  %kvb = llm.param "mla.kv_b_proj.weight" : tensor<896x32x!dt>
  %ma = llm.mla_attention %mqr, %c2w, %kvb at %slots, %pos scale 0.05 : tensor<?x32x24x!dt>, !llm.latent_cache<latent_dim = 32, rope_dim = 8, dtype = !dt>, tensor<896x32x!dt> -> tensor<?x32x12x!dt> loc("mla_expanded")
  %mql = llm.mla_absorb_query %mqr, %kvb : tensor<?x32x24x!dt>, tensor<896x32x!dt> -> tensor<?x32x40xf32> loc("mla_absorb_query")
  %mol = llm.latent_attention %mql, %c2w at %slots, %pos scale 0.05 : tensor<?x32x40xf32>, !llm.latent_cache<latent_dim = 32, rope_dim = 8, dtype = !dt> -> tensor<?x32x32xf32> loc("latent_attention")
  %mb = llm.mla_absorb_output %mol, %kvb : tensor<?x32x32xf32>, tensor<896x32x!dt> -> tensor<?x32x12x!dt> loc("mla_absorb_output")
  %mab = llm.add %ma, %mb : tensor<?x32x12x!dt> loc("mla_sum")
  %mam = llm.merge_heads %mab : tensor<?x32x12x!dt> -> tensor<?x384x!dt>
  %wmo = llm.param "mla.o_proj.weight" : tensor<64x384x!dt>
  %mo = llm.linear %mam, %wmo : tensor<?x384x!dt>, tensor<64x384x!dt> -> tensor<?x64x!dt> loc("mla.o_proj")
  %o = llm.add %o0, %mo : tensor<?x64x!dt> loc("attn_layers_sum")

  %post_norm = llm.param "post_norm.weight" : tensor<64x!dt>
  %normed, %sum = llm.add_rms_norm weight_in_fp32 %o, %h0, %post_norm eps 1.0e-05 : tensor<?x64x!dt>, tensor<64x!dt> loc("post_norm")
  %wg = llm.param "gate_proj.weight" : tensor<96x64x!dt>
  %wu = llm.param "up_proj.weight" : tensor<96x64x!dt>
  %g = llm.linear %normed, %wg : tensor<?x64x!dt>, tensor<96x64x!dt> -> tensor<?x96x!dt> loc("gate_proj")
  %u = llm.linear %normed, %wu : tensor<?x64x!dt>, tensor<96x64x!dt> -> tensor<?x96x!dt> loc("up_proj")
  %m = llm.glu gelu_tanh %g, %u : tensor<?x96x!dt> loc("glu")
  %wg2 = llm.param "gate2_proj.weight" : tensor<96x64x!dt>
  %wu2 = llm.param "up2_proj.weight" : tensor<96x64x!dt>
  %m2 = llm.gated_linear gelu %normed, %wg2, %wu2 : tensor<?x64x!dt>, tensor<96x64x!dt>, tensor<96x64x!dt> -> tensor<?x96x!dt> loc("gated_linear")
  %m3 = llm.add %m, %m2 : tensor<?x96x!dt> loc("mlp_sum")
  %wd = llm.param "down_proj.weight" : tensor<64x96x!dt>
  %d = llm.linear %m3, %wd : tensor<?x96x!dt>, tensor<64x96x!dt> -> tensor<?x64x!dt> loc("down_proj")
  %wr = llm.param "router.weight" : tensor<8x64x!dt>
  %br = llm.param "router.e_score_correction_bias" : tensor<8xf32>
  %rw, %ri = llm.moe_router sigmoid %normed, %wr, %br top_k 3 groups 4 top_groups 2 logits_in_fp32 normalize epsilon 1.0e-20 scaling 2.0 : tensor<?x64x!dt>, tensor<8x64x!dt>, tensor<8xf32> -> tensor<?x3xf32>, tensor<?x3xi32> loc("moe_router")
  %egu = llm.param "experts.gate_up_proj" : tensor<8x64x64x!dt>
  %edn = llm.param "experts.down_proj" : tensor<8x64x32x!dt>
  %e = llm.moe_experts silu %normed, %rw, %ri, %egu, %edn scale_input : tensor<?x64x!dt>, tensor<?x3xf32>, tensor<?x3xi32>, tensor<8x64x64x!dt>, tensor<8x64x32x!dt> -> tensor<?x64x!dt> loc("moe_experts")
  %sgw = llm.param "shared_expert.gate_proj.weight" : tensor<48x64x!dt>
  %suw = llm.param "shared_expert.up_proj.weight" : tensor<48x64x!dt>
  %sm = llm.gated_linear silu %normed, %sgw, %suw : tensor<?x64x!dt>, tensor<48x64x!dt>, tensor<48x64x!dt> -> tensor<?x48x!dt> loc("shared_expert.gate_proj")
  %sdw = llm.param "shared_expert.down_proj.weight" : tensor<64x48x!dt>
  %sd = llm.linear %sm, %sdw : tensor<?x48x!dt>, tensor<64x48x!dt> -> tensor<?x64x!dt> loc("shared_expert.down_proj")
  %es = llm.add %e, %sd : tensor<?x64x!dt> loc("moe_shared_sum")
  %wr2 = llm.param "router2.weight" : tensor<6x64x!dt>
  %br2 = llm.param "router2.bias" : tensor<6x!dt>
  %rw2, %ri2 = llm.moe_router softmax_top_k %normed, %wr2 logit_bias(%br2 : tensor<6x!dt>) top_k 2 : tensor<?x64x!dt>, tensor<6x64x!dt> -> tensor<?x2x!dt>, tensor<?x2xi32> loc("moe_router2")
  %egu2 = llm.param "experts2.gate_up_proj" : tensor<6x84x64x!dt>
  %edn2 = llm.param "experts2.down_proj" : tensor<6x64x42x!dt>
  %gub2 = llm.param "experts2.gate_up_proj_bias" : tensor<6x84x!dt>
  %dnb2 = llm.param "experts2.down_proj_bias" : tensor<6x64x!dt>
  %e2 = llm.moe_experts silu %normed, %rw2, %ri2, %egu2, %edn2 biases %gub2, %dnb2 swiglu_limit 1.5 alpha 1.702 : tensor<?x64x!dt>, tensor<?x2x!dt>, tensor<?x2xi32>, tensor<6x84x64x!dt>, tensor<6x64x42x!dt>, tensor<6x84x!dt>, tensor<6x64x!dt> -> tensor<?x64x!dt> loc("moe_experts2")
  %wsg = llm.param "shared_expert_gate.weight" : tensor<1x64x!dt>
  %e2g = llm.sigmoid_gate %normed, %wsg, %e2 : tensor<?x64x!dt>, tensor<1x64x!dt>, tensor<?x64x!dt> loc("shared_expert_gate")
  %wr3 = llm.param "router3.weight" : tensor<6x64x!dt>
  %rw3, %ri3 = llm.moe_router softmax %normed, %wr3 top_k 2 : tensor<?x64x!dt>, tensor<6x64x!dt> -> tensor<?x2x!dt>, tensor<?x2xi32> loc("moe_router3")
  %egu3 = llm.param "experts3.gate_up_proj" : tensor<6x64x64x!dt>
  %edn3 = llm.param "experts3.down_proj" : tensor<6x64x32x!dt>
  %e3 = llm.moe_experts silu %normed, %rw3, %ri3, %egu3, %edn3 : tensor<?x64x!dt>, tensor<?x2x!dt>, tensor<?x2xi32>, tensor<6x64x64x!dt>, tensor<6x64x32x!dt> -> tensor<?x64x!dt> loc("moe_experts3")
  %sgw3 = llm.param "shared_expert3.gate_proj.weight" : tensor<36x64x!dt>
  %suw3 = llm.param "shared_expert3.up_proj.weight" : tensor<36x64x!dt>
  %sm3 = llm.gated_linear gelu_tanh %normed, %sgw3, %suw3 : tensor<?x64x!dt>, tensor<36x64x!dt>, tensor<36x64x!dt> -> tensor<?x36x!dt> loc("shared_expert3.gate_proj")
  %sdw3 = llm.param "shared_expert3.down_proj.weight" : tensor<64x36x!dt>
  %sd3 = llm.linear %sm3, %sdw3 : tensor<?x36x!dt>, tensor<64x36x!dt> -> tensor<?x64x!dt> loc("shared_expert3.down_proj")
  %wsg3 = llm.param "shared_expert3_gate.weight" : tensor<1x64x!dt>
  %sg3 = llm.sigmoid_gate %normed, %wsg3, %sd3 : tensor<?x64x!dt>, tensor<1x64x!dt>, tensor<?x64x!dt> loc("shared_expert3_gate")
  %es3 = llm.add %sg3, %e3 : tensor<?x64x!dt> loc("moe_shared_sum3")
  %de = llm.add %d, %es : tensor<?x64x!dt> loc("moe_sum")
  %de2 = llm.add %de, %e2g : tensor<?x64x!dt> loc("moe_sum2")
  %de3 = llm.add %de2, %es3 : tensor<?x64x!dt> loc("moe_sum3")
  %qw1 = llm.param "quant_fp8.weight" scales "quant_fp8.weight_scale_inv" : !llm.qweight<shape = [80, 64], storage = f8E4M3FN, block = [32, 32], scale = f32>
  %q1 = llm.linear %de3, %qw1 : tensor<?x64x!dt>, !llm.qweight<shape = [80, 64], storage = f8E4M3FN, block = [32, 32], scale = f32> -> tensor<?x80x!dt> loc("quant_fp8")
  %qw2 = llm.param "quant_i4.weight" scales "quant_i4.weight_scale" : !llm.qweight<shape = [64, 80], storage = i4, block = [1, 32], scale = f16>
  %q2 = llm.linear %q1, %qw2 : tensor<?x80x!dt>, !llm.qweight<shape = [64, 80], storage = i4, block = [1, 32], scale = f16> -> tensor<?x64x!dt> loc("quant_i4")
  %qw3 = llm.param "quant_i4_wide.weight" scales "quant_i4_wide.weight_scale" zeros "quant_i4_wide.weight_zero_point" : !llm.qweight<shape = [64, 64], storage = i4, block = [1, 64], scale = bf16, zero = i4>
  %qb3 = llm.param "quant_i4_wide.bias" : tensor<64x!dt>
  %q3 = llm.linear %q2, %qw3, %qb3 : tensor<?x64x!dt>, !llm.qweight<shape = [64, 64], storage = i4, block = [1, 64], scale = bf16, zero = i4>, tensor<64x!dt> -> tensor<?x64x!dt> loc("quant_i4_wide")
  %qw4 = llm.param "quant_i8.weight" scales "quant_i8.weight_scale" : !llm.qweight<shape = [40, 64], storage = i8, block = [1, 64], scale = f32>
  %q4 = llm.linear %q3, %qw4 : tensor<?x64x!dt>, !llm.qweight<shape = [40, 64], storage = i8, block = [1, 64], scale = f32> -> tensor<?x40x!dt> loc("quant_i8")
  %qw5 = llm.param "quant_i8_narrow.weight" scales "quant_i8_narrow.weight_scale" : !llm.qweight<shape = [64, 40], storage = i8, block = [1, 16], scale = f16>
  %q5 = llm.linear %q4, %qw5 : tensor<?x40x!dt>, !llm.qweight<shape = [64, 40], storage = i8, block = [1, 16], scale = f16> -> tensor<?x64x!dt> loc("quant_i8_narrow")
  %de4 = llm.add %de3, %q5 : tensor<?x64x!dt> loc("quant_sum")
  %dc = llm.softcap %de4 cap 5.0 : tensor<?x64x!dt> loc("softcap")
  %r = llm.add %dc, %sum : tensor<?x64x!dt> loc("residual")
  %final_norm = llm.param "final_norm.weight" : tensor<64x!dt>
  %f = llm.rms_norm cast_before_weight %r, %final_norm eps 1.0e-05 : tensor<?x64x!dt>, tensor<64x!dt> loc("final_norm")
  %lm = llm.param "lm_head.weight" : tensor<80x64x!dt>
  %logits = llm.lm_head %f, %lm : tensor<?x64x!dt>, tensor<80x64x!dt> -> tensor<?x80x!dt> loc("lm_head")
  return %logits, %c0w, %c1w, %c2w : tensor<?x80x!dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = !dt, window = 6>, !llm.latent_cache<latent_dim = 32, rope_dim = 8, dtype = !dt>
}
}
