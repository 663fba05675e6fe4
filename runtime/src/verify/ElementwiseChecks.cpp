//===- ElementwiseChecks.cpp - plan checks: embedding, glu, add, softcap --===//
//
// The rules of llm.embedding, llm.glu, llm.add and llm.softcap
// (LLMOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include <cmath>

namespace llmc::runtime::verify {

Status PlanChecker::checkEmbedding(const P::Op &op, const P::Embedding &p) {
  if (p.vocab() != vocab_)
    return failOp("vocab " + std::to_string(p.vocab()) +
                  " differs from model.vocab_size " + std::to_string(vocab_));
  LLMC_RETURN_IF_ERROR(positive(p.hidden(), "hidden"));
  LLMC_RETURN_IF_ERROR(finite(p.scale(), "scale"));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  LLMC_RETURN_IF_ERROR(input(in(op, 0), "tokens", 0));
  LLMC_RETURN_IF_ERROR(weight(in(op, 1), "table", {p.vocab(), p.hidden()}));
  return arena(out(op, 0), "output", uint64_t(p.hidden()));
}

Status PlanChecker::checkGLU(const P::Op &op, const P::GLU &p) {
  LLMC_RETURN_IF_ERROR(positive(p.size(), "size"));
  LLMC_RETURN_IF_ERROR(activation(p.activation()));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  uint64_t size = uint64_t(p.size());
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "gate", size));
  LLMC_RETURN_IF_ERROR(arena(in(op, 1), "up", size));
  return arena(out(op, 0), "output", size);
}

Status PlanChecker::checkAdd(const P::Op &op, const P::Add &p) {
  LLMC_RETURN_IF_ERROR(positive(p.size(), "size"));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  uint64_t size = uint64_t(p.size());
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "a", size));
  LLMC_RETURN_IF_ERROR(arena(in(op, 1), "b", size));
  return arena(out(op, 0), "output", size);
}

Status PlanChecker::checkScale(const P::Op &op, const P::Scale &p) {
  LLMC_RETURN_IF_ERROR(positive(p.size(), "size"));
  if (!std::isfinite(p.factor()) || (p.divide() && p.factor() == 0))
    return failOp("factor is not finite (or is 0 for a division)");
  LLMC_RETURN_IF_ERROR(counts(op, 1, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.size())));
  return arena(out(op, 0), "output", uint64_t(p.size()));
}

Status PlanChecker::checkAttnTemperature(const P::Op &op,
                                         const P::AttnTemperature &p) {
  LLMC_RETURN_IF_ERROR(positive(p.size(), "size"));
  // The rule of llm.attn_temperature's verifier (LLMOps.cpp).
  if (!std::isfinite(p.floor_scale()) || !(p.floor_scale() > 0))
    return failOp("floor_scale is not a finite positive number");
  LLMC_RETURN_IF_ERROR(finite(p.scale(), "scale"));
  LLMC_RETURN_IF_ERROR(counts(op, 2, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.size())));
  LLMC_RETURN_IF_ERROR(input(in(op, 1), "positions", 1));
  return arena(out(op, 0), "output", uint64_t(p.size()));
}

Status PlanChecker::checkSoftcap(const P::Op &op, const P::Softcap &p) {
  LLMC_RETURN_IF_ERROR(positive(p.size(), "size"));
  if (!std::isfinite(p.cap()) || p.cap() <= 0)
    return failOp("cap is not a finite positive number");
  LLMC_RETURN_IF_ERROR(counts(op, 1, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.size())));
  return arena(out(op, 0), "output", uint64_t(p.size()));
}

} // namespace llmc::runtime::verify
