// RUN: llmc-opt %s --split-input-file --verify-diagnostics --kernel-lower="max-tokens=32 max-seq-len=64" | FileCheck %s
//
// A linear over an FP8-block weight runs gemv_e4m3 up to 16 tokens and
// gemm_mma_q on tensor cores past that (16-bit activations), passed the
// weight twice: its codes, then (scales) its f32 scales; over an int4
// weight in groups along its rows, gemv_i4 and gemm_mma_q (QFMT_I4). Other encodings (int4 blocks
// across rows) have no CUDA kernel yet and are refused
// by name.

// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @gemv_e4m3(%{{.+}}, %[[W:[^,]+]], %[[W]], %{{.+}}) {{.*}}entry = "linear_gemv_e4m3_n256_k384_b128x128_bf16_bf16"{{.*}}max_tokens = 16 : i32, min_tokens = 1 : i32, scales = array<i1: false, false, true, false>
// CHECK: kernel.call @gemm_mma_q(%{{.+}}, %[[W]], %[[W]], %{{.+}}) {{.*}}entry = "linear_gemm_mma_e4m3_n256_k384_b128x128_sf32_bf16"{{.*}}min_tokens = 17 : i32, scales = array<i1: false, false, true, false>{{.*}}template_args = [0, 256, 384, 128, 128, false, false, bf16, f32, f32, bf16]
func.func @prefill(%x: tensor<?x384xbf16>) -> tensor<?x256xbf16> attributes {llm.step = #llm.step<prefill>} {
  %w = llm.param "q_proj.weight" scales "q_proj.weight_scale_inv" : !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>
  %y = llm.linear %x, %w : tensor<?x384xbf16>, !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32> -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// An int4 weight in groups of 128 along its rows with f16 scales runs
// gemv_i4, the scales' type in the entry name.
// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @gemv_i4(%{{.+}}, %[[W:[^,]+]], %[[W]], %{{.+}}) {{.*}}entry = "linear_gemv_i4_n64_k256_g128_sf16_bf16_bf16"{{.*}}max_tokens = 16 : i32, min_tokens = 1 : i32, scales = array<i1: false, false, true, false>
// CHECK: kernel.call @gemm_mma_q({{.+}}) {{.*}}entry = "linear_gemm_mma_i4_n64_k256_b1x128_sf16_bf16"
func.func @prefill(%x: tensor<?x256xbf16>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %w = llm.param "o.qweight" scales "o.scales" : !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16>
  %y = llm.linear %x, %w : tensor<?x256xbf16>, !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

// An int8 weight with one f32 scale per row runs gemv_i8.
// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @gemv_i8(%{{.+}}, %[[W:[^,]+]], %[[W]], %{{.+}}) {{.*}}entry = "linear_gemv_i8_n64_k256_g256_sf32_bf16_bf16"
func.func @prefill(%x: tensor<?x256xbf16>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %w = llm.param "o.qweight" scales "o.scales" : !llm.qweight<shape = [64, 256], storage = i8, block = [1, 256], scale = f32>
  %y = llm.linear %x, %w : tensor<?x256xbf16>, !llm.qweight<shape = [64, 256], storage = i8, block = [1, 256], scale = f32> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

// Zero points: the weight a third time, marked in `zeros`.
// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @gemv_i4(%{{.+}}, %[[W:[^,]+]], %[[W]], %[[W]], %{{.+}}) {{.*}}entry = "linear_gemv_i4_n64_k256_g128_sf16_zp_bf16_bf16"{{.*}}scales = array<i1: false, false, true, false, false>{{.*}}zeros = array<i1: false, false, false, true, false>
func.func @prefill(%x: tensor<?x256xbf16>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %w = llm.param "o.qweight" scales "o.scales" zeros "o.qzeros" : !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4>
  %y = llm.linear %x, %w : tensor<?x256xbf16>, !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

func.func @prefill(%x: tensor<?x256xbf16>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %w = llm.param "o.qweight" scales "o.scales" : !llm.qweight<shape = [64, 256], storage = i4, block = [2, 128], scale = f16>
  // expected-error @+1 {{'llm.linear' op has a quantized weight ('!llm.qweight<shape = [64, 256], storage = i4, block = [2, 128], scale = f16>'): the CUDA kernels read}}
  %y = llm.linear %x, %w : tensor<?x256xbf16>, !llm.qweight<shape = [64, 256], storage = i4, block = [2, 128], scale = f16> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

// Quantized experts run the per-pair kernels up to 16 tokens and grouped
// GEMMs on tensor cores past that (scale blocks of whole k steps), each
// weight passed as its codes, then (scales) its scales: MXFP4 with e8m0
// scale bytes ...
// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @moe_gate_up_q({{.+}}, %[[GU:[^,]+]], %[[GU]], {{.+}}) {{.*}}entry = "moe_gate_up_mxfp4_e4_h64_i32_k2_b1x32_bf16_act0"{{.*}}scales = array<i1: false, false, false, true, false>
// CHECK: kernel.call @moe_down_q({{.+}}, %[[D:[^,]+]], %[[D]], {{.+}}) {{.*}}entry = "moe_down_mxfp4_e4_h64_i32_k2_b1x32_bf16_wf32"{{.*}}max_tokens = 16 : i32
// CHECK: kernel.call @moe_sort(
// CHECK: kernel.call @moe_gate_up_grouped_q({{.+}}, %[[GU]], %[[GU]], {{.+}}) {{.*}}entry = "moe_gate_up_grouped_mxfp4_e4_h64_i32_k2_b1x32_bf16_act0"{{.*}}min_tokens = 17 : i32, scales = array<i1: false, false, false, false, false, true, false>{{.*}}template_args = [4, 64, 32, 2, 0, 1, 1, 32, bf16, f8E8M0FNU]
// CHECK: kernel.call @moe_down_grouped_q({{.+}}, %[[D]], %[[D]], {{.+}}) {{.*}}entry = "moe_down_grouped_mxfp4_e4_h64_i32_k2_b1x32_bf16"
// CHECK: kernel.call @moe_combine(
func.func @prefill(%x: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %gu = llm.param "gu_blocks" scales "gu_scales" : !llm.qweight<shape = [4, 64, 64], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>
  %d = llm.param "d_blocks" scales "d_scales" : !llm.qweight<shape = [4, 64, 32], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %d : tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, !llm.qweight<shape = [4, 64, 64], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>, !llm.qweight<shape = [4, 64, 32], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

// ... and FP8 blocks with f32 scales, the block in the entry name.
// CHECK-LABEL: func.func @prefill
// CHECK: kernel.call @moe_gate_up_q({{.+}}) {{.*}}entry = "moe_gate_up_e4m3_e4_h64_i32_k2_b32x64_bf16_act0"
// CHECK: kernel.call @moe_down_q({{.+}}) {{.*}}entry = "moe_down_e4m3_e4_h64_i32_k2_b64x32_bf16_wf32"
func.func @prefill(%x: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %gu = llm.param "gu" scales "gu_s" : !llm.qweight<shape = [4, 64, 64], storage = f8E4M3FN, block = [1, 32, 64], scale = f32>
  %d = llm.param "d" scales "d_s" : !llm.qweight<shape = [4, 64, 32], storage = f8E4M3FN, block = [1, 64, 32], scale = f32>
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %d : tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, !llm.qweight<shape = [4, 64, 64], storage = f8E4M3FN, block = [1, 32, 64], scale = f32>, !llm.qweight<shape = [4, 64, 32], storage = f8E4M3FN, block = [1, 64, 32], scale = f32> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

// Integer experts have no CUDA kernel yet: refused by name.
func.func @prefill(%x: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x64xbf16> attributes {llm.step = #llm.step<prefill>} {
  %gu = llm.param "gu" scales "gu_s" : !llm.qweight<shape = [4, 64, 64], storage = i4, block = [1, 1, 32], scale = f16>
  %d = llm.param "d" scales "d_s" : !llm.qweight<shape = [4, 64, 32], storage = i4, block = [1, 1, 32], scale = f16>
  // expected-error @+1 {{has quantized experts (}}
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %d : tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, !llm.qweight<shape = [4, 64, 64], storage = i4, block = [1, 1, 32], scale = f16>, !llm.qweight<shape = [4, 64, 32], storage = i4, block = [1, 1, 32], scale = f16> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}
