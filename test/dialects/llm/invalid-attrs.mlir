// RUN: llmc-opt %s --split-input-file --verify-diagnostics

// Verifiers of the llm attributes, types and module-level attributes.

// expected-error @+1 {{rope kind 'llama3' requires 'low_freq_factor'}}
func.func private @f() attributes {r = #llm.rope<llama3, theta = 500000.0, dim = 8, factor = 8.0, high_freq_factor = 4.0, original_max_position = 8192>}

// -----

// expected-error @+1 {{rope kind 'default' does not take 'factor'}}
func.func private @f() attributes {r = #llm.rope<default, theta = 10000.0, dim = 8, factor = 2.0>}

// -----

// expected-error @+1 {{rope dim must be positive and even, got 7}}
func.func private @f() attributes {r = #llm.rope<default, theta = 10000.0, dim = 7>}

// -----

// expected-error @+1 {{rope theta must be positive}}
func.func private @f() attributes {r = #llm.rope<default, theta = -1.0, dim = 8>}

// -----

// expected-error @+1 {{rope high_freq_factor must not be below low_freq_factor}}
func.func private @f() attributes {r = #llm.rope<llama3, theta = 500000.0, dim = 8, factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_position = 8192>}

// -----

// expected-error @+1 {{rope short_factor/long_factor need dim/2 = 4 values, got 2}}
func.func private @f() attributes {r = #llm.rope<longrope, theta = 10000.0, dim = 8, original_max_position = 4096, attention_factor = 1.0, short_factor = [1.0, 1.0], long_factor = [1.0, 1.0, 1.0, 1.0]>}

// -----

// expected-error @+1 {{unknown rope kind 'su'}}
func.func private @f() attributes {r = #llm.rope<su, theta = 10000.0, dim = 8>}

// -----

// expected-error @+1 {{unknown rope parameter 'scaling'}}
func.func private @f() attributes {r = #llm.rope<default, theta = 10000.0, dim = 8, scaling = 2.0>}

// -----

// expected-error @+1 {{kv_heads must be positive, got 0}}
func.func private @f(!llm.kv_cache<kv_heads = 0, head_dim = 64, dtype = bf16>)

// -----

// expected-error @+1 {{dtype must be f32, f16, bf16 or f8E4M3FN, got 'i8'}}
func.func private @f(!llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = i8>)

// -----

// FP8 caches are E4M3 only.
// expected-error @+1 {{dtype must be f32, f16, bf16 or f8E4M3FN, got 'f8E5M2'}}
func.func private @f(!llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = f8E5M2>)

// -----

// expected-error @+1 {{'llm.step' may only be set on a func.func}}
module attributes {llm.step = #llm.step<prefill>} {}

// -----

// expected-error @+1 {{'llm.model' may only be set on a module}}
func.func private @f() attributes {llm.model = #llm.model<family = "llama", vocab_size = 32, hidden_size = 16, num_layers = 1, max_position_embeddings = 2048, dtype = bf16>}

// -----

// expected-error @+1 {{model sizes must be positive}}
module attributes {llm.model = #llm.model<family = "llama", vocab_size = 0, hidden_size = 16, num_layers = 1, max_position_embeddings = 2048, dtype = bf16>} {}

// -----

// expected-error @+1 {{unknown llm dialect attribute 'llm.nonsense'}}
module attributes {llm.nonsense = 1 : i64} {}
