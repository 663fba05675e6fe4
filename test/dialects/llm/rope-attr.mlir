// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// One function per rope kind, each with exactly the parameters it takes.
// CHECK-LABEL: func.func @kinds
func.func @kinds(%q: tensor<?x4x8xf32>, %pos: tensor<?xi32>) -> (tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>) {
  // CHECK: <linear, theta = 10000.0, dim = 8, factor = 4.0>
  %a = llm.rope #llm.rope<linear, theta = 10000.0, dim = 8, factor = 4.0> %q, %pos : tensor<?x4x8xf32>
  // CHECK: <dynamic, theta = 10000.0, dim = 8, factor = 2.0, max_position = 2048>
  %b = llm.rope #llm.rope<dynamic, theta = 10000.0, dim = 8, factor = 2.0, max_position = 2048> %q, %pos : tensor<?x4x8xf32>
  // CHECK: <llama3, theta = 500000.0, dim = 8, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192>
  %c = llm.rope #llm.rope<llama3, theta = 500000.0, dim = 8, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position = 8192> %q, %pos : tensor<?x4x8xf32>
  // The attention factor keeps every digit through a round trip.
  // CHECK: <yarn, theta = 150000.0, dim = 8, factor = 32.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.3465735902799727, truncate = false>
  %d = llm.rope #llm.rope<yarn, theta = 150000.0, dim = 8, factor = 32.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, attention_factor = 1.3465735902799727, truncate = false> %q, %pos : tensor<?x4x8xf32>
  // CHECK: <longrope, theta = 10000.0, dim = 8, original_max_position = 4096, attention_factor = 1.19, short_factor = [1.0, 1.5, 2.0, 2.5], long_factor = [3.0, 3.5, 4.0, 4.5]>
  %e = llm.rope #llm.rope<longrope, theta = 10000.0, dim = 8, original_max_position = 4096, attention_factor = 1.19, short_factor = [1.0, 1.5, 2.0, 2.5], long_factor = [3.0, 3.5, 4.0, 4.5]> %q, %pos : tensor<?x4x8xf32>
  return %a, %b, %c, %d, %e : tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>
}
