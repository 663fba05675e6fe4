// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @rope_default
func.func @rope_default(%q: tensor<?x4x8xbf16>, %pos: tensor<?xi32>) -> tensor<?x4x8xbf16> {
  // CHECK: llm.rope <default, theta = 10000.0, dim = 8> %{{.+}}, %{{.+}} : tensor<?x4x8xbf16>
  %r = llm.rope #llm.rope<default, theta = 10000.0, dim = 8> %q, %pos : tensor<?x4x8xbf16>
  return %r : tensor<?x4x8xbf16>
}

// -----

// Partial rotary, interleaved pairs.
// CHECK-LABEL: func.func @rope_partial_interleaved
func.func @rope_partial_interleaved(%q: tensor<?x4x8xbf16>, %pos: tensor<?xi32>) -> tensor<?x4x8xbf16> {
  // CHECK: <default, theta = 500000.0, dim = 4, layout = interleaved>
  %r = llm.rope #llm.rope<default, theta = 5.0e5, dim = 4, layout = interleaved> %q, %pos : tensor<?x4x8xbf16>
  return %r : tensor<?x4x8xbf16>
}
