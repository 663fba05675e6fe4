//===- MoERecipes.cpp - Mixture-of-Experts kernels (templates/moe.cuh) ----===//
//
// llm.moe_router: one block per token computes the E logits (a warp per
// expert row) and thread 0 scores, limits groups and takes the top k, so
// the choice never leaves the device. llm.moe_experts: a gate/up launch
// over (token, choice) pairs that reads only the chosen experts' rows into
// scratch, then a down launch per token that weighs and sums the k outputs
// in registers. Both stream each chosen expert once per (token, choice):
// right for decode; prefill of many tokens would share an expert's weights
// across its tokens with a grouped GEMM, which is not generated yet.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace llmc::kernel_select {
namespace {

/// Shared memory of the router is 2 floats + 1 byte per expert.
constexpr int64_t kMaxRouterExperts = 4096;

/// Whether a warp's dot product of length `n` reads 16-byte vectors of x
/// and w (every row starts 16-byte aligned).
bool vectorized(Type x, Type w, int64_t n) {
  int64_t v = 16 / bytesOf(w);
  return n % v == 0 && (n * bytesOf(x)) % 16 == 0 && (n * bytesOf(w)) % 16 == 0;
}

FailureOr<unsigned> router(ArrayRef<Operation *> ops, unsigned first,
                           KernelBuilder &b) {
  auto r = dyn_cast<llm::MoERouterOp>(ops[first]);
  if (!r)
    return 0u;
  auto w = cast<RankedTensorType>(r.getWeight().getType());
  const int64_t E = w.getDimSize(0), H = w.getDimSize(1), K = r.getTopK();
  if (E > kMaxRouterExperts)
    return r.emitOpError() << "has " << E << " experts; the generated router "
                           << "supports at most " << kMaxRouterExperts;
  Type xt = elementOf(r.getInput()), wt = w.getElementType(),
       rt = elementOf(r.getWeights());
  const bool bias = bool(r.getCorrectionBias());
  const int scoring = int(r.getScoring()), gscore = int(r.getGroupScore());
  Call c;
  c.callee = "moe_router";
  c.entry = llvm::formatv("moe_router_e{0}_h{1}_k{2}_{3}_{4}_{5}", E, H, K,
                          scoring ? "sigmoid" : "softmax", typeTag(xt),
                          typeTag(wt))
                .str() +
            (r.getLogitsInFp32() ? "_f32logits" : "") + (bias ? "_bias" : "") +
            (r.getGroups() > 1 ? llvm::formatv("_g{0}of{1}", r.getTopGroups(),
                                               r.getGroups())
                                     .str()
                               : "") +
            (r.getNormalize() ? "_norm" : "") + "_w" + typeTag(rt);
  c.templateArgs = {b.i(E),
                    b.i(H),
                    b.i(K),
                    b.i(scoring),
                    b.flag(r.getLogitsInFp32()),
                    b.flag(bias),
                    b.i(r.getGroups()),
                    b.i(r.getTopGroups()),
                    b.i(gscore),
                    b.flag(r.getNormalize()),
                    b.type(xt),
                    b.type(wt),
                    b.type(rt)};
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, r.getInput()));
  c.args.push_back(b.operand(c, r.getWeight()));
  c.args.push_back(bias ? b.operand(c, r.getCorrectionBias())
                        : b.null(Float32Type::get(b.context())));
  c.args.push_back(b.f(r.getEpsilon().convertToDouble()));
  c.args.push_back(b.f(r.getScaling().convertToDouble()));
  c.args.push_back(b.operand(c, r.getWeights(), true));
  c.args.push_back(b.operand(c, r.getExpertIds(), true));
  c.grid = {1, 1, 1};
  c.block = int32_t(std::min<int64_t>(256, 32 * E));
  c.tokensPerBlock = 1;
  c.tokenAxis = 0;
  c.hot = true;
  b.create(r.getLoc(), std::move(c));
  return 1u;
}

FailureOr<unsigned> experts(ArrayRef<Operation *> ops, unsigned first,
                            KernelBuilder &b) {
  auto x = dyn_cast<llm::MoEExpertsOp>(ops[first]);
  if (!x)
    return 0u;
  auto down = cast<RankedTensorType>(x.getDown().getType());
  const int64_t E = down.getDimSize(0), H = down.getDimSize(1),
                I = down.getDimSize(2);
  const int64_t K = cast<RankedTensorType>(x.getWeights().getType()).getDimSize(1);
  Type xt = elementOf(x.getInput()), wt = down.getElementType(),
       rt = elementOf(x.getWeights());
  const int act = int(x.getActivation());
  const std::string shape = llvm::formatv("e{0}_h{1}_i{2}_k{3}", E, H, I, K);

  // m: [T, K * I] in x's type, in scratch between the two launches.
  const uint64_t mBytes =
      uint64_t(b.info().maxTokens) * uint64_t(K * I) * uint64_t(bytesOf(xt));
  Value m = b.scratch(x.getLoc(), 0, mBytes, uint64_t(K * I), xt);

  const bool vecUp = vectorized(xt, wt, H);
  Call up;
  up.callee = "moe_gate_up";
  up.entry = "moe_gate_up_" + shape + "_" + typeTag(xt) + "_" + typeTag(wt) +
             "_act" + std::to_string(act) + (vecUp ? "" : "_scalar");
  up.templateArgs = {b.i(E),        b.i(H),      b.i(I),
                     b.i(K),        b.i(act),    b.flag(vecUp),
                     b.type(xt),    b.type(wt),  b.type(xt)};
  up.args = {b.numTokens()};
  up.args.push_back(b.operand(up, x.getInput()));
  up.args.push_back(b.operand(up, x.getExpertIds()));
  up.args.push_back(b.operand(up, x.getGateUp()));
  up.args.push_back(b.operand(up, m, true));
  up.grid = {int32_t(K), ceilDiv(I, 8), 1};
  up.block = 256;
  up.tokensPerBlock = 1;
  up.tokenAxis = 0;
  up.hot = true;
  b.create(x.getLoc(), std::move(up));

  const bool vecDown = vectorized(xt, wt, I);
  Call dn;
  dn.callee = "moe_down";
  dn.entry = "moe_down_" + shape + "_" + typeTag(xt) + "_" + typeTag(wt) +
             "_w" + typeTag(rt) + (vecDown ? "" : "_scalar");
  dn.templateArgs = {b.i(E),     b.i(H),     b.i(I),     b.i(K),
                     b.flag(vecDown), b.type(xt), b.type(wt), b.type(rt),
                     b.type(xt)};
  dn.args = {b.numTokens()};
  dn.args.push_back(b.operand(dn, m));
  dn.args.push_back(b.operand(dn, x.getWeights()));
  dn.args.push_back(b.operand(dn, x.getExpertIds()));
  dn.args.push_back(b.operand(dn, x.getDown()));
  dn.args.push_back(b.operand(dn, x.getResult(), true));
  dn.grid = {1, ceilDiv(H, 8), 1};
  dn.block = 256;
  dn.tokensPerBlock = 1;
  dn.tokenAxis = 0;
  dn.hot = true;
  b.create(x.getLoc(), std::move(dn));
  return 1u;
}

} // namespace

void addMoERecipes(SmallVectorImpl<Recipe> &fusions,
                   SmallVectorImpl<Recipe> &single) {
  single.push_back(router);
  single.push_back(experts);
}

} // namespace llmc::kernel_select
