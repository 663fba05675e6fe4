//===- LLMTypes.td - llm dialect types ---------------------*- tablegen -*-===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMTYPES_TD
#define LLMC_DIALECTS_LLM_IR_LLMTYPES_TD

include "dialects/llm/IR/LLMBase.td"

class LLM_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<LLM_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def LLM_KVCacheType : LLM_Type<"KVCache", "kv_cache"> {
  let summary = "the key/value cache of one attention layer";
  let description = [{
    Keys and values of every cached token of every sequence of a session, for
    one attention layer: `kv_heads` heads of `head_dim` elements each, stored
    as `dtype`. The number of sequences and the capacity per sequence are
    chosen when a session is created, so they are not part of the type.

    A layer that only ever attends to the last `window` tokens has a windowed
    cache (`window = W`): it needs to hold `W` tokens per sequence, not the
    whole sequence, and the runtime allocates it that way.

    ```mlir
    !llm.kv_cache<kv_heads = 8, head_dim = 128, dtype = bf16>
    !llm.kv_cache<kv_heads = 8, head_dim = 128, dtype = bf16, window = 4096>
    ```

    Other cache kinds (MLA's `!llm.latent_cache`, later linear attention's
    recurrent state) are separate types, so that each layer's storage
    follows from its type.
  }];
  let parameters = (ins
    "int64_t":$kv_heads,
    "int64_t":$head_dim,
    "::mlir::Type":$dtype,
    DefaultValuedParameter<"int64_t", "0">:$window
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def LLM_LatentCacheType : LLM_Type<"LatentCache", "latent_cache"> {
  let summary = "the compressed latent cache of one Multi-head Latent Attention layer";
  let description = [{
    DeepSeek's MLA caches one row per token shared by all heads: the
    normalized latent `c_kv` (`latent_dim` = kv_lora_rank values) followed by
    the rotated decoupled key `k_rope` (`rope_dim` = qk_rope_head_dim
    values), stored as `dtype`. Keys and values of every head are
    projections of that row (`kv_b_proj`), so a token costs
    `(latent_dim + rope_dim) * sizeof(dtype)` bytes per layer: 1152 for
    DeepSeek V3 in bf16, against 2 * 128 * 192 * 2 for the expanded keys and
    values.

    ```mlir
    !llm.latent_cache<latent_dim = 512, rope_dim = 64, dtype = bf16>
    ```
  }];
  let parameters = (ins
    "int64_t":$latent_dim,
    "int64_t":$rope_dim,
    "::mlir::Type":$dtype
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Elements of one cached row: latent_dim + rope_dim.
    int64_t getRowElems() const { return getLatentDim() + getRopeDim(); }
  }];
}

#endif // LLMC_DIALECTS_LLM_IR_LLMTYPES_TD
