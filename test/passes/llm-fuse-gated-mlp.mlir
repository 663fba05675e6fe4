// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-fuse-gated-mlp))' | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @fuse
// CHECK-SAME: (%[[X:.+]]: tensor<?x16xbf16>, %[[WG:.+]]: tensor<48x16xbf16>, %[[WU:.+]]: tensor<48x16xbf16>)
func.func @fuse(%x: tensor<?x16xbf16>, %wg: tensor<48x16xbf16>, %wu: tensor<48x16xbf16>) -> tensor<?x48xbf16> {
  // CHECK-NOT: llm.linear
  // CHECK: %[[M:.+]] = llm.gated_linear silu %[[X]], %[[WG]], %[[WU]] : tensor<?x16xbf16>, tensor<48x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  // CHECK-NOT: llm.glu
  // CHECK: return %[[M]]
  %g = llm.linear %x, %wg : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %u = llm.linear %x, %wu : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %m = llm.glu silu %g, %u : tensor<?x48xbf16>
  return %m : tensor<?x48xbf16>
}

// -----

// Biased projections (llama mlp_bias) are not fused.
// CHECK-LABEL: func.func @bias
func.func @bias(%x: tensor<?x16xbf16>, %wg: tensor<48x16xbf16>, %wu: tensor<48x16xbf16>, %b: tensor<48xbf16>) -> tensor<?x48xbf16> {
  // CHECK: llm.linear
  // CHECK: llm.linear
  // CHECK: llm.glu silu
  %g = llm.linear %x, %wg, %b : tensor<?x16xbf16>, tensor<48x16xbf16>, tensor<48xbf16> -> tensor<?x48xbf16>
  %u = llm.linear %x, %wu : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %m = llm.glu silu %g, %u : tensor<?x48xbf16>
  return %m : tensor<?x48xbf16>
}

// -----

// Projections of different inputs, or with another use, stay as they are.
// CHECK-LABEL: func.func @not_fusable
func.func @not_fusable(%x: tensor<?x16xbf16>, %y: tensor<?x16xbf16>, %wg: tensor<48x16xbf16>, %wu: tensor<48x16xbf16>) -> (tensor<?x48xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>) {
  // CHECK-NOT: llm.gated_linear
  %g = llm.linear %x, %wg : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %u = llm.linear %y, %wu : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %m = llm.glu gelu_tanh %g, %u : tensor<?x48xbf16>
  %g2 = llm.linear %x, %wg : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %u2 = llm.linear %x, %wu : tensor<?x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %m2 = llm.glu silu %g2, %u2 : tensor<?x48xbf16>
  return %m, %m2, %g2 : tensor<?x48xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>
}

// -----

// Quantized gate and up weights stay two linears: llm.gated_linear takes
// dense weights only.
// CHECK-LABEL: func.func @quantized
// CHECK: llm.linear
// CHECK: llm.linear
// CHECK: llm.glu silu
// CHECK-NOT: llm.gated_linear
func.func @quantized(%x: tensor<?x64xbf16>) -> tensor<?x96xbf16> {
  %wg = llm.param "gate.weight" scales "gate.scales" : !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32>
  %wu = llm.param "up.weight" scales "up.scales" : !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32>
  %g = llm.linear %x, %wg : tensor<?x64xbf16>, !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32> -> tensor<?x96xbf16>
  %u = llm.linear %x, %wu : tensor<?x64xbf16>, !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32> -> tensor<?x96xbf16>
  %m = llm.glu silu %g, %u : tensor<?x96xbf16>
  return %m : tensor<?x96xbf16>
}
