// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @param
func.func @param() -> tensor<32x16xbf16> {
  // CHECK: %[[W:.+]] = llm.param "model.embed_tokens.weight" : tensor<32x16xbf16>
  // CHECK: return %[[W]]
  %w = llm.param "model.embed_tokens.weight" : tensor<32x16xbf16>
  return %w : tensor<32x16xbf16>
}
