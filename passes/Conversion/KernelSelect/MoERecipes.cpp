//===- MoERecipes.cpp - Mixture-of-Experts kernels ------------------------===//
//
// llm.moe_router: one block per token computes the E logits (a warp per
// expert row) and thread 0 scores, limits groups and takes the top k, so
// the choice never leaves the device (templates/moe.cuh).
//
// llm.moe_experts, up to 16 tokens (decode): a gate/up launch over
// (token, choice) pairs that reads only the chosen experts' rows into
// scratch, then a down launch per token that weighs and sums the k outputs
// in registers (templates/moe.cuh). Each chosen expert is streamed once per
// pair, which is what decode needs.
//
// More tokens (prefill), 16-bit types, hidden and moe_intermediate
// multiples of 32: the pairs are counting-sorted by expert on the device,
// each projection is one grouped GEMM on tensor cores over the experts'
// variable-sized segments (each expert's weights read once per 64 of its
// pairs), and a last launch weighs and sums each token's k outputs in
// choice order (templates/moe_grouped.cuh). gpt-oss's expert biases and
// clamped SwiGLU join both paths' epilogues. Otherwise the per-pair
// kernels serve every T.
//
// A shared expert in the experts' launch (gated_linear -> linear ->
// [sigmoid_gate] -> add): up to 16 tokens, one more choice of every token
// in the per-pair kernels, whose down launch writes round(routed) +
// round(shared); more tokens run each op's own kernels.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace llmc::kernel_select {
namespace {

/// Shared memory of the router is 2 floats + 1 byte per expert.
constexpr int64_t kMaxRouterExperts = 4096;
/// The per-pair kernels run up to this many tokens when the grouped ones
/// exist (as the GEMVs of the dense layers).
constexpr int64_t kPairTokens = 16;
/// Blocks along the tile axis of a grouped GEMM (each loops over tiles).
constexpr int64_t kMaxTileBlocks = 1024;

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
  const char *scoringTag =
      r.getScoring() == llm::RouterScoring::Sigmoid       ? "sigmoid"
      : r.getScoring() == llm::RouterScoring::SoftmaxTopK ? "topk_softmax"
                                                          : "softmax";
  Value logitBias = r.getLogitBias();
  c.entry =
      llvm::formatv("moe_router_e{0}_h{1}_k{2}_{3}_{4}_{5}", E, H, K,
                    scoringTag, typeTag(xt), typeTag(wt))
          .str() +
      (logitBias ? "_lbias" + typeTag(elementOf(logitBias)) : "") +
      (r.getLogitsInFp32() ? "_f32logits" : "") + (bias ? "_bias" : "") +
      (r.getGroups() > 1
           ? llvm::formatv("_g{0}of{1}", r.getTopGroups(), r.getGroups()).str()
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
  if (logitBias) {
    c.templateArgs.push_back(b.flag(true));
    c.templateArgs.push_back(b.type(elementOf(logitBias)));
  }
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, r.getInput()));
  c.args.push_back(b.operand(c, r.getWeight()));
  c.args.push_back(bias ? b.operand(c, r.getCorrectionBias())
                        : b.null(Float32Type::get(b.context())));
  c.args.push_back(b.f(r.getEpsilon().convertToDouble()));
  c.args.push_back(b.f(r.getScaling().convertToDouble()));
  c.args.push_back(b.operand(c, r.getWeights(), true));
  c.args.push_back(b.operand(c, r.getExpertIds(), true));
  if (logitBias)
    c.args.push_back(b.operand(c, logitBias));
  c.grid = {1, 1, 1};
  c.block = int32_t(std::min<int64_t>(256, 32 * E));
  c.tokensPerBlock = 1;
  c.tokenAxis = 0;
  c.hot = true;
  b.create(r.getLoc(), std::move(c));
  return 1u;
}

/// A shared expert summed with the routed ones (ConvertLLMToKernel puts
/// them in one launch): gated_linear(x) -> linear -> [sigmoid_gate] -> add.
struct SharedExpert {
  llm::GatedLinearOp gateUp;
  llm::LinearOp down;
  llm::SigmoidGateOp gate; // Qwen2-MoE's per-token scale, or null
  llm::AddOp sum;
};

/// The per-pair gate/up and down launches that also run `sh` (moe.cuh's
/// moe_gate_up_shared and moe_down_shared): `in` and `weights` are what
/// the routed pairs read (Llama 4's scaled rows and ones), `m` their
/// intermediate scratch; the shared intermediate lives in the gated
/// linear's own buffer and the sum is written to the add's.
void lowerSharedPairs(llm::MoEExpertsOp x, Value in, Value weights, Value m,
                      StringRef pairTag, SharedExpert sh, KernelBuilder &b) {
  auto down = cast<RankedTensorType>(x.getDown().getType());
  const int64_t E = down.getDimSize(0), H = down.getDimSize(1),
                I = down.getDimSize(2);
  const int64_t K =
      cast<RankedTensorType>(x.getWeights().getType()).getDimSize(1);
  const int64_t IS =
      cast<RankedTensorType>(sh.gateUp.getGateWeight().getType()).getDimSize(0);
  Type xt = elementOf(x.getInput()), rt = elementOf(x.getWeights());
  const int act = int(x.getActivation()), actS = int(sh.gateUp.getActivation());
  const std::string shape =
      llvm::formatv("e{0}_h{1}_i{2}_k{3}_s{4}", E, H, I, K, IS);
  const bool vecUp = vectorized(xt, xt, H), vecDown = vectorized(xt, xt, I),
             vecShared = vectorized(xt, xt, IS);

  Call up;
  up.callee = "moe_gate_up_shared";
  up.entry = "moe_gate_up_shared_" + shape + "_" + typeTag(xt) + "_act" +
             std::to_string(act) + "_sact" + std::to_string(actS) +
             (vecUp ? "" : "_scalar") + pairTag.str();
  up.templateArgs = {b.i(E),     b.i(H),
                     b.i(I),     b.i(K),
                     b.i(act),   b.flag(vecUp),
                     b.type(xt), b.type(xt),
                     b.type(xt), b.i(pairTag.empty() ? K : 1),
                     b.i(IS),    b.i(actS)};
  up.args = {b.numTokens()};
  up.args.push_back(b.operand(up, in));
  up.args.push_back(b.operand(up, x.getExpertIds()));
  up.args.push_back(b.operand(up, x.getGateUp()));
  up.args.push_back(b.operand(up, m, true));
  up.args.push_back(b.operand(up, x.getInput()));
  up.args.push_back(b.operand(up, sh.gateUp.getGateWeight()));
  up.args.push_back(b.operand(up, sh.gateUp.getUpWeight()));
  up.args.push_back(b.operand(up, sh.gateUp.getResult(), true));
  up.grid = {int32_t(K + 1), ceilDiv(std::max(I, IS), 8), 1};
  up.block = 256;
  up.tokensPerBlock = 1;
  up.tokenAxis = 0;
  up.hot = true;
  b.create(x.getLoc(), std::move(up));

  const bool gated = bool(sh.gate);
  Type gt = gated ? elementOf(sh.gate.getWeight()) : xt;
  Call dn;
  dn.callee = "moe_down_shared";
  dn.entry = "moe_down_shared_" + shape + "_" + typeTag(xt) + "_w" +
             typeTag(rt) + (vecDown ? "" : "_scalar") +
             (vecShared ? "" : "_sscalar") +
             (gated ? "_sgate" + typeTag(gt) : "");
  dn.templateArgs = {
      b.i(E),        b.i(H),     b.i(I),     b.i(K),  b.flag(vecDown),
      b.type(xt),    b.type(rt), b.type(xt), b.i(IS), b.flag(vecShared),
      b.flag(gated), b.type(gt)};
  dn.args = {b.numTokens()};
  dn.args.push_back(b.operand(dn, m));
  dn.args.push_back(b.operand(dn, weights));
  dn.args.push_back(b.operand(dn, x.getExpertIds()));
  dn.args.push_back(b.operand(dn, x.getDown()));
  dn.args.push_back(b.operand(dn, sh.sum.getResult(), true));
  dn.args.push_back(b.operand(dn, sh.gateUp.getResult()));
  dn.args.push_back(b.operand(dn, sh.down.getWeight()));
  dn.args.push_back(b.operand(dn, x.getInput()));
  dn.args.push_back(gated ? b.operand(dn, sh.gate.getWeight()) : b.null(gt));
  dn.grid = {1, ceilDiv(H, 8), 1};
  dn.block = 256;
  dn.tokensPerBlock = 1;
  dn.tokenAxis = 0;
  dn.hot = true;
  b.create(x.getLoc(), std::move(dn));
}

/// gpt-oss's extras on a gate/up launch `c` when `x` has them: template
/// arguments BIAS, OAI and the bias type, arguments the gate_up bias (or
/// null), the SwiGLU limit and alpha, and the entry's suffix (the limit and
/// alpha as CUDA literals, hashed).
void addGateUpExtras(Call &c, llm::MoEExpertsOp x, KernelBuilder &b) {
  Value bias = x.getGateUpBias();
  const bool oai = bool(x.getSwigluLimit());
  if (!bias && !oai)
    return;
  const double limit = oai ? x.getSwigluLimit()->convertToDouble() : 0.0;
  const double alpha = oai ? x.getSwigluAlpha()->convertToDouble() : 0.0;
  Type bt = bias ? elementOf(bias) : Type(Float32Type::get(b.context()));
  c.templateArgs.append({b.flag(bool(bias)), b.flag(oai), b.type(bt)});
  c.args.push_back(bias ? b.operand(c, bias) : b.null(bt));
  c.args.push_back(b.f(limit));
  c.args.push_back(b.f(alpha));
  c.entry +=
      std::string(bias ? "_bias" + typeTag(bt) : "") +
      (oai ? "_oai_" + hashTag(kernel::cudaFloatLiteral(float(limit)) + ", " +
                               kernel::cudaFloatLiteral(float(alpha)))
           : "");
}

/// gpt-oss's down bias on a down launch `c` when `x` has one.
void addDownBias(Call &c, llm::MoEExpertsOp x, KernelBuilder &b) {
  Value bias = x.getDownBias();
  if (!bias)
    return;
  c.templateArgs.append({b.flag(true), b.type(elementOf(bias))});
  c.args.push_back(b.operand(c, bias));
  c.entry += "_bias" + typeTag(elementOf(bias));
}

/// The per-pair gate/up and down launches over quantized experts (moe.cuh's
/// moe_gate_up_q and moe_down_q; `qfmt` its QFMT_*), up to pairMax tokens
/// (0: every step size):
/// `in` and `weights` are what the pairs read (Llama 4's scaled rows and
/// ones), `m` their intermediate scratch. Each weight is passed twice, its
/// codes and then its scales.
void lowerQuantizedPairs(llm::MoEExpertsOp x, Value in, Value weights, Value m,
                         StringRef pairTag, int qfmt, llm::QuantWeightType gu,
                         llm::QuantWeightType dq, int32_t pairMax,
                         KernelBuilder &b) {
  const int64_t E = dq.getShape()[0], H = dq.getShape()[1],
                I = dq.getShape()[2];
  const int64_t K =
      cast<RankedTensorType>(x.getWeights().getType()).getDimSize(1);
  Type xt = elementOf(x.getInput()), rt = elementOf(x.getWeights());
  Type st = dq.getScale();
  const int act = int(x.getActivation());
  const char *fmtTag = qfmt == 1 ? "mxfp4" : "e4m3";
  const std::string shape = llvm::formatv("e{0}_h{1}_i{2}_k{3}", E, H, I, K);
  auto blockTag = [](llm::QuantWeightType q) {
    return llvm::formatv("b{0}x{1}", q.getBlock()[1], q.getBlock()[2]).str();
  };

  Call up;
  up.callee = "moe_gate_up_q";
  up.entry = "moe_gate_up_" + std::string(fmtTag) + "_" + shape + "_" +
             blockTag(gu) + "_" + typeTag(xt) + "_act" + std::to_string(act) +
             pairTag.str();
  up.templateArgs = {b.i(E),
                     b.i(H),
                     b.i(I),
                     b.i(K),
                     b.i(act),
                     b.i(qfmt),
                     b.i(gu.getBlock()[1]),
                     b.i(gu.getBlock()[2]),
                     b.type(xt),
                     b.type(st),
                     b.type(xt),
                     b.i(pairTag.empty() ? K : 1)};
  up.args = {b.numTokens()};
  up.args.push_back(b.operand(up, in));
  up.args.push_back(b.operand(up, x.getExpertIds()));
  up.args.push_back(b.operand(up, x.getGateUp()));
  up.args.push_back(b.scalesOf(up, x.getGateUp()));
  up.args.push_back(b.operand(up, m, true));
  addGateUpExtras(up, x, b);
  up.grid = {int32_t(K), ceilDiv(I, 8), 1};
  up.block = 256;
  up.tokensPerBlock = 1;
  up.tokenAxis = 0;
  up.maxTokens = pairMax;
  up.hot = true;
  b.create(x.getLoc(), std::move(up));

  Call dn;
  dn.callee = "moe_down_q";
  dn.entry = "moe_down_" + std::string(fmtTag) + "_" + shape + "_" +
             blockTag(dq) + "_" + typeTag(xt) + "_w" + typeTag(rt);
  dn.templateArgs = {b.i(E),
                     b.i(H),
                     b.i(I),
                     b.i(K),
                     b.i(qfmt),
                     b.i(dq.getBlock()[1]),
                     b.i(dq.getBlock()[2]),
                     b.type(xt),
                     b.type(st),
                     b.type(rt),
                     b.type(xt)};
  dn.args = {b.numTokens()};
  dn.args.push_back(b.operand(dn, m));
  dn.args.push_back(b.operand(dn, weights));
  dn.args.push_back(b.operand(dn, x.getExpertIds()));
  dn.args.push_back(b.operand(dn, x.getDown()));
  dn.args.push_back(b.scalesOf(dn, x.getDown()));
  dn.args.push_back(b.operand(dn, x.getResult(), true));
  addDownBias(dn, x, b);
  dn.grid = {1, ceilDiv(H, 8), 1};
  dn.block = 256;
  dn.tokensPerBlock = 1;
  dn.tokenAxis = 0;
  dn.maxTokens = pairMax;
  dn.hot = true;
  b.create(x.getLoc(), std::move(dn));
}

/// The kernels of the routed experts `x`; with `shared`, the per-pair
/// kernels that also run the shared expert and write the sum (for the
/// counts of the caller's TokenRange).
LogicalResult lowerExperts(llm::MoEExpertsOp x, KernelBuilder &b,
                           SharedExpert *shared) {
  ArrayRef<int64_t> down = llm::weightShape(x.getDown().getType());
  const int64_t E = down[0], H = down[1], I = down[2];
  const int64_t K =
      cast<RankedTensorType>(x.getWeights().getType()).getDimSize(1);
  // Quantized experts: their stored values' type here.
  auto quant = dyn_cast<llm::QuantWeightType>(x.getDown().getType());
  auto guQuant = dyn_cast<llm::QuantWeightType>(x.getGateUp().getType());
  Type xt = elementOf(x.getInput()),
       wt =
           quant
               ? quant.getStorage()
               : cast<RankedTensorType>(x.getDown().getType()).getElementType(),
       rt = elementOf(x.getWeights());
  // FP8 blocks with f32 scales and MXFP4 with e8m0 scales run the
  // dequantizing per-pair kernels for every step size.
  int qfmt = -1;
  if (quant) {
    if (isa<Float8E4M3FNType>(quant.getStorage()) && quant.getScale().isF32() &&
        !quant.getZero())
      qfmt = 0; // QFMT_E4M3
    else if (isa<Float4E2M1FNType>(quant.getStorage()) &&
             isa<Float8E8M0FNUType>(quant.getScale()) && H % 2 == 0 &&
             I % 2 == 0)
      qfmt = 1; // QFMT_E2M1
    else
      return x.emitOpError("has quantized experts (")
             << quant
             << "): the CUDA kernels read f8E4M3FN values with f32 scales "
                "and f4E2M1FN values with f8E8M0FNU scales";
  }
  const int act = int(x.getActivation());
  const std::string shape = llvm::formatv("e{0}_h{1}_i{2}_k{3}", E, H, I, K);

  const int64_t maxT = b.info().maxTokens;
  // gpt-oss's biases and clamped SwiGLU join the epilogues of both paths
  // (addGateUpExtras, addDownBias).
  // Quantized experts group too when every scale block is whole k steps
  // of 32 (FP8's 128, MXFP4's 32).
  const bool quantGroups = quant && guQuant.getBlock()[2] % 32 == 0 &&
                           quant.getBlock()[2] % 32 == 0;
  const bool grouped =
      !shared && maxT > kPairTokens && (quant ? quantGroups : xt == wt) &&
      (xt.isBF16() || xt.isF16()) && H % 32 == 0 && I % 32 == 0;
  const int32_t pairMax = grouped ? int32_t(kPairTokens) : 0;

  // m: [T, K * I] in x's type, in scratch between the launches.
  const uint64_t es = uint64_t(bytesOf(xt));
  const uint64_t mBytes = uint64_t(maxT) * uint64_t(K * I) * es;
  Value m = b.scratch(x.getLoc(), 0, mBytes, uint64_t(K * I), xt);
  const uint64_t pairs = uint64_t(maxT) * uint64_t(K);
  // The grouped path's scratch (after m): yp, segments, tiles, perm.
  const uint64_t ypAt = llvm::alignTo(mBytes, 256);
  const uint64_t segAt = llvm::alignTo(ypAt + pairs * uint64_t(H) * es, 256);
  const uint64_t tilesAt = llvm::alignTo(segAt + uint64_t(E + 1) * 4, 256);
  const uint64_t permAt = llvm::alignTo(tilesAt + uint64_t(E + 1) * 4, 256);
  const uint64_t groupedEnd = permAt + pairs * 4;

  // scale_input (Llama 4): each pair's own input row round(w * x), and
  // weights of 1 for the (then exact) weighted sums; after the rest.
  Value in = x.getInput(), weights = x.getWeights();
  std::string pairTag;
  if (x.getScaleInput()) {
    const uint64_t xsAt = llvm::alignTo(grouped ? groupedEnd : mBytes, 256);
    const uint64_t onesAt = llvm::alignTo(xsAt + pairs * uint64_t(H) * es, 256);
    Value xs = b.scratch(x.getLoc(), xsAt, pairs * uint64_t(H) * es,
                         uint64_t(K * H), xt);
    Value ones = b.scratch(x.getLoc(), onesAt, pairs * uint64_t(bytesOf(rt)),
                           uint64_t(K), rt);
    Call sc;
    sc.callee = "moe_scale_input";
    sc.entry = llvm::formatv("moe_scale_input_h{0}_k{1}_{2}_w{3}", H, K,
                             typeTag(xt), typeTag(rt))
                   .str();
    sc.templateArgs = {b.i(H), b.i(K), b.type(xt), b.type(rt)};
    sc.args = {b.numTokens()};
    sc.args.push_back(b.operand(sc, in));
    sc.args.push_back(b.operand(sc, weights));
    sc.args.push_back(b.operand(sc, xs, true));
    sc.args.push_back(b.operand(sc, ones, true));
    sc.grid = {ceilDiv(H, 256), 1, 1};
    sc.block = 256;
    sc.tokensPerBlock = 1;
    sc.tokenAxis = 1;
    b.create(x.getLoc(), std::move(sc));
    in = xs;
    weights = ones;
    pairTag = "_pairs";
  }

  const bool extras = x.getGateUpBias() || x.getSwigluLimit();
  if (quant) {
    lowerQuantizedPairs(x, in, weights, m, pairTag, qfmt, guQuant, quant,
                        pairMax, b);
  } else if (shared) {
    lowerSharedPairs(x, in, weights, m, pairTag, *shared, b);
    return success();
  } else {
    const bool vecUp = vectorized(xt, wt, H);
    Call up;
    up.callee = "moe_gate_up";
    up.entry = "moe_gate_up_" + shape + "_" + typeTag(xt) + "_" + typeTag(wt) +
               "_act" + std::to_string(act) + (vecUp ? "" : "_scalar") +
               pairTag;
    up.templateArgs = {b.i(E),     b.i(H),     b.i(I),
                       b.i(K),     b.i(act),   b.flag(vecUp),
                       b.type(xt), b.type(wt), b.type(xt)};
    if (!pairTag.empty() || extras)
      up.templateArgs.push_back(b.i(pairTag.empty() ? K : 1)); // XDIV
    up.args = {b.numTokens()};
    up.args.push_back(b.operand(up, in));
    up.args.push_back(b.operand(up, x.getExpertIds()));
    up.args.push_back(b.operand(up, x.getGateUp()));
    up.args.push_back(b.operand(up, m, true));
    addGateUpExtras(up, x, b);
    up.grid = {int32_t(K), ceilDiv(I, 8), 1};
    up.block = 256;
    up.tokensPerBlock = 1;
    up.tokenAxis = 0;
    up.maxTokens = pairMax;
    up.hot = true;
    b.create(x.getLoc(), std::move(up));

    const bool vecDown = vectorized(xt, wt, I);
    Call dn;
    dn.callee = "moe_down";
    dn.entry = "moe_down_" + shape + "_" + typeTag(xt) + "_" + typeTag(wt) +
               "_w" + typeTag(rt) + (vecDown ? "" : "_scalar");
    dn.templateArgs = {b.i(E),     b.i(H),          b.i(I),
                       b.i(K),     b.flag(vecDown), b.type(xt),
                       b.type(wt), b.type(rt),      b.type(xt)};
    dn.args = {b.numTokens()};
    dn.args.push_back(b.operand(dn, m));
    dn.args.push_back(b.operand(dn, weights));
    dn.args.push_back(b.operand(dn, x.getExpertIds()));
    dn.args.push_back(b.operand(dn, x.getDown()));
    dn.args.push_back(b.operand(dn, x.getResult(), true));
    addDownBias(dn, x, b);
    dn.grid = {1, ceilDiv(H, 8), 1};
    dn.block = 256;
    dn.tokensPerBlock = 1;
    dn.tokenAxis = 0;
    dn.maxTokens = pairMax;
    dn.hot = true;
    b.create(x.getLoc(), std::move(dn));
  }
  if (!grouped)
    return success();

  // Prefill: yp [T * K, H] (each pair's down output), then the sort's
  // segment starts, tile starts and permutation.
  Type i32 = IntegerType::get(b.context(), 32);
  Value yp = b.scratch(x.getLoc(), ypAt, pairs * uint64_t(H) * es,
                       uint64_t(K * H), xt);
  Value seg = b.scratch(x.getLoc(), segAt, uint64_t(E + 1) * 4, 0, i32);
  Value tiles = b.scratch(x.getLoc(), tilesAt, uint64_t(E + 1) * 4, 0, i32);
  Value perm = b.scratch(x.getLoc(), permAt, pairs * 4, uint64_t(K), i32);
  const int32_t tileBlocks = int32_t(
      std::min<int64_t>(kMaxTileBlocks, (int64_t(pairs) + 63) / 64 + E));
  auto prefillOnly = [](Call &c) {
    c.minTokens = int32_t(kPairTokens + 1);
    c.maxTokens = 0;
    c.hot = true;
  };

  Call sort;
  sort.callee = "moe_sort";
  sort.entry = llvm::formatv("moe_sort_e{0}_k{1}", E, K).str();
  sort.templateArgs = {b.i(E), b.i(K)};
  sort.args = {b.numTokens()};
  sort.args.push_back(b.operand(sort, x.getExpertIds()));
  sort.args.push_back(b.operand(sort, seg, true));
  sort.args.push_back(b.operand(sort, tiles, true));
  sort.args.push_back(b.operand(sort, perm, true));
  sort.grid = {1, 1, 1};
  sort.block = 256;
  prefillOnly(sort);
  b.create(x.getLoc(), std::move(sort));

  // One grouped GEMM: columns [0, n) of each pair's row of `out` from the
  // rows of `in` (x rows of the pairs' tokens, or the pairs' own m rows).
  auto groupedGemm = [&](const char *callee, std::string entry,
                         SmallVector<Attribute> templateArgs, Value in,
                         Value weight, Value out, int64_t n) -> Call {
    Call c;
    c.callee = callee;
    c.entry = std::move(entry);
    c.templateArgs = std::move(templateArgs);
    c.args = {b.numTokens()};
    c.args.push_back(b.operand(c, in));
    c.args.push_back(b.operand(c, seg));
    c.args.push_back(b.operand(c, tiles));
    c.args.push_back(b.operand(c, perm));
    c.args.push_back(b.operand(c, weight));
    if (quant)
      c.args.push_back(b.scalesOf(c, weight));
    c.args.push_back(b.operand(c, out, true));
    c.grid = {ceilDiv(n, 64), tileBlocks, 1};
    c.block = 128;
    prefillOnly(c);
    return c;
  };
  // The template's K only divides the pair index into x's row: 1 reads
  // the pairs' own scaled rows.
  // Quantized: the format, block and scale type after the shape.
  auto quantArgs = [&](llm::QuantWeightType q) -> SmallVector<Attribute> {
    return {b.i(qfmt), b.i(q.getBlock()[1]), b.i(q.getBlock()[2])};
  };
  const std::string qTag =
      quant ? std::string(qfmt == 1 ? "_mxfp4" : "_e4m3") : std::string();
  SmallVector<Attribute> guArgs = {b.i(E), b.i(H), b.i(I),
                                   b.i(pairTag.empty() ? K : 1), b.i(act)};
  if (quant) {
    guArgs.append(quantArgs(guQuant));
    guArgs.append({b.type(xt), b.type(guQuant.getScale())});
  } else {
    guArgs.push_back(b.type(xt));
  }
  Call gu = groupedGemm(
      quant ? "moe_gate_up_grouped_q" : "moe_gate_up_grouped",
      "moe_gate_up_grouped" + qTag + "_" + shape +
          (quant ? llvm::formatv("_b{0}x{1}", guQuant.getBlock()[1],
                                 guQuant.getBlock()[2])
                       .str()
                 : "") +
          "_" + typeTag(xt) + "_act" + std::to_string(act) + pairTag,
      guArgs, in, x.getGateUp(), m, I);
  addGateUpExtras(gu, x, b);
  b.create(x.getLoc(), std::move(gu));
  SmallVector<Attribute> gdArgs = {b.i(E), b.i(H), b.i(I), b.i(K)};
  if (quant) {
    gdArgs.append(quantArgs(quant));
    gdArgs.append({b.type(xt), b.type(quant.getScale())});
  } else {
    gdArgs.push_back(b.type(xt));
  }
  Call gd =
      groupedGemm(quant ? "moe_down_grouped_q" : "moe_down_grouped",
                  "moe_down_grouped" + qTag + "_" + shape +
                      (quant ? llvm::formatv("_b{0}x{1}", quant.getBlock()[1],
                                             quant.getBlock()[2])
                                   .str()
                             : "") +
                      "_" + typeTag(xt),
                  gdArgs, m, x.getDown(), yp, H);
  addDownBias(gd, x, b);
  b.create(x.getLoc(), std::move(gd));

  Call comb;
  comb.callee = "moe_combine";
  comb.entry = llvm::formatv("moe_combine_h{0}_k{1}_{2}_w{3}", H, K,
                             typeTag(xt), typeTag(rt))
                   .str();
  comb.templateArgs = {b.i(H), b.i(K), b.type(rt), b.type(xt)};
  comb.args = {b.numTokens()};
  comb.args.push_back(b.operand(comb, yp));
  comb.args.push_back(b.operand(comb, weights));
  comb.args.push_back(b.operand(comb, x.getResult(), true));
  comb.grid = {ceilDiv(H, 256), 1, 1};
  comb.block = 256;
  comb.tokensPerBlock = 1;
  comb.tokenAxis = 1;
  prefillOnly(comb);
  b.create(x.getLoc(), std::move(comb));
  return success();
}

FailureOr<unsigned> experts(ArrayRef<Operation *> ops, unsigned first,
                            KernelBuilder &b) {
  auto x = dyn_cast<llm::MoEExpertsOp>(ops[first]);
  if (!x)
    return 0u;
  if (failed(lowerExperts(x, b, nullptr)))
    return failure();
  return 1u;
}

/// The routed experts and their shared expert, up to kPairTokens tokens
/// (decode): two launches instead of the routed pair's two plus the shared
/// expert's gate/up, down, gate and sum. More tokens run each op's own
/// kernels (the shared expert as dense GEMMs on tensor cores). Shapes
/// allow it when everything is one 16-bit or f32 type, unquantized,
/// without gpt-oss's biases or clamped SwiGLU (no family has both).
FailureOr<unsigned> expertsWithShared(ArrayRef<Operation *> ops, unsigned first,
                                      KernelBuilder &b) {
  auto x = dyn_cast<llm::MoEExpertsOp>(ops[first]);
  if (!x || first + 3 >= ops.size())
    return 0u;
  SharedExpert sh;
  sh.gateUp = dyn_cast<llm::GatedLinearOp>(ops[first + 1]);
  sh.down = dyn_cast<llm::LinearOp>(ops[first + 2]);
  unsigned n = 4;
  if (!sh.gateUp || !sh.down)
    return 0u;
  sh.gate = dyn_cast<llm::SigmoidGateOp>(ops[first + 3]);
  if (sh.gate) {
    if (first + 4 >= ops.size())
      return 0u;
    n = 5;
  }
  sh.sum = dyn_cast<llm::AddOp>(ops[first + n - 1]);
  if (!sh.sum)
    return 0u;
  Value sharedOut = sh.gate ? sh.gate.getResult() : sh.down.getResult();
  auto isPair = [](Value a, Value b, Value c, Value d) {
    return (a == c && b == d) || (a == d && b == c);
  };
  if (sh.gateUp.getInput() != x.getInput() ||
      sh.down.getInput() != sh.gateUp.getResult() || sh.down.getBias() ||
      (sh.gate && (sh.gate.getInput() != x.getInput() ||
                   sh.gate.getValue() != sh.down.getResult())) ||
      !isPair(sh.sum.getLhs(), sh.sum.getRhs(), x.getResult(), sharedOut) ||
      !x.getResult().hasOneUse() || !sh.gateUp.getResult().hasOneUse() ||
      !sh.down.getResult().hasOneUse() ||
      (sh.gate && !sh.gate.getResult().hasOneUse()))
    return 0u;
  if (x.getGateUpBias() || x.getDownBias() || x.getSwigluLimit())
    return 0u;
  Type xt = elementOf(x.getInput());
  for (Value w :
       SmallVector<Value>{x.getGateUp(), x.getDown(), sh.gateUp.getGateWeight(),
                          sh.gateUp.getUpWeight(), sh.down.getWeight()}) {
    auto t = dyn_cast<RankedTensorType>(w.getType());
    if (!t || t.getElementType() != xt)
      return 0u;
  }
  for (Value v : SmallVector<Value>{x.getResult(), sh.gateUp.getResult(),
                                    sh.down.getResult(), sh.sum.getResult()})
    if (elementOf(v) != xt)
      return 0u;
  if (sh.gate && !isa<RankedTensorType>(sh.gate.getWeight().getType()))
    return 0u;

  {
    KernelBuilder::TokenRange decode(b, 1, int32_t(kPairTokens));
    if (failed(lowerExperts(x, b, &sh)))
      return failure();
  }
  if (b.info().maxTokens > kPairTokens) {
    KernelBuilder::TokenRange rest(b, int32_t(kPairTokens + 1), 0);
    for (unsigned i = first; i < first + n; ++i) {
      FailureOr<unsigned> taken = b.select(ops.slice(i, 1), 0);
      if (failed(taken))
        return failure();
      if (*taken == 0)
        return ops[i]->emitOpError("no generated kernel runs this op");
    }
  }
  return n;
}

/// llm.sigmoid_gate: one block per token, warp 0 the gate's dot product.
FailureOr<unsigned> sigmoidGate(ArrayRef<Operation *> ops, unsigned first,
                                KernelBuilder &b) {
  auto g = dyn_cast<llm::SigmoidGateOp>(ops[first]);
  if (!g)
    return 0u;
  auto w = cast<RankedTensorType>(g.getWeight().getType());
  const int64_t H = w.getDimSize(1);
  const int64_t N = cast<RankedTensorType>(g.getType()).getDimSize(1);
  Type xt = elementOf(g.getInput()), wt = w.getElementType(),
       yt = elementOf(g.getValue());
  Call c;
  c.callee = "sigmoid_gate";
  c.entry = llvm::formatv("sigmoid_gate_h{0}_n{1}_{2}_{3}_{4}", H, N,
                          typeTag(xt), typeTag(wt), typeTag(yt))
                .str();
  c.templateArgs = {b.i(H), b.i(N), b.type(xt), b.type(wt), b.type(yt)};
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, g.getInput()));
  c.args.push_back(b.operand(c, g.getWeight()));
  c.args.push_back(b.operand(c, g.getValue()));
  c.args.push_back(b.operand(c, g.getResult(), true));
  c.grid = {1, 1, 1};
  c.block = 256;
  c.tokensPerBlock = 1;
  c.tokenAxis = 0;
  b.create(g.getLoc(), std::move(c));
  return 1u;
}

} // namespace

void addMoERecipes(SmallVectorImpl<Recipe> &fusions,
                   SmallVectorImpl<Recipe> &single) {
  fusions.push_back(expertsWithShared);
  single.push_back(router);
  single.push_back(experts);
  single.push_back(sigmoidGate);
}

} // namespace llmc::kernel_select
