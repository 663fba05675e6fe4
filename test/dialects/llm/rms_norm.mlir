// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @rms_norm_variants
func.func @rms_norm_variants(%x: tensor<?x16xbf16>, %w: tensor<16xbf16>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>, tensor<?x16xbf16>, tensor<?x16xbf16>) {
  // CHECK: llm.rms_norm cast_before_weight %{{.+}}, %{{.+}} eps 1.0e-05 : tensor<?x16xbf16>, tensor<16xbf16>
  %a = llm.rms_norm cast_before_weight %x, %w eps 1.0e-5 : tensor<?x16xbf16>, tensor<16xbf16>
  // CHECK: llm.rms_norm weight_in_fp32 %{{.+}}, %{{.+}} eps 1.0e-06
  %b = llm.rms_norm weight_in_fp32 %x, %w eps 1.0e-6 : tensor<?x16xbf16>, tensor<16xbf16>
  // CHECK: llm.rms_norm one_plus_weight %{{.+}}, %{{.+}} eps 1.0e-06
  %c = llm.rms_norm one_plus_weight %x, %w eps 1.0e-6 : tensor<?x16xbf16>, tensor<16xbf16>
  // CHECK: llm.rms_norm no_weight %{{.+}} eps 1.0e-05 : tensor<?x16xbf16>
  %d = llm.rms_norm no_weight %x eps 1.0e-5 : tensor<?x16xbf16>
  return %a, %b, %c, %d : tensor<?x16xbf16>, tensor<?x16xbf16>, tensor<?x16xbf16>, tensor<?x16xbf16>
}

// -----

// Per-head QK-norm: a [d] weight over [T, heads, d].
// CHECK-LABEL: func.func @qk_norm
func.func @qk_norm(%q: tensor<?x4x8xf32>, %w: tensor<8xf32>) -> tensor<?x4x8xf32> {
  // CHECK: llm.rms_norm cast_before_weight %{{.+}}, %{{.+}} eps 1.0e-06 : tensor<?x4x8xf32>, tensor<8xf32>
  %n = llm.rms_norm cast_before_weight %q, %w eps 1.0e-6 : tensor<?x4x8xf32>, tensor<8xf32>
  return %n : tensor<?x4x8xf32>
}
