//===- MoEChecks.cpp - plan checks: Mixture-of-Experts router and experts -===//
//
// The rules of llm.moe_router and llm.moe_experts (LLMOps.cpp), so that the
// backends may index experts and rows without checking again.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include "runtime/schema/PlanFormat.h"

#include <cmath>

namespace llmc::runtime::verify {

namespace {
/// Expert counts and k far above any model, so that products stay small.
constexpr int64_t kMaxExperts = 1 << 16;
} // namespace

/// An arena operand of `rowElems` int32 expert ids per token.
Status PlanChecker::expertIds(const P::Operand &o, uint64_t rowElems) {
  LLMC_RETURN_IF_ERROR(kind(o, "expert ids", P::OperandKind::Arena));
  if (o.dtype() != P::DType::I32 || o.row_elems() != rowElems)
    return failOp("expert ids must be " + std::to_string(rowElems) +
                  " i32 per token, got " + std::to_string(o.row_elems()) +
                  " " + dtypeName(o.dtype()));
  return arenaBounds(o, "expert ids", rowElems);
}

Status PlanChecker::checkMoERouter(const P::Op &op, const P::MoERouter &p) {
  LLMC_RETURN_IF_ERROR(positive(p.hidden(), "hidden"));
  LLMC_RETURN_IF_ERROR(positive(p.experts(), "experts"));
  LLMC_RETURN_IF_ERROR(positive(p.top_k(), "top_k"));
  LLMC_RETURN_IF_ERROR(positive(p.groups(), "groups"));
  LLMC_RETURN_IF_ERROR(positive(p.top_groups(), "top_groups"));
  if (p.experts() > kMaxExperts)
    return failOp("experts " + std::to_string(p.experts()) + " exceeds " +
                  std::to_string(kMaxExperts));
  if (p.scoring() > P::RouterScoring::MAX ||
      p.group_score() > P::RouterGroupScore::MAX)
    return failOp("unknown router scoring or group score");
  if (p.experts() % p.groups() != 0 || p.top_groups() > p.groups())
    return failOp(std::to_string(p.groups()) + " groups (top " +
                  std::to_string(p.top_groups()) + ") do not fit " +
                  std::to_string(p.experts()) + " experts");
  const int64_t perGroup = p.experts() / p.groups();
  if (p.groups() > 1 && p.group_score() == P::RouterGroupScore::SumOfTop2 &&
      perGroup < 2)
    return failOp("sum_of_top2 needs groups of at least 2 experts");
  if (p.top_k() > p.top_groups() * perGroup)
    return failOp("top_k " + std::to_string(p.top_k()) +
                  " exceeds the experts of the top groups");
  LLMC_RETURN_IF_ERROR(finite(p.normalize_epsilon(), "normalize_epsilon"));
  LLMC_RETURN_IF_ERROR(finite(p.scaling(), "scaling"));
  if (p.normalize_epsilon() < 0 || !(p.scaling() > 0))
    return failOp("normalize_epsilon must be >= 0 and scaling > 0");
  // The rule of llm.moe_router's verifier (LLMOps.cpp).
  if (p.scoring() == P::RouterScoring::SoftmaxTopK &&
      (p.has_correction_bias() || p.groups() != 1 || p.normalize()))
    return failOp("softmax_top_k takes no correction bias, groups or "
                  "normalize");
  const size_t inputs = 2 + size_t(p.has_correction_bias()) +
                        size_t(p.has_logit_bias());
  LLMC_RETURN_IF_ERROR(counts(op, inputs, 2));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.hidden())));
  LLMC_RETURN_IF_ERROR(
      weight(in(op, 1), "router weight", {p.experts(), p.hidden()}));
  if (p.has_correction_bias()) {
    LLMC_RETURN_IF_ERROR(weight(in(op, 2), "correction bias", {p.experts()}));
    if (in(op, 2).dtype() != P::DType::F32)
      return failOp("correction bias must be f32");
  }
  if (p.has_logit_bias())
    LLMC_RETURN_IF_ERROR(
        weight(in(op, inputs - 1), "logit bias", {p.experts()}));
  LLMC_RETURN_IF_ERROR(arena(out(op, 0), "routing weights", uint64_t(p.top_k())));
  if (out(op, 0).dtype() != P::DType::F32 &&
      out(op, 0).dtype() != in(op, 0).dtype())
    return failOp("routing weights must be f32 or x's dtype");
  LLMC_RETURN_IF_ERROR(expertIds(out(op, 1), uint64_t(p.top_k())));
  routerIds_[out(op, 1).offset()] = p.experts();
  return Status::success();
}

Status PlanChecker::checkMoEExperts(const P::Op &op, const P::MoEExperts &p) {
  LLMC_RETURN_IF_ERROR(positive(p.hidden(), "hidden"));
  LLMC_RETURN_IF_ERROR(positive(p.intermediate(), "intermediate"));
  LLMC_RETURN_IF_ERROR(positive(p.experts(), "experts"));
  LLMC_RETURN_IF_ERROR(positive(p.top_k(), "top_k"));
  LLMC_RETURN_IF_ERROR(activation(p.activation()));
  if (p.experts() > kMaxExperts || p.top_k() > p.experts())
    return failOp("top_k " + std::to_string(p.top_k()) + " of " +
                  std::to_string(p.experts()) + " experts");
  if (p.swiglu_limit() != 0 &&
      (!std::isfinite(p.swiglu_limit()) || p.swiglu_limit() < 0 ||
       !std::isfinite(p.swiglu_alpha()) ||
       p.activation() != P::Activation::Silu))
    return failOp("swiglu_limit needs silu, a finite positive limit and a "
                  "finite alpha");
  LLMC_RETURN_IF_ERROR(counts(op, p.has_biases() ? 7 : 5, 1));
  if (p.has_biases()) {
    LLMC_RETURN_IF_ERROR(weight(in(op, 5), "gate_up bias",
                                {p.experts(), 2 * p.intermediate()}));
    LLMC_RETURN_IF_ERROR(
        weight(in(op, 6), "down bias", {p.experts(), p.hidden()}));
  }
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.hidden())));
  LLMC_RETURN_IF_ERROR(arena(in(op, 1), "routing weights", uint64_t(p.top_k())));
  LLMC_RETURN_IF_ERROR(expertIds(in(op, 2), uint64_t(p.top_k())));
  auto router = routerIds_.find(in(op, 2).offset());
  if (router == routerIds_.end())
    return failOp("expert ids are not the output of an earlier router");
  if (router->second > p.experts())
    return failOp("the router chooses among " + std::to_string(router->second) +
                  " experts, the experts op holds " +
                  std::to_string(p.experts()));
  // Format 1.7: the experts' weights may be quantized (FP8 blocks, MXFP4).
  LLMC_RETURN_IF_ERROR(weight(in(op, 3), "gate_up",
                              {p.experts(), 2 * p.intermediate(), p.hidden()},
                              /*allowQuantized=*/true));
  LLMC_RETURN_IF_ERROR(weight(in(op, 4), "down",
                              {p.experts(), p.hidden(), p.intermediate()},
                              /*allowQuantized=*/true));
  if (in(op, 3).dtype() != in(op, 4).dtype())
    return failOp("gate_up and down have different dtypes");
  LLMC_RETURN_IF_ERROR(arena(out(op, 0), "output", uint64_t(p.hidden())));
  if (out(op, 0).dtype() != in(op, 0).dtype())
    return failOp("output dtype differs from x's");
  return Status::success();
}

Status PlanChecker::checkSigmoidGate(const P::Op &op,
                                     const P::SigmoidGate &p) {
  LLMC_RETURN_IF_ERROR(positive(p.hidden(), "hidden"));
  LLMC_RETURN_IF_ERROR(positive(p.size(), "size"));
  LLMC_RETURN_IF_ERROR(counts(op, 3, 1));
  LLMC_RETURN_IF_ERROR(arena(in(op, 0), "x", uint64_t(p.hidden())));
  LLMC_RETURN_IF_ERROR(weight(in(op, 1), "gate weight", {1, p.hidden()}));
  LLMC_RETURN_IF_ERROR(arena(in(op, 2), "value", uint64_t(p.size())));
  LLMC_RETURN_IF_ERROR(arena(out(op, 0), "output", uint64_t(p.size())));
  if (out(op, 0).dtype() != in(op, 2).dtype())
    return failOp("output dtype differs from the value's");
  return Status::success();
}

} // namespace llmc::runtime::verify
