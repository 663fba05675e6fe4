//===- MatmulChecks.cpp - plan checks: linear, gated linear, LM head ------===//
//
// The rules of llm.linear, llm.gated_linear and llm.lm_head (LLMOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include "runtime/schema/PlanFormat.h"

#include <cmath>

namespace llmc::runtime::verify {

Status PlanChecker::checkLinear(const P::Op &op, const P::Linear &p) {
  LLMC_RETURN_IF_ERROR(positive(p.in_features(), "in_features"));
  LLMC_RETURN_IF_ERROR(positive(p.out_features(), "out_features"));
  LLMC_RETURN_IF_ERROR(counts(op, p.has_bias() ? 3 : 2, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.in_features())));
  LLMC_RETURN_IF_ERROR(weight(in(op, 1), "weight",
                              {p.out_features(), p.in_features()},
                              /*allowQuantized=*/true));
  if (p.has_bias())
    LLMC_RETURN_IF_ERROR(weight(in(op, 2), "bias", {p.out_features()}));
  if (p.fp8_activations()) {
    // Format 1.8: the activation groups are the weight's scale blocks.
    const P::Weight *w = plan_.weights()->Get(in(op, 1).index());
    const auto *block = w->quant() ? w->quant()->block() : nullptr;
    if (w->dtype() != P::DType::F8E4M3 || !block || block->size() != 2 ||
        block->Get(1) != kFp8ActivationGroup ||
        p.in_features() % kFp8ActivationGroup != 0)
      return failOp("fp8_activations needs an f8e4m3 weight in blocks of " +
                    std::to_string(kFp8ActivationGroup) +
                    " input features and in_features a multiple of " +
                    std::to_string(kFp8ActivationGroup));
  }
  return arena(out(op, 0), "output", uint64_t(p.out_features()));
}

Status PlanChecker::checkGatedLinear(const P::Op &op, const P::GatedLinear &p) {
  LLMC_RETURN_IF_ERROR(positive(p.in_features(), "in_features"));
  LLMC_RETURN_IF_ERROR(positive(p.out_features(), "out_features"));
  LLMC_RETURN_IF_ERROR(activation(p.activation()));
  LLMC_RETURN_IF_ERROR(counts(op, 3, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.in_features())));
  LLMC_RETURN_IF_ERROR(
      weight(in(op, 1), "gate weight", {p.out_features(), p.in_features()}));
  LLMC_RETURN_IF_ERROR(
      weight(in(op, 2), "up weight", {p.out_features(), p.in_features()}));
  return arena(out(op, 0), "output", uint64_t(p.out_features()));
}

Status PlanChecker::checkLMHead(const P::Op &op, const P::LMHead &p) {
  LLMC_RETURN_IF_ERROR(positive(p.hidden(), "hidden"));
  if (p.vocab() != vocab_)
    return failOp("vocab " + std::to_string(p.vocab()) +
                  " differs from model.vocab_size " + std::to_string(vocab_));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.hidden())));
  LLMC_RETURN_IF_ERROR(weight(in(op, 1), "weight", {p.vocab(), p.hidden()}));
  return arena(out(op, 0), "logits", uint64_t(p.vocab()));
}

} // namespace llmc::runtime::verify
