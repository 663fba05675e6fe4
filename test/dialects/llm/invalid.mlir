// RUN: llmc-opt %s --split-input-file --verify-diagnostics

// One case per verifier diagnostic of the llm ops.

func.func @f() -> tensor<4xf32> {
  // expected-error @+1 {{needs a non-empty checkpoint tensor name}}
  %w = llm.param "" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

func.func @f() -> tensor<?xf32> {
  // expected-error @+1 {{must have a static shape}}
  %w = llm.param "w" : tensor<?xf32>
  return %w : tensor<?xf32>
}

// -----

func.func @f(%t: tensor<?xi32>, %e: tensor<32xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{table must be [vocab, hidden]}}
  %h = llm.embedding %t, %e : tensor<32xbf16> -> tensor<?x16xbf16>
  return %h : tensor<?x16xbf16>
}

// -----

func.func @f(%t: tensor<?xi32>, %e: tensor<32x16xbf16>) -> tensor<?x8xbf16> {
  // expected-error @+1 {{result must be [tokens, 16]}}
  %h = llm.embedding %t, %e : tensor<32x16xbf16> -> tensor<?x8xbf16>
  return %h : tensor<?x8xbf16>
}

// -----

func.func @f(%t: tensor<?xi32>, %e: tensor<32x16xbf16>) -> tensor<?x16xf32> {
  // expected-error @+1 {{result element type 'f32' differs from the table's 'bf16'}}
  %h = llm.embedding %t, %e : tensor<32x16xbf16> -> tensor<?x16xf32>
  return %h : tensor<?x16xf32>
}

// -----

func.func @f(%t: tensor<?xi32>, %e: tensor<32x16xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{scale must be positive}}
  %h = llm.embedding %t, %e scale -1.0 : tensor<32x16xbf16> -> tensor<?x16xbf16>
  return %h : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<8xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{weight must be [16] to match the last dimension of the input}}
  %y = llm.rms_norm cast_before_weight %x, %w eps 1.0e-05 : tensor<?x16xbf16>, tensor<8xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{variant 'one_plus_weight' needs a weight}}
  %y = llm.rms_norm one_plus_weight %x eps 1.0e-05 : tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<16xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{variant 'no_weight' takes no weight}}
  %y = llm.rms_norm no_weight %x, %w eps 1.0e-05 : tensor<?x16xbf16>, tensor<16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<16xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{eps must be positive}}
  %y = llm.rms_norm cast_before_weight %x, %w eps 0.0 : tensor<?x16xbf16>, tensor<16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

func.func @f(%a: tensor<?x16xbf16>, %b: tensor<?x16xbf16>, %w: tensor<4xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{weight must be [16]}}
  %n, %s = llm.add_rms_norm cast_before_weight %a, %b, %w eps 1.0e-05 : tensor<?x16xbf16>, tensor<4xbf16>
  return %n : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<16xf32>, %b: tensor<8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{weight and bias must be [16]}}
  %y = llm.layer_norm %x, %w, %b eps 1.0e-05 : tensor<?x16xf32>, tensor<16xf32>, tensor<8xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<24x8xbf16>) -> tensor<?x24xbf16> {
  // expected-error @+1 {{input has 16 features but the weight expects 8}}
  %y = llm.linear %x, %w : tensor<?x16xbf16>, tensor<24x8xbf16> -> tensor<?x24xbf16>
  return %y : tensor<?x24xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<24x16xbf16>) -> tensor<?x12xbf16> {
  // expected-error @+1 {{result has 12 features but the weight produces 24}}
  %y = llm.linear %x, %w : tensor<?x16xbf16>, tensor<24x16xbf16> -> tensor<?x12xbf16>
  return %y : tensor<?x12xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<24x16xbf16>, %b: tensor<16xbf16>) -> tensor<?x24xbf16> {
  // expected-error @+1 {{bias must be [24]}}
  %y = llm.linear %x, %w, %b : tensor<?x16xbf16>, tensor<24x16xbf16>, tensor<16xbf16> -> tensor<?x24xbf16>
  return %y : tensor<?x24xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<24x16xbf16>) -> tensor<?x24xf32> {
  // expected-error @+1 {{input and result element types differ}}
  %y = llm.linear %x, %w : tensor<?x16xbf16>, tensor<24x16xbf16> -> tensor<?x24xf32>
  return %y : tensor<?x24xf32>
}

// -----

func.func @f(%x: tensor<4x16xbf16>, %w: tensor<24x16xbf16>) -> tensor<5x24xbf16> {
  // expected-error @+1 {{input and result differ in dimension 0}}
  %y = llm.linear %x, %w : tensor<4x16xbf16>, tensor<24x16xbf16> -> tensor<5x24xbf16>
  return %y : tensor<5x24xbf16>
}

// -----

// FP8 activations need FP8 weights in blocks of 128 input features.
func.func @f(%x: tensor<?x128xbf16>, %w: tensor<24x128xbf16>) -> tensor<?x24xbf16> {
  // expected-error @+1 {{fp8_activations needs an f8E4M3FN weight in blocks of 128 input features and an input width that is a multiple of 128, got 'tensor<24x128xbf16>'}}
  %y = llm.linear %x, %w {fp8_activations} : tensor<?x128xbf16>, tensor<24x128xbf16> -> tensor<?x24xbf16>
  return %y : tensor<?x24xbf16>
}

// -----

func.func @f(%x: tensor<?x128xbf16>) -> tensor<?x24xbf16> {
  %w = llm.param "w" scales "w_scale" : !llm.qweight<shape = [24, 128], storage = f8E4M3FN, block = [24, 64], scale = f32>
  // expected-error @+1 {{fp8_activations needs an f8E4M3FN weight in blocks of 128 input features}}
  %y = llm.linear %x, %w {fp8_activations} : tensor<?x128xbf16>, !llm.qweight<shape = [24, 128], storage = f8E4M3FN, block = [24, 64], scale = f32> -> tensor<?x24xbf16>
  return %y : tensor<?x24xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %g: tensor<48x16xbf16>, %u: tensor<32x16xbf16>) -> tensor<?x48xbf16> {
  // expected-error @+1 {{gate and up weights must have one type}}
  %m = llm.gated_linear silu %x, %g, %u : tensor<?x16xbf16>, tensor<48x16xbf16>, tensor<32x16xbf16> -> tensor<?x48xbf16>
  return %m : tensor<?x48xbf16>
}

// -----

func.func @f(%x: tensor<?x8xbf16>, %g: tensor<48x16xbf16>, %u: tensor<48x16xbf16>) -> tensor<?x48xbf16> {
  // expected-error @+1 {{expects input [..., 16] and result [..., 48]}}
  %m = llm.gated_linear silu %x, %g, %u : tensor<?x8xbf16>, tensor<48x16xbf16>, tensor<48x16xbf16> -> tensor<?x48xbf16>
  return %m : tensor<?x48xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>) -> tensor<?x16xbf16> {
  // expected-error @+1 {{cap must be positive}}
  %y = llm.softcap %x cap -1.0 : tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x32xbf16>) -> tensor<?x4x6xbf16> {
  // expected-error @+1 {{4 heads of 6 do not make 32 features}}
  %y = llm.split_heads %x : tensor<?x32xbf16> -> tensor<?x4x6xbf16>
  return %y : tensor<?x4x6xbf16>
}

// -----

func.func @f(%x: tensor<?x4x8xbf16>) -> tensor<?x4x8xbf16> {
  // expected-error @+1 {{reshapes [T, heads * d] <-> [T, heads, d]}}
  %y = llm.merge_heads %x : tensor<?x4x8xbf16> -> tensor<?x4x8xbf16>
  return %y : tensor<?x4x8xbf16>
}

// -----

func.func @f(%q: tensor<?x4x8xbf16>, %p: tensor<?xi32>) -> tensor<?x4x8xbf16> {
  // expected-error @+1 {{rotary dim 16 exceeds the head dim 8}}
  %r = llm.rope #llm.rope<default, theta = 10000.0, dim = 16> %q, %p : tensor<?x4x8xbf16>
  return %r : tensor<?x4x8xbf16>
}

// -----

func.func @f(%q: tensor<?x32xbf16>, %p: tensor<?xi32>) -> tensor<?x32xbf16> {
  // expected-error @+1 {{input must have rank 3}}
  %r = llm.rope #llm.rope<default, theta = 10000.0, dim = 8> %q, %p : tensor<?x32xbf16>
  return %r : tensor<?x32xbf16>
}

// -----

func.func @f(%k: tensor<?x4x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> {
  // expected-error @+1 {{key must be [tokens, 8, 64] to match the cache}}
  %c1 = llm.kv_cache_write %k, %k into %c at %s, %p : tensor<?x4x64xbf16>, tensor<?x4x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
  return %c1 : !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
}

// -----

func.func @f(%k: tensor<?x8x64xbf16>, %v: tensor<?x8x64xf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> {
  // expected-error @+1 {{key and value types differ}}
  %c1 = llm.kv_cache_write %k, %v into %c at %s, %p : tensor<?x8x64xbf16>, tensor<?x8x64xf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
  return %c1 : !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
}

// -----

func.func @f(%q: tensor<?x12x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x12x64xbf16> {
  // expected-error @+1 {{12 query heads cannot share 8 KV heads (must be a multiple)}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 : tensor<?x12x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x12x64xbf16>
  return %a : tensor<?x12x64xbf16>
}

// -----

func.func @f(%q: tensor<?x16x32xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x32xbf16> {
  // expected-error @+1 {{query head dim 32 differs from the cache head dim 64}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 : tensor<?x16x32xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x16x32xbf16>
  return %a : tensor<?x16x32xbf16>
}

// -----

func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x64xbf16> {
  // expected-error @+1 {{scale must be positive}}
  %a = llm.attention %q, %c at %s, %p scale 0.0 : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x16x64xbf16>
  return %a : tensor<?x16x64xbf16>
}

// -----

func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x64xbf16> {
  // expected-error @+1 {{takes a window or a chunk, not both}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 {window = 4 : i64, chunk = 8 : i64} : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x16x64xbf16>
  return %a : tensor<?x16x64xbf16>
}

// -----

func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x64xbf16> {
  // expected-error @+1 {{window must be positive, got 0}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 {window = 0 : i64} : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x16x64xbf16>
  return %a : tensor<?x16x64xbf16>
}

// -----

func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16, window = 128>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x64xbf16> {
  // expected-error @+1 {{a cache holding a window of 128 tokens cannot serve attention over the whole sequence}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16, window = 128> -> tensor<?x16x64xbf16>
  return %a : tensor<?x16x64xbf16>
}

// -----

// A chunk's first position can lie further back than any window: chunked
// attention needs a full cache (the plan verifier has the same rule).
func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16, window = 128>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x64xbf16> {
  // expected-error @+1 {{a cache holding a window of 128 tokens cannot serve attention over chunks of 64 tokens}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 {chunk = 64 : i64} : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16, window = 128> -> tensor<?x16x64xbf16>
  return %a : tensor<?x16x64xbf16>
}

// -----

func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>, %k: tensor<8xbf16>) -> tensor<?x16x64xbf16> {
  // expected-error @+1 {{sinks must be [16]}}
  %a = llm.attention %q, %c at %s, %p sinks %k scale 0.125 : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, tensor<8xbf16> -> tensor<?x16x64xbf16>
  return %a : tensor<?x16x64xbf16>
}

// -----

func.func @f(%q: tensor<?x16x64xbf16>, %c: !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x16x64xf32> {
  // expected-error @+1 {{must equal the query type}}
  %a = llm.attention %q, %c at %s, %p scale 0.125 : tensor<?x16x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x16x64xf32>
  return %a : tensor<?x16x64xf32>
}

// -----

func.func @f(%h: tensor<?x16xbf16>, %w: tensor<32x8xbf16>) -> tensor<?x32xbf16> {
  // expected-error @+1 {{hidden size 16 differs from the weight's 8}}
  %l = llm.lm_head %h, %w : tensor<?x16xbf16>, tensor<32x8xbf16> -> tensor<?x32xbf16>
  return %l : tensor<?x32xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>) -> tensor<?x9xi32> {
  %g = llm.param "gate" : tensor<8x16xbf16>
  // expected-error @+1 {{top_k 9 must be in [1, 8] (the number of experts)}}
  %w, %ids = llm.moe_router softmax %x, %g top_k 9 : tensor<?x16xbf16>, tensor<8x16xbf16> -> tensor<?x9xf32>, tensor<?x9xi32>
  return %ids : tensor<?x9xi32>
}

// -----

func.func @f(%x: tensor<?x16xbf16>) -> tensor<?x2xi32> {
  %g = llm.param "gate" : tensor<8x16xbf16>
  // expected-error @+1 {{3 groups do not divide 8 experts}}
  %w, %ids = llm.moe_router sigmoid %x, %g top_k 2 groups 3 top_groups 1 : tensor<?x16xbf16>, tensor<8x16xbf16> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %ids : tensor<?x2xi32>
}

// -----

func.func @f(%x: tensor<?x16xbf16>) -> tensor<?x2xi32> {
  %g = llm.param "gate" : tensor<8x16xbf16>
  // expected-error @+1 {{top_groups 5 must be in [1, 4]}}
  %w, %ids = llm.moe_router sigmoid %x, %g top_k 2 groups 4 top_groups 5 : tensor<?x16xbf16>, tensor<8x16xbf16> -> tensor<?x2xf32>, tensor<?x2xi32>
  return %ids : tensor<?x2xi32>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x16xbf16> {
  %gu = llm.param "gate_up" : tensor<4x24x16xbf16>
  %dn = llm.param "down" : tensor<4x16x10xbf16>
  // expected-error @+1 {{expects gate_up [E, 2I, 16] and down [E, 16, I]}}
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %dn : tensor<?x16xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x24x16xbf16>, tensor<4x16x10xbf16> -> tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

func.func @f(%x: tensor<?x16xbf16>, %s: tensor<?x16xbf16>) -> tensor<?x16xbf16> {
  %g = llm.param "gate" : tensor<2x16xbf16>
  // expected-error @+1 {{expects weight [1, 16]}}
  %y = llm.sigmoid_gate %x, %g, %s : tensor<?x16xbf16>, tensor<2x16xbf16>, tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}

// -----

!c = !llm.latent_cache<latent_dim = 32, rope_dim = 16, dtype = bf16>
func.func @f(%kv: tensor<?x40xbf16>, %c: !c, %s: tensor<?xi32>, %p: tensor<?xi32>) -> !c {
  %n = llm.param "kv_a_layernorm.weight" : tensor<32xbf16>
  // expected-error @+1 {{kv must be [tokens, 32 + 16] to match the cache}}
  %c1 = llm.latent_cache_write %kv, %n into %c at %s, %p rope #llm.rope<default, theta = 10000.0, dim = 16, layout = interleaved> eps 1.0e-06 : tensor<?x40xbf16>, tensor<32xbf16>, !c
  return %c1 : !c
}

// -----

!c = !llm.latent_cache<latent_dim = 32, rope_dim = 16, dtype = bf16>
func.func @f(%q: tensor<?x4x32xbf16>, %c: !c, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x4x24xbf16> {
  %kvb = llm.param "kv_b_proj.weight" : tensor<150x32xbf16>
  // expected-error @+1 {{kv_b's 150 rows do not split into 4 heads}}
  %a = llm.mla_attention %q, %c, %kvb at %s, %p scale 0.2 : tensor<?x4x32xbf16>, !c, tensor<150x32xbf16> -> tensor<?x4x24xbf16>
  return %a : tensor<?x4x24xbf16>
}

// -----

!c = !llm.latent_cache<latent_dim = 32, rope_dim = 16, dtype = bf16>
func.func @f(%q: tensor<?x4x40xf32>, %c: !c, %s: tensor<?xi32>, %p: tensor<?xi32>) -> tensor<?x4x32xf32> {
  // expected-error @+1 {{query must be [tokens, heads, 48] (latent + rope)}}
  %a = llm.latent_attention %q, %c at %s, %p scale 0.2 : tensor<?x4x40xf32>, !c -> tensor<?x4x32xf32>
  return %a : tensor<?x4x32xf32>
}

// -----

func.func @f(%x: tensor<?x4x32xbf16>, %p: tensor<?xi32>) -> tensor<?x4x32xbf16> {
  // expected-error @+1 {{rotary dim 16 from offset 24 exceeds the head dim 32}}
  %y = llm.rope #llm.rope<default, theta = 10000.0, dim = 16> %x, %p offset 24 : tensor<?x4x32xbf16>
  return %y : tensor<?x4x32xbf16>
}

// -----

// expected-error @+1 {{rope_dim must be positive and even, got 15}}
func.func @f(%c: !llm.latent_cache<latent_dim = 32, rope_dim = 15, dtype = bf16>) {
  return
}

// -----

func.func @f() -> tensor<32x64xbf16> {
  // expected-error @+1 {{rows [begin, total] of weight 'k' must hold its 32 rows}}
  %k = llm.param "k" stacked ["qkv"] rows [100, 128] : tensor<32x64xbf16>
  return %k : tensor<32x64xbf16>
}

// -----

func.func @f(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
  // expected-error @+1 {{factor must be finite and non-zero}}
  %y = llm.scale %x factor 0.0 divide : tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

func.func @f(%q: tensor<?x4x16xbf16>, %pos: tensor<?xi32>) -> tensor<?x4x16xbf16> {
  // expected-error @+1 {{floor_scale must be finite and positive, scale finite}}
  %t = llm.attn_temperature %q, %pos floor_scale 0.0 scale 0.1 : tensor<?x4x16xbf16>
  return %t : tensor<?x4x16xbf16>
}

// -----

func.func @f(%x: tensor<?x64xbf16>) -> tensor<?x2xi32> {
  %g = llm.param "g" : tensor<4x64xbf16>
  // expected-error @+1 {{softmax_top_k takes no correction bias, groups or normalize}}
  %w, %ids = llm.moe_router softmax_top_k %x, %g top_k 2 normalize : tensor<?x64xbf16>, tensor<4x64xbf16> -> tensor<?x2xbf16>, tensor<?x2xi32>
  return %ids : tensor<?x2xi32>
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<?x2xbf16>, %ids: tensor<?x2xi32>) -> tensor<?x64xbf16> {
  %gu = llm.param "gu" : tensor<4x64x64xbf16>
  %dn = llm.param "dn" : tensor<4x64x32xbf16>
  // expected-error @+1 {{swiglu_limit needs silu, a finite positive limit and a finite alpha}}
  %y = llm.moe_experts gelu %x, %w, %ids, %gu, %dn swiglu_limit 7.0 alpha 1.702 : tensor<?x64xbf16>, tensor<?x2xbf16>, tensor<?x2xi32>, tensor<4x64x64xbf16>, tensor<4x64x32xbf16> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// -----

func.func @f() -> tensor<4x63xbf16> {
  // expected-error @+1 {{interleaved weight 'b' must be one checkpoint tensor with an even dimension 1}}
  %b = llm.param "b" interleaved : tensor<4x63xbf16>
  return %b : tensor<4x63xbf16>
}
