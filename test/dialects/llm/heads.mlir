// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @split_merge
func.func @split_merge(%q: tensor<?x32xbf16>) -> tensor<?x32xbf16> {
  // CHECK: %[[S:.+]] = llm.split_heads %{{.+}} : tensor<?x32xbf16> -> tensor<?x4x8xbf16>
  %s = llm.split_heads %q : tensor<?x32xbf16> -> tensor<?x4x8xbf16>
  // CHECK: llm.merge_heads %[[S]] : tensor<?x4x8xbf16> -> tensor<?x32xbf16>
  %m = llm.merge_heads %s : tensor<?x4x8xbf16> -> tensor<?x32xbf16>
  return %m : tensor<?x32xbf16>
}
