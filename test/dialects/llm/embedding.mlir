// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[T:.+]]: tensor<?xi32>, %[[E:.+]]: tensor<32x16xbf16>)
func.func @embedding(%tokens: tensor<?xi32>, %table: tensor<32x16xbf16>) -> tensor<?x16xbf16> {
  // CHECK: llm.embedding %[[T]], %[[E]] : tensor<32x16xbf16> -> tensor<?x16xbf16>
  %h = llm.embedding %tokens, %table : tensor<32x16xbf16> -> tensor<?x16xbf16>
  return %h : tensor<?x16xbf16>
}

// -----

// CHECK-LABEL: func.func @embedding_scaled
func.func @embedding_scaled(%tokens: tensor<?xi32>, %table: tensor<32x16xbf16>) -> tensor<?x16xbf16> {
  // CHECK: llm.embedding %{{.+}}, %{{.+}} scale 4.000000e+00 : tensor<32x16xbf16> -> tensor<?x16xbf16>
  %h = llm.embedding %tokens, %table scale 4.0 : tensor<32x16xbf16> -> tensor<?x16xbf16>
  return %h : tensor<?x16xbf16>
}
