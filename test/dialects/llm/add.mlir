// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @add
func.func @add(%a: tensor<?x16xbf16>, %b: tensor<?x16xbf16>) -> tensor<?x16xbf16> {
  // CHECK: llm.add %{{.+}}, %{{.+}} : tensor<?x16xbf16>
  %s = llm.add %a, %b : tensor<?x16xbf16>
  return %s : tensor<?x16xbf16>
}
