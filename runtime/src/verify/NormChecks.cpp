//===- NormChecks.cpp - plan checks: RMSNorm and add + RMSNorm ------------===//
//
// The rules of llm.rms_norm and llm.add_rms_norm (LLMOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include <cmath>

namespace llmc::runtime::verify {

Status PlanChecker::normParams(int64_t size, P::RMSNormVariant variant,
                               double eps) {
  LLMC_RETURN_IF_ERROR(positive(size, "size"));
  if (variant > P::RMSNormVariant::NoWeight)
    return failOp("unknown RMSNorm variant " +
                  std::to_string(unsigned(variant)));
  if (!std::isfinite(eps) || eps < 0)
    return failOp("eps is not a finite non-negative number");
  return Status::success();
}

Status PlanChecker::checkRMSNorm(const P::Op &op, const P::RMSNorm &p) {
  LLMC_RETURN_IF_ERROR(normParams(p.size(), p.variant(), p.eps()));
  bool hasWeight = p.variant() != P::RMSNormVariant::NoWeight;
  LLMC_RETURN_IF_ERROR(counts(op, hasWeight ? 2 : 1, 1));
  // x is [T, rows * size]: any positive multiple of size per token.
  uint64_t rowElems = in(op, 0).row_elems();
  if (rowElems == 0 || rowElems % uint64_t(p.size()) != 0)
    return failOp("x has " + std::to_string(rowElems) +
                  " elements per token, not a positive multiple of size " +
                  std::to_string(p.size()));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", rowElems));
  if (hasWeight)
    LLMC_RETURN_IF_ERROR(weight(in(op, 1), "weight", {p.size()}));
  return arena(out(op, 0), "output", rowElems);
}

Status PlanChecker::checkAddRMSNorm(const P::Op &op, const P::AddRMSNorm &p) {
  LLMC_RETURN_IF_ERROR(normParams(p.size(), p.variant(), p.eps()));
  bool hasWeight = p.variant() != P::RMSNormVariant::NoWeight;
  LLMC_RETURN_IF_ERROR(counts(op, hasWeight ? 3 : 2, 2));
  uint64_t size = uint64_t(p.size());
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", size));
  LLMC_RETURN_IF_ERROR(arena(in(op, 1), "residual", size));
  if (hasWeight)
    LLMC_RETURN_IF_ERROR(weight(in(op, 2), "weight", {p.size()}));
  LLMC_RETURN_IF_ERROR(arena(out(op, 0), "normed", size));
  return arena(out(op, 1), "sum", size);
}

} // namespace llmc::runtime::verify
