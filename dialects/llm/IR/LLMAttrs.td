//===- LLMAttrs.td - llm dialect attributes ----------------*- tablegen -*-===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMATTRS_TD
#define LLMC_DIALECTS_LLM_IR_LLMATTRS_TD

include "dialects/llm/IR/LLMBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class LLM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LLM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def LLM_StepAttr : EnumAttr<LLM_Dialect, LLM_Step, "step"> {
  let assemblyFormat = "`<` $value `>`";
}

def LLM_RopeAttr : LLM_Attr<"Rope", "rope"> {
  let summary = "rotary position embedding parameters";
  let description = [{
    Everything needed to compute the rotary inverse frequencies and to apply
    them, with the values Hugging Face derives from `config.json` already
    resolved (defaults filled in, yarn's `attention_factor` computed). Only the
    parameters a kind uses are present; the verifier requires exactly those.

    ```mlir
    #llm.rope<default, theta = 10000.0, dim = 128>
    #llm.rope<llama3, theta = 500000.0, dim = 64, factor = 32.0,
              low_freq_factor = 1.0, high_freq_factor = 4.0,
              original_max_position = 8192>
    #llm.rope<yarn, theta = 10000.0, dim = 64, factor = 4.0,
              original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0,
              attention_factor = 1.1386294361119891, truncate = true>
    ```
    `dim` is the rotary width `r` (the first `r` dimensions of each head are
    rotated, the rest pass through). `layout = interleaved` rotates pairs
    `(2m, 2m+1)`; the default `half_split` rotates `(m, m + r/2)`.
  }];
  let parameters = (ins
    "::llmc::rope::Kind":$kind,
    "::mlir::FloatAttr":$theta,
    "int64_t":$dim,
    DefaultValuedParameter<"RopeLayout", "RopeLayout::HalfSplit">:$layout,
    OptionalParameter<"::mlir::FloatAttr">:$factor,
    OptionalParameter<"::mlir::FloatAttr">:$low_freq_factor,
    OptionalParameter<"::mlir::FloatAttr">:$high_freq_factor,
    OptionalParameter<"std::optional<int64_t>">:$original_max_position,
    OptionalParameter<"std::optional<int64_t>">:$max_position,
    OptionalParameter<"::mlir::FloatAttr">:$beta_fast,
    OptionalParameter<"::mlir::FloatAttr">:$beta_slow,
    OptionalParameter<"::mlir::FloatAttr">:$attention_factor,
    OptionalParameter<"std::optional<bool>">:$truncate,
    OptionalParameter<"::mlir::DenseF64ArrayAttr">:$short_factor,
    OptionalParameter<"::mlir::DenseF64ArrayAttr">:$long_factor
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The factor cos and sin are multiplied by (1 unless yarn/longrope).
    double getAttentionScaling() const;
    /// The same parameters as plain C++, for the frequency computation.
    ::llmc::rope::Params toParams() const;
  }];
}

def LLM_ModelAttr : LLM_Attr<"Model", "model"> {
  let summary = "model metadata carried by the module";
  let description = [{
    The facts about a model that do not belong to any one op: where it came
    from and its global sizes. Set on the module as `llm.model`.

    ```mlir
    module attributes {llm.model = #llm.model<family = "llama",
        vocab_size = 128256, hidden_size = 2048, num_layers = 16,
        max_position_embeddings = 131072, dtype = bf16>} {}
    ```
  }];
  let parameters = (ins
    StringRefParameter<"Hugging Face model_type">:$family,
    "int64_t":$vocab_size,
    "int64_t":$hidden_size,
    "int64_t":$num_layers,
    "int64_t":$max_position_embeddings,
    "::mlir::Type":$dtype
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // LLMC_DIALECTS_LLM_IR_LLMATTRS_TD
