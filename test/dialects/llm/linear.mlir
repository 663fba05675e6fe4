// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x16xbf16>, %w: tensor<24x16xbf16>, %b: tensor<24xbf16>) -> (tensor<?x24xbf16>, tensor<?x24xbf16>) {
  // CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x16xbf16>, tensor<24x16xbf16> -> tensor<?x24xbf16>
  %y = llm.linear %x, %w : tensor<?x16xbf16>, tensor<24x16xbf16> -> tensor<?x24xbf16>
  // CHECK: llm.linear %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x16xbf16>, tensor<24x16xbf16>, tensor<24xbf16> -> tensor<?x24xbf16>
  %z = llm.linear %x, %w, %b : tensor<?x16xbf16>, tensor<24x16xbf16>, tensor<24xbf16> -> tensor<?x24xbf16>
  return %y, %z : tensor<?x24xbf16>, tensor<?x24xbf16>
}
