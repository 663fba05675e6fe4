// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @glu
func.func @glu(%g: tensor<?x48xbf16>, %u: tensor<?x48xbf16>) -> (tensor<?x48xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>) {
  // CHECK: llm.glu silu %{{.+}}, %{{.+}} : tensor<?x48xbf16>
  %a = llm.glu silu %g, %u : tensor<?x48xbf16>
  // CHECK: llm.glu gelu_tanh
  %b = llm.glu gelu_tanh %g, %u : tensor<?x48xbf16>
  // CHECK: llm.glu gelu
  %c = llm.glu gelu %g, %u : tensor<?x48xbf16>
  return %a, %b, %c : tensor<?x48xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>
}
