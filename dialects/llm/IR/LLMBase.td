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

// RMSNormVariant (LLM_RMSNormVariant), Activation (LLM_ActivationFn) and
// RopeLayout (LLM_RopeLayout) are defined once, in runtime/schema/plan.fbs;
// CMakeLists.txt generates their I32EnumAttr definitions from it.
include "LLMPlanEnums.td"

def LLM_Step : I32EnumAttr<"Step", "which step of generation a function is", [
      // n tokens of one sequence, at consecutive positions.
      I32EnumAttrCase<"Prefill", 0, "prefill">,
      // one token each of a batch of sequences.
      I32EnumAttrCase<"Decode", 1, "decode">]> {
  let cppNamespace = "::llmc::llm";
  let genSpecializedAttr = 0;
}

#endif // LLMC_DIALECTS_LLM_IR_LLMBASE_TD
