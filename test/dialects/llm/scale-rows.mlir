// RUN: llmc-opt %s | llmc-opt | FileCheck %s

// Granite's multipliers (llm.scale, times or divided by a constant) and
// Phi-3's fused projections read as row slices (llm.param ... rows).
// CHECK-LABEL: func.func @f
func.func @f(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
  // CHECK: llm.param "model.layers.0.self_attn.k_proj.weight" stacked ["model.layers.0.self_attn.qkv_proj.weight"] rows [64, 128] : tensor<32x64xbf16>
  %k = llm.param "model.layers.0.self_attn.k_proj.weight" stacked ["model.layers.0.self_attn.qkv_proj.weight"] rows [64, 128] : tensor<32x64xbf16>
  // CHECK: llm.scale %{{.+}} factor 12.0 : tensor<?x64xbf16>
  %a = llm.scale %x factor 12.0 : tensor<?x64xbf16>
  // CHECK: llm.scale %{{.+}} factor 16.0 divide : tensor<?x64xbf16>
  %b = llm.scale %a factor 16.0 divide : tensor<?x64xbf16>
  return %b : tensor<?x64xbf16>
}
