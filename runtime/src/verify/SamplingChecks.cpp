//===- SamplingChecks.cpp - plan checks: greedy sampling launches ---------===//
//
// Format 1.1: the optional greedy-sampling launches and their output.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include <cmath>

namespace llmc::runtime::verify {

/// Format 1.1: the optional greedy-sampling launches and their output.
Status PlanChecker::checkGreedy(const P::Program &program, const char *name) {
  const auto *launches = program.greedy();
  const P::Operand *tokens = program.greedy_tokens();
  where_ = std::string(name) + " program greedy sampling";
  if (!launches && !tokens)
    return Status::success();
  if (!launches || launches->size() == 0 || !tokens)
    return failOp(!tokens ? "has launches but no greedy_tokens operand"
                          : "has a greedy_tokens operand but no launches");
  if (!plan_.cuda())
    return failOp("has launches, but the plan has no CUDA code");
  for (uint32_t l = 0; l < launches->size(); ++l) {
    where_ = std::string(name) + " program greedy launch " + std::to_string(l);
    LLMC_RETURN_IF_ERROR(checkLaunch(*launches->Get(l)));
  }
  where_ = std::string(name) + " program greedy sampling";
  if (tokens->kind() != P::OperandKind::Scratch ||
      tokens->dtype() != P::DType::I32 || tokens->row_elems() != 1)
    return failOp("greedy_tokens must be a scratch operand of one i32 per "
                  "token");
  uint64_t scratchBytes = plan_.cuda()->scratch_bytes();
  if (tokens->offset() % sizeof(int32_t) != 0 ||
      tokens->offset() > scratchBytes ||
      (scratchBytes - tokens->offset()) / sizeof(int32_t) < maxTokens_)
    return failOp("greedy_tokens (scratch offset " +
                  std::to_string(tokens->offset()) + ", " +
                  std::to_string(maxTokens_) +
                  " tokens) is misaligned or outside the scratch of " +
                  std::to_string(scratchBytes) + " bytes");
  return Status::success();
}

} // namespace llmc::runtime::verify
