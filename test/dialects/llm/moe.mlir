// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// A DeepSeek-V3-style router (sigmoid, correction bias, 2 of 4 groups, top 3,
// renormalized, scaled), the routed experts over stacked weights, and
// Qwen2-MoE's sigmoid-gated shared expert; all round-trip.
// CHECK-LABEL: func.func @moe
func.func @moe(%x: tensor<?x64xbf16>, %s: tensor<?x64xbf16>) -> (tensor<?x64xbf16>, tensor<?x64xbf16>) {
  // CHECK: llm.param "mlp.gate.weight" : tensor<8x64xbf16>
  %g = llm.param "mlp.gate.weight" : tensor<8x64xbf16>
  %b = llm.param "mlp.gate.e_score_correction_bias" : tensor<8xf32>
  // CHECK: %{{.+}}, %{{.+}} = llm.moe_router sigmoid %{{.+}}, %{{.+}}, %{{.+}} top_k 3 groups 4 top_groups 2 logits_in_fp32 normalize epsilon 9.9999999999999995E-21 scaling 2.500000e+00 : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32> -> tensor<?x3xf32>, tensor<?x3xi32>
  %w, %ids = llm.moe_router sigmoid %x, %g, %b top_k 3 groups 4 top_groups 2 logits_in_fp32 normalize epsilon 1.0e-20 scaling 2.5 : tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32> -> tensor<?x3xf32>, tensor<?x3xi32>
  // CHECK: llm.param "mlp.experts.gate_up_proj" stacked ["mlp.experts.0.gate_proj.weight", "mlp.experts.0.up_proj.weight", "mlp.experts.1.gate_proj.weight", "mlp.experts.1.up_proj.weight"] : tensor<2x96x64xbf16>
  %gu2 = llm.param "mlp.experts.gate_up_proj" stacked ["mlp.experts.0.gate_proj.weight", "mlp.experts.0.up_proj.weight", "mlp.experts.1.gate_proj.weight", "mlp.experts.1.up_proj.weight"] : tensor<2x96x64xbf16>
  %gu = llm.param "gate_up" : tensor<8x96x64xbf16>
  %dn = llm.param "down" : tensor<8x64x48xbf16>
  // CHECK: llm.moe_experts silu %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x64xbf16>, tensor<?x3xf32>, tensor<?x3xi32>, tensor<8x96x64xbf16>, tensor<8x64x48xbf16> -> tensor<?x64xbf16>
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %dn : tensor<?x64xbf16>, tensor<?x3xf32>, tensor<?x3xi32>, tensor<8x96x64xbf16>, tensor<8x64x48xbf16> -> tensor<?x64xbf16>
  %sg = llm.param "mlp.shared_expert_gate.weight" : tensor<1x64xbf16>
  // CHECK: llm.sigmoid_gate %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x64xbf16>, tensor<1x64xbf16>, tensor<?x64xbf16>
  %z = llm.sigmoid_gate %x, %sg, %s : tensor<?x64xbf16>, tensor<1x64xbf16>, tensor<?x64xbf16>
  return %y, %z : tensor<?x64xbf16>, tensor<?x64xbf16>
}

// -----

// CHECK-LABEL: func.func @softmax_router
func.func @softmax_router(%x: tensor<?x32xf32>) -> tensor<?x2xi32> {
  %g = llm.param "gate" : tensor<6x32xf32>
  // CHECK: llm.moe_router softmax %{{.+}}, %{{.+}} top_k 2 : tensor<?x32xf32>, tensor<6x32xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  %w, %ids = llm.moe_router softmax %x, %g top_k 2 : tensor<?x32xf32>, tensor<6x32xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %ids : tensor<?x2xi32>
}

// -----

// gpt-oss: top-k of the biased logits, softmax over those; experts stored
// for x W with interleaved gate/up columns, biased, clamped SwiGLU.
// Llama 4: the weights scale the experts' inputs.
// CHECK-LABEL: func.func @gpt_oss_and_llama4
func.func @gpt_oss_and_llama4(%x: tensor<?x64xbf16>) -> (tensor<?x64xbf16>, tensor<?x64xbf16>) {
  %g = llm.param "mlp.router.weight" : tensor<4x64xbf16>
  %b = llm.param "mlp.router.bias" : tensor<4xbf16>
  // CHECK: llm.moe_router softmax_top_k %{{.+}}, %{{.+}} logit_bias(%{{.+}} : tensor<4xbf16>) top_k 2 : tensor<?x64xbf16>, tensor<4x64xbf16> -> tensor<?x2xbf16>, tensor<?x2xi32>
  %w, %ids = llm.moe_router softmax_top_k %x, %g logit_bias(%b : tensor<4xbf16>) top_k 2 : tensor<?x64xbf16>, tensor<4x64xbf16> -> tensor<?x2xbf16>, tensor<?x2xi32>
  // CHECK: llm.param "mlp.experts.gate_up_proj" transposed interleaved : tensor<4x64x64xbf16>
  %gu = llm.param "mlp.experts.gate_up_proj" transposed interleaved : tensor<4x64x64xbf16>
  %dn = llm.param "mlp.experts.down_proj" transposed : tensor<4x64x32xbf16>
  %gub = llm.param "mlp.experts.gate_up_proj_bias" interleaved : tensor<4x64xbf16>
  %dnb = llm.param "mlp.experts.down_proj_bias" : tensor<4x64xbf16>
  // CHECK: llm.moe_experts silu {{.+}} biases %{{.+}}, %{{.+}} swiglu_limit 7.000000e+00 alpha 1.702000e+00 : tensor<?x64xbf16>, tensor<?x2xbf16>, tensor<?x2xi32>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<4x64xbf16>, tensor<4x64xbf16> -> tensor<?x64xbf16>
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %dn biases %gub, %dnb swiglu_limit 7.0 alpha 1.702 : tensor<?x64xbf16>, tensor<?x2xbf16>, tensor<?x2xi32>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16>, tensor<4x64xbf16>, tensor<4x64xbf16> -> tensor<?x64xbf16>
  // CHECK: llm.moe_experts silu {{.+}} scale_input :
  %z = llm.moe_experts silu %x, %w, %ids, %gu, %dn scale_input : tensor<?x64xbf16>, tensor<?x2xbf16>, tensor<?x2xi32>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16> -> tensor<?x64xbf16>
  return %y, %z : tensor<?x64xbf16>, tensor<?x64xbf16>
}
