// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @layer_norm
func.func @layer_norm(%x: tensor<?x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  // CHECK: llm.layer_norm %{{.+}}, %{{.+}}, %{{.+}} eps 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %y = llm.layer_norm %x, %w, %b eps 1.0e-5 : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  // CHECK: llm.layer_norm %{{.+}}, %{{.+}} eps 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>
  %z = llm.layer_norm %x, %w eps 1.0e-5 : tensor<?x16xf32>, tensor<16xf32>
  return %y, %z : tensor<?x16xf32>, tensor<?x16xf32>
}
