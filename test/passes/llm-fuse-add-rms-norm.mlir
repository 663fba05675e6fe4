// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-fuse-add-rms-norm))' | FileCheck %s --enable-var-scope

// The residual add and the norm of its sum become one op; the next residual
// add reads the fused op's sum.
// CHECK-LABEL: func.func @fuse
// CHECK-SAME: (%[[H:.+]]: tensor<?x16xbf16>, %[[O:.+]]: tensor<?x16xbf16>, %[[W:.+]]: tensor<16xbf16>, %[[M:.+]]: tensor<?x16xbf16>)
func.func @fuse(%h: tensor<?x16xbf16>, %o: tensor<?x16xbf16>, %w: tensor<16xbf16>, %m: tensor<?x16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  // CHECK-NOT: llm.add %[[H]]
  // CHECK: %[[N:.+]], %[[S:.+]] = llm.add_rms_norm cast_before_weight %[[H]], %[[O]], %[[W]] eps 1.0e-05
  // CHECK-NOT: llm.rms_norm
  // CHECK: %[[NEXT:.+]] = llm.add %[[S]], %[[M]]
  // CHECK: return %[[N]], %[[NEXT]]
  %s = llm.add %h, %o : tensor<?x16xbf16>
  %n = llm.rms_norm cast_before_weight %s, %w eps 1.0e-05 : tensor<?x16xbf16>, tensor<16xbf16>
  %next = llm.add %s, %m : tensor<?x16xbf16>
  return %n, %next : tensor<?x16xbf16>, tensor<?x16xbf16>
}

// -----

// A use of the sum before the norm keeps the ops apart.
// CHECK-LABEL: func.func @use_before_norm
func.func @use_before_norm(%h: tensor<?x16xbf16>, %o: tensor<?x16xbf16>, %w: tensor<16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  // CHECK: llm.add
  // CHECK: llm.add
  // CHECK: llm.rms_norm
  // CHECK-NOT: llm.add_rms_norm
  %s = llm.add %h, %o : tensor<?x16xbf16>
  %early = llm.add %s, %s : tensor<?x16xbf16>
  %n = llm.rms_norm cast_before_weight %s, %w eps 1.0e-05 : tensor<?x16xbf16>, tensor<16xbf16>
  return %n, %early : tensor<?x16xbf16>, tensor<?x16xbf16>
}

// -----

// A norm of something that is not an add is left alone; the variant carries over.
// CHECK-LABEL: func.func @variants
func.func @variants(%x: tensor<?x16xbf16>, %y: tensor<?x16xbf16>, %w: tensor<16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  // CHECK: llm.rms_norm one_plus_weight %{{.+}}, %{{.+}} eps 1.0e-06
  %a = llm.rms_norm one_plus_weight %x, %w eps 1.0e-06 : tensor<?x16xbf16>, tensor<16xbf16>
  // CHECK: llm.add_rms_norm weight_in_fp32 %{{.+}}, %{{.+}}, %{{.+}} eps 1.0e-06
  %s = llm.add %a, %y : tensor<?x16xbf16>
  %b = llm.rms_norm weight_in_fp32 %s, %w eps 1.0e-06 : tensor<?x16xbf16>, tensor<16xbf16>
  return %a, %b : tensor<?x16xbf16>, tensor<?x16xbf16>
}
