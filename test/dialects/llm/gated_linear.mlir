// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @gated_linear
func.func @gated_linear(%x: tensor<?x16xbf16>, %wg: tensor<48x16xbf16>, %wu: tensor<48x16xbf16>) -> tensor<?x48xbf16> {
  // CHECK: llm.gated_linear gelu_tanh %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x16xbf16>, tensor<48x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  %m = llm.gated_linear gelu_tanh %x, %wg, %wu : tensor<?x16xbf16>, tensor<48x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  return %m : tensor<?x48xbf16>
}
