// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @add_rms_norm
func.func @add_rms_norm(%h: tensor<?x16xbf16>, %o: tensor<?x16xbf16>, %w: tensor<16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  // CHECK: %[[N:.+]], %[[S:.+]] = llm.add_rms_norm cast_before_weight %{{.+}}, %{{.+}}, %{{.+}} eps 1.0e-05 : tensor<?x16xbf16>, tensor<16xbf16>
  // CHECK: return %[[N]], %[[S]]
  %n, %s = llm.add_rms_norm cast_before_weight %h, %o, %w eps 1.0e-5 : tensor<?x16xbf16>, tensor<16xbf16>
  return %n, %s : tensor<?x16xbf16>, tensor<?x16xbf16>
}
