// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @types
// CHECK-SAME: !llm.kv_cache<kv_heads = 1, head_dim = 128, dtype = f16>
// CHECK-SAME: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16, window = 4096>
func.func @types(%a: !llm.kv_cache<kv_heads = 1, head_dim = 128, dtype = f16>, %b: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16, window = 4096>) {
  return
}
