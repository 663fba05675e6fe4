// RUN: llmc-opt %s --cse | FileCheck %s --enable-var-scope

// Two references to one checkpoint tensor (tied embeddings) become one value.
// CHECK-LABEL: func.func @tied
func.func @tied(%t: tensor<?xi32>) -> tensor<?x32xbf16> {
  // CHECK: %[[E:.+]] = llm.param "model.embed_tokens.weight"
  // CHECK-NOT: llm.param
  // CHECK: llm.embedding %{{.+}}, %[[E]]
  // CHECK: llm.lm_head %{{.+}}, %[[E]]
  %e = llm.param "model.embed_tokens.weight" : tensor<32x16xbf16>
  %h = llm.embedding %t, %e : tensor<32x16xbf16> -> tensor<?x16xbf16>
  %e2 = llm.param "model.embed_tokens.weight" : tensor<32x16xbf16>
  %l = llm.lm_head %h, %e2 : tensor<?x16xbf16>, tensor<32x16xbf16> -> tensor<?x32xbf16>
  return %l : tensor<?x32xbf16>
}
