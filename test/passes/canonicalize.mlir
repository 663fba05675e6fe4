// RUN: llmc-opt %s --split-input-file --canonicalize | FileCheck %s --enable-var-scope

// A unit embedding scale is dropped; any other scale stays.
// CHECK-LABEL: func.func @embedding_scale
func.func @embedding_scale(%t: tensor<?xi32>, %e: tensor<32x16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  // CHECK: llm.embedding %{{.+}}, %{{.+}} : tensor<32x16xbf16>
  // CHECK: llm.embedding %{{.+}}, %{{.+}} scale 4.000000e+00 : tensor<32x16xbf16>
  %a = llm.embedding %t, %e scale 1.0 : tensor<32x16xbf16> -> tensor<?x16xbf16>
  %b = llm.embedding %t, %e scale 4.0 : tensor<32x16xbf16> -> tensor<?x16xbf16>
  return %a, %b : tensor<?x16xbf16>, tensor<?x16xbf16>
}

// -----

// merge_heads(split_heads(x)) and split_heads(merge_heads(y)) fold away.
// CHECK-LABEL: func.func @heads_fold
// CHECK-SAME: (%[[X:.+]]: tensor<?x32xbf16>, %[[Y:.+]]: tensor<?x4x8xbf16>)
func.func @heads_fold(%x: tensor<?x32xbf16>, %y: tensor<?x4x8xbf16>) -> (tensor<?x32xbf16>, tensor<?x4x8xbf16>) {
  // CHECK-NOT: llm.split_heads
  // CHECK-NOT: llm.merge_heads
  // CHECK: return %[[X]], %[[Y]]
  %s = llm.split_heads %x : tensor<?x32xbf16> -> tensor<?x4x8xbf16>
  %m = llm.merge_heads %s : tensor<?x4x8xbf16> -> tensor<?x32xbf16>
  %m2 = llm.merge_heads %y : tensor<?x4x8xbf16> -> tensor<?x32xbf16>
  %s2 = llm.split_heads %m2 : tensor<?x32xbf16> -> tensor<?x4x8xbf16>
  return %m, %s2 : tensor<?x32xbf16>, tensor<?x4x8xbf16>
}

// -----

// A different head split is a real reshape and stays.
// CHECK-LABEL: func.func @heads_keep
func.func @heads_keep(%y: tensor<?x4x8xbf16>) -> tensor<?x2x16xbf16> {
  // CHECK: llm.merge_heads
  // CHECK: llm.split_heads
  %m = llm.merge_heads %y : tensor<?x4x8xbf16> -> tensor<?x32xbf16>
  %s = llm.split_heads %m : tensor<?x32xbf16> -> tensor<?x2x16xbf16>
  return %s : tensor<?x2x16xbf16>
}
