// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @kv_cache_write
func.func @kv_cache_write(%k: tensor<?x8x64xbf16>, %v: tensor<?x8x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %slots: tensor<?xi32>, %pos: tensor<?xi32>) -> !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> {
  // CHECK: llm.kv_cache_write %{{.+}}, %{{.+}} into %{{.+}} at %{{.+}}, %{{.+}} : tensor<?x8x64xbf16>, tensor<?x8x64xbf16>, <kv_heads = 8, head_dim = 64, dtype = bf16>
  %c1 = llm.kv_cache_write %k, %v into %c at %slots, %pos : tensor<?x8x64xbf16>, tensor<?x8x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
  return %c1 : !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
}
