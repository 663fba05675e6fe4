// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @lm_head
func.func @lm_head(%h: tensor<?x16xbf16>, %w: tensor<32x16xbf16>) -> tensor<?x32xbf16> {
  // CHECK: llm.lm_head %{{.+}}, %{{.+}} : tensor<?x16xbf16>, tensor<32x16xbf16> -> tensor<?x32xbf16>
  %l = llm.lm_head %h, %w : tensor<?x16xbf16>, tensor<32x16xbf16> -> tensor<?x32xbf16>
  return %l : tensor<?x32xbf16>
}
