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

    Later cache kinds (MLA's latent cache, linear attention's recurrent state)
    are separate types, so that each layer's storage follows from its type.
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

#endif // LLMC_DIALECTS_LLM_IR_LLMTYPES_TD
