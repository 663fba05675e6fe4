// RUN: llmc-opt %s | llmc-opt | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @round_trip
// CHECK-SAME: (%[[M:.+]]: tensor<?x256xf32>, %[[W:.+]]: tensor<64x256xf32>)
func.func @round_trip(%m: tensor<?x256xf32>, %w: tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: %[[R:.+]]:2 = kernel.launch "model.layers.0.mlp.down_proj"(%[[M]], %[[W]]) : (tensor<?x256xf32>, tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) attributes {kernel.offsets = array<i64: 0, 1024>} {
  // CHECK-NEXT: ^bb0(%[[A:.+]]: tensor<?x256xf32>, %[[B:.+]]: tensor<64x256xf32>):
  // CHECK-NEXT: %[[Y:.+]] = llm.linear %[[A]], %[[B]]
  // CHECK-NEXT: %[[Z:.+]] = llm.softcap %[[Y]] cap 3.0
  // CHECK-NEXT: kernel.yield %[[Y]], %[[Z]] : tensor<?x64xf32>, tensor<?x64xf32>
  %r:2 = kernel.launch "model.layers.0.mlp.down_proj"(%m, %w) : (tensor<?x256xf32>, tensor<64x256xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) attributes {kernel.offsets = array<i64: 0, 1024>} {
  ^bb0(%a: tensor<?x256xf32>, %b: tensor<64x256xf32>):
    %y = llm.linear %a, %b : tensor<?x256xf32>, tensor<64x256xf32> -> tensor<?x64xf32>
    %z = llm.softcap %y cap 3.0 : tensor<?x64xf32>
    kernel.yield %y, %z : tensor<?x64xf32>, tensor<?x64xf32>
  }
  return %r#0, %r#1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// A launch with nothing to return (a cache update through its operand) may
// leave out the yield.
// CHECK-LABEL: func.func @no_results
// CHECK: kernel.launch "noop"() : () -> () {
// CHECK-NEXT: }
func.func @no_results() {
  kernel.launch "noop"() : () -> () {
  ^bb0:
  }
  return
}
