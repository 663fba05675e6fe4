// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @softcap
func.func @softcap(%l: tensor<?x32xbf16>) -> tensor<?x32xbf16> {
  // CHECK: llm.softcap %{{.+}} cap 30.0 : tensor<?x32xbf16>
  %c = llm.softcap %l cap 30.0 : tensor<?x32xbf16>
  return %c : tensor<?x32xbf16>
}
