//===- LLMBase.td - the llm dialect and its enums ----------*- tablegen -*-===//
//
// The model-level dialect: one op per architectural idea, attributes for every
// variant. IR at this level should read like the model card.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMBASE_TD
#define LLMC_DIALECTS_LLM_IR_LLMBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::llmc::llm";
  let summary = "Model-level IR for decoder-only language models";
  let description = [{
    The `llm` dialect states *what* a decoder-only language model computes, in
    the vocabulary of the papers: token embedding, RMSNorm, linear projections,
    rotary embedding, attention over an explicit KV cache, gated MLPs, the LM
    head. A module holds one `func.func` per step (`prefill`, `decode`), marked
    with `llm.step`, and the model's metadata in the module attribute
    `llm.model`.

    Activations are ranked tensors whose leading dimension is the number of
    tokens in the step (dynamic); model dimensions are static. Weights enter
    through `llm.param`, which names the checkpoint tensor. The KV cache of each
    attention layer is an SSA value of type `!llm.kv_cache`: a step takes the
    caches as arguments, writes them with `llm.kv_cache_write` and returns the
    updated caches.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    static constexpr ::llvm::StringLiteral kModelAttrName = "llm.model";
    static constexpr ::llvm::StringLiteral kStepAttrName = "llm.step";
  private:
    void registerAttributes();
    void registerTypes();
  public:
  }];
}

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def LLM_RMSNormVariant : I32EnumAttr<"RMSNormVariant",
    "where the RMSNorm weight is applied and when the result is rounded", [
      // w * cast(x32 * r): round to the activation dtype, then scale (Llama).
      I32EnumAttrCase<"CastBeforeWeight", 0, "cast_before_weight">,
      // cast(w32 * x32 * r): scale in fp32, round once (OLMo 2, gpt-oss).
      I32EnumAttrCase<"WeightInFP32", 1, "weight_in_fp32">,
      // cast(x32 * r * (1 + w32)): the weight is an offset from 1 (Gemma 3).
      I32EnumAttrCase<"OnePlusWeight", 2, "one_plus_weight">,
      // cast(x32 * r): no weight at all (Llama 4 QK-norm).
      I32EnumAttrCase<"NoWeight", 3, "no_weight">]> {
  let cppNamespace = "::llmc::llm";
}

def LLM_ActivationFn : I32EnumAttr<"Activation",
    "activation of a gated MLP", [
      I32EnumAttrCase<"SiLU", 0, "silu">,
      // PyTorch's tanh-approximate GELU (`gelu_pytorch_tanh`).
      I32EnumAttrCase<"GELUTanh", 1, "gelu_tanh">,
      // Exact erf GELU (`gelu`).
      I32EnumAttrCase<"GELU", 2, "gelu">]> {
  let cppNamespace = "::llmc::llm";
}

def LLM_RopeKind : I32EnumAttr<"RopeKind",
    "how rotary inverse frequencies are derived (Hugging Face rope_type)", [
      I32EnumAttrCase<"Default", 0, "default">,
      I32EnumAttrCase<"Linear", 1, "linear">,
      I32EnumAttrCase<"Dynamic", 2, "dynamic">,
      I32EnumAttrCase<"Llama3", 3, "llama3">,
      I32EnumAttrCase<"Yarn", 4, "yarn">,
      I32EnumAttrCase<"LongRope", 5, "longrope">]> {
  let cppNamespace = "::llmc::llm";
}

def LLM_RopeLayout : I32EnumAttr<"RopeLayout",
    "which pairs of a head's dimensions rotate together", [
      // (m, m + r/2): `rotate_half`, used by Llama, Mistral, Qwen, Gemma.
      I32EnumAttrCase<"HalfSplit", 0, "half_split">,
      // (2m, 2m + 1): the complex-number form, used by Llama 4, DeepSeek-V2.
      I32EnumAttrCase<"Interleaved", 1, "interleaved">]> {
  let cppNamespace = "::llmc::llm";
}

def LLM_Step : I32EnumAttr<"Step", "which step of generation a function is", [
      // n tokens of one sequence, at consecutive positions.
      I32EnumAttrCase<"Prefill", 0, "prefill">,
      // one token each of a batch of sequences.
      I32EnumAttrCase<"Decode", 1, "decode">]> {
  let cppNamespace = "::llmc::llm";
  let genSpecializedAttr = 0;
}

#endif // LLMC_DIALECTS_LLM_IR_LLMBASE_TD
