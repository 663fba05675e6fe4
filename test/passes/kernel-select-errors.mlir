// RUN: llmc-opt %s --split-input-file --verify-diagnostics --kernel-lower="max-tokens=4 max-seq-len=64"

// Keys and values of one tile must fit the attention kernel's shared memory:
// a head of 1024 f32 elements does not, even in tiles of 8 tokens.
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 1, head_dim = 1024, dtype = f32>) -> (tensor<?x1024xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 1024, dtype = f32>) attributes {llm.step = #llm.step<prefill>} {
  %e = llm.param "embed" : tensor<80x1024xf32>
  %x = llm.embedding %tokens, %e : tensor<80x1024xf32> -> tensor<?x1024xf32>
  %h = llm.split_heads %x : tensor<?x1024xf32> -> tensor<?x1x1024xf32>
  %c1 = llm.kv_cache_write %h, %h into %c at %slots, %pos : tensor<?x1x1024xf32>, tensor<?x1x1024xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 1024, dtype = f32>
  // expected-error @+1 {{'llm.attention' op head_dim 1024 too large for the attention kernel's shared tiles}}
  %a = llm.attention %h, %c1 at %slots, %pos scale 0.03125 : tensor<?x1x1024xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 1024, dtype = f32> -> tensor<?x1x1024xf32>
  %y = llm.merge_heads %a : tensor<?x1x1024xf32> -> tensor<?x1024xf32>
  return %y, %c1 : tensor<?x1024xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 1024, dtype = f32>
}
