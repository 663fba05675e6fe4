//===- MatmulRecipes.cpp - linear, gated linear and LM head kernels -------===//
//
// Every matmul gets a GEMV launch (templates/gemv.cuh: one warp per output
// row, 8 rows per block) for steps of at most kGemvTokens tokens, and a
// GEMM launch above (when max_tokens allows such steps): mma.sync tensor
// cores (templates/gemm_mma.cuh) when x, W and y share a 16-bit type, fp32
// SIMT (templates/gemm_simt.cuh) otherwise; bias and GLU in the epilogue.
// Fusion: 2-3 linears in a row over the same x (a layer's Q, K and V), with
// the same input size and types, share one gemv_multi launch where no
// output lands on x or on another output; each keeps its own GEMM.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace llmc::kernel_select {
namespace {

constexpr int kGemvTokens = 16;

/// One matmul: y = act(x W^T [, x W2^T]) + bias.
struct Matmul {
  Value x, w, w2, bias, y; // w2 and bias may be null
  int64_t k = 0, n = 0;
  int act = -1; // gated: the llm.Activation; -1: plain
};

std::string shapeTag(const Matmul &m) {
  return llvm::formatv("n{0}_k{1}", m.n, m.k);
}
std::string typesTag(const Matmul &m) {
  return typeTag(elementOf(m.x)) + "_" + typeTag(elementOf(m.w)) + "_" +
         typeTag(elementOf(m.y));
}
std::string flagsTag(const Matmul &m) {
  return std::string(m.bias ? "_bias" : "") +
         (m.act >= 0 ? "_act" + std::to_string(m.act) : "");
}

/// Whether the GEMV reads 16-byte vectors of W and x.
bool gemvVectorized(Value x, Value w, int64_t k) {
  int64_t v = 16 / bytesOf(elementOf(w));
  return k % v == 0 && (k * bytesOf(elementOf(x))) % 16 == 0;
}

/// The call arguments after x and W: [W2 | null], [bias | null], y.
void tailArgs(Call &c, const Matmul &m, KernelBuilder &b) {
  const bool gated = m.act >= 0;
  c.args.push_back(gated ? b.operand(c, m.w2) : b.null(elementOf(m.w)));
  Type biasType = m.bias ? elementOf(m.bias) : Float32Type::get(b.context());
  c.args.push_back(m.bias ? b.operand(c, m.bias) : b.null(biasType));
  c.args.push_back(b.operand(c, m.y, true));
}

void gemv(const char *kind, const Matmul &m, Location loc, KernelBuilder &b) {
  const bool gated = m.act >= 0, vec = gemvVectorized(m.x, m.w, m.k);
  const bool gemmNeeded = b.info().maxTokens > kGemvTokens;
  Type biasType = m.bias ? elementOf(m.bias) : Float32Type::get(b.context());
  Call c;
  c.callee = "gemv";
  c.entry = std::string(kind) + "_gemv_" + shapeTag(m) + "_" + typesTag(m) +
            flagsTag(m) + (vec ? "" : "_scalar");
  // Tokens per pass: two rows' sums fit at 4.
  c.templateArgs = {b.i(m.n),          b.i(m.k),
                    b.i(gated ? 4 : 8), b.flag(vec),
                    b.flag(bool(m.bias)), b.flag(gated),
                    b.i(gated ? m.act : 0), b.type(elementOf(m.x)),
                    b.type(elementOf(m.w)), b.type(biasType),
                    b.type(elementOf(m.y))};
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, m.x));
  c.args.push_back(b.operand(c, m.w));
  tailArgs(c, m, b);
  c.grid = {ceilDiv(m.n, 8), 1, 1};
  c.block = 256;
  c.minTokens = 1;
  c.maxTokens = gemmNeeded ? kGemvTokens : 0;
  c.hot = true;
  b.create(loc, std::move(c));
}

void gemm(const char *kind, const Matmul &m, Location loc, KernelBuilder &b) {
  if (b.info().maxTokens <= kGemvTokens)
    return;
  const bool gated = m.act >= 0;
  Type xt = elementOf(m.x), wt = elementOf(m.w), yt = elementOf(m.y);
  Type biasType = m.bias ? elementOf(m.bias) : Float32Type::get(b.context());
  // Tensor cores when x, W and y share a 16-bit type.
  const bool mma = xt == wt && xt == yt && (xt.isBF16() || xt.isF16()) &&
                   m.k % 32 == 0;
  Call c;
  c.callee = mma ? "gemm_mma" : "gemm_simt";
  c.entry = std::string(kind) + (mma ? "_gemm_mma_" : "_gemm_simt_") +
            shapeTag(m) + "_" + typesTag(m) + flagsTag(m);
  c.templateArgs = {b.i(m.n), b.i(m.k), b.flag(bool(m.bias)), b.flag(gated),
                    b.i(gated ? m.act : 0), b.type(xt)};
  if (!mma)
    c.templateArgs.push_back(b.type(wt));
  c.templateArgs.push_back(b.type(biasType));
  c.templateArgs.push_back(b.type(yt));
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, m.x));
  c.args.push_back(b.operand(c, m.w));
  tailArgs(c, m, b);
  c.grid = {ceilDiv(m.n, 64), 1, 1};
  c.block = mma ? 128 : 256;
  c.tokensPerBlock = 64;
  c.tokenAxis = 1;
  c.minTokens = kGemvTokens + 1;
  c.maxTokens = 0;
  c.hot = true;
  b.create(loc, std::move(c));
}

Matmul ofLinear(llm::LinearOp l) {
  auto w = cast<RankedTensorType>(l.getWeight().getType());
  return {l.getInput(), l.getWeight(), Value(), l.getBias(), l.getResult(),
          w.getDimSize(1), w.getDimSize(0), -1};
}

/// A linear over a quantized weight, the codes dequantized in registers
/// (up to kGemvTokens tokens, or every step size when tensor cores do not
/// apply), 4 tokens per pass: FP8 blocks with f32 scales run gemv_e4m3 (8 tokens took 146
/// registers with f32 activations, 4 takes 99; bf16: 46); int4 groups
/// along a row ([1, G], an even row length) with f16, bf16 or f32 scales
/// run gemv_i4, int8 ones gemv_i8 (the same template, gemv_int).
/// A quantized-weight GEMV launch: a warp per row, 8 rows per block, for
/// every step (or up to 16 tokens when a tensor-core GEMM takes the rest).
void quantizedGemvGeometry(Call &c, int64_t n, bool mma) {
  c.grid = {ceilDiv(n, 8), 1, 1};
  c.block = 256;
  c.minTokens = 1;
  c.maxTokens = mma ? kGemvTokens : 0;
  c.hot = true;
}

/// A tensor-core GEMM launch past 16 tokens: 64 x 64 tiles of y (features
/// on x, tokens on y), 4 warps.
void tensorCoreGeometry(Call &g, int64_t n) {
  g.grid = {ceilDiv(n, 64), 1, 1};
  g.block = 128;
  g.tokensPerBlock = 64;
  g.tokenAxis = 1;
  g.minTokens = kGemvTokens + 1;
  g.maxTokens = 0;
  g.hot = true;
}

/// A linear with fp8_activations (f8E4M3FN weight in blocks of 128 input
/// features): act_quant_e4m3 quantizes x per token and 128 features, then
/// up to 16 tokens gemv_e4m3 reads x' = code * scale (fp32, in scratch),
/// more run gemm_mma_fp8 on FP8 tensor cores over the codes and scales.
FailureOr<unsigned> fp8ActivationLinear(llm::LinearOp l,
                                        llm::QuantWeightType q,
                                        KernelBuilder &b) {
  const int64_t n = q.getShape()[0], k = q.getShape()[1];
  const int64_t bn = q.getBlock()[0], bk = q.getBlock()[1];
  const int64_t groups = k / llm::kFp8ActivationGroup;
  Value x = l.getInput(), y = l.getResult(), bias = l.getBias();
  Type xt = elementOf(x), yt = elementOf(y);
  Type f32 = Float32Type::get(b.context());
  Type i32 = IntegerType::get(b.context(), 32);
  Type biasType = bias ? elementOf(bias) : f32;
  const std::string biasTag =
      bias ? "_bias" + typeTag(biasType) : std::string();
  const int64_t maxT = b.info().maxTokens;
  const bool mma = maxT > kGemvTokens;
  auto quantize = [&](bool fake, Value out, Value codes, Value scales,
                      int32_t minT, int32_t maxTokens) {
    Call c;
    c.callee = "act_quant_e4m3";
    c.entry = llvm::formatv("act_quant_e4m3_k{0}_{1}_{2}", k,
                            fake ? "fake" : "codes", typeTag(xt))
                  .str();
    c.templateArgs = {b.i(k), b.flag(fake), b.type(xt)};
    c.args = {b.operand(c, x)};
    c.args.push_back(fake ? b.operand(c, out, true) : b.nullOutput(f32));
    c.args.push_back(fake ? b.nullOutput(i32) : b.operand(c, codes, true));
    c.args.push_back(fake ? b.nullOutput(f32) : b.operand(c, scales, true));
    c.grid = {ceilDiv(groups, 4), 1, 1};
    c.block = 128;
    c.tokensPerBlock = 1;
    c.tokenAxis = 1;
    c.minTokens = minT;
    c.maxTokens = maxTokens;
    b.create(l.getLoc(), std::move(c));
  };

  // Up to 16 tokens: x' in fp32, then the FP8-weight GEMV over it.
  const int64_t gemvT = mma ? kGemvTokens : maxT;
  Value fake = b.scratch(l.getLoc(), 0, uint64_t(gemvT) * uint64_t(k) * 4,
                         uint64_t(k), f32);
  quantize(true, fake, Value(), Value(), 1, mma ? kGemvTokens : 0);
  Call c;
  c.callee = "gemv_e4m3";
  c.entry = llvm::formatv("linear_gemv_e4m3_n{0}_k{1}_b{2}x{3}_f32_{4}{5}",
                          n, k, bn, bk, typeTag(yt), biasTag)
                .str();
  c.templateArgs = {b.i(n),  b.i(k),           b.i(bn),          b.i(bk),
                    b.i(4),  b.flag(bool(bias)), b.type(f32),
                    b.type(biasType), b.type(yt)};
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, fake));
  c.args.push_back(b.operand(c, l.getWeight()));
  c.args.push_back(b.scalesOf(c, l.getWeight()));
  c.args.push_back(bias ? b.operand(c, bias) : b.null(biasType));
  c.args.push_back(b.operand(c, y, true));
  quantizedGemvGeometry(c, n, mma);
  b.create(l.getLoc(), std::move(c));
  if (!mma)
    return 1u;

  // More: codes and scales, then FP8 tensor cores.
  const uint64_t codeBytes = uint64_t(maxT) * uint64_t(k);
  Value codes = b.scratch(l.getLoc(), 0, codeBytes, uint64_t(k / 4), i32);
  Value scales =
      b.scratch(l.getLoc(), llvm::alignTo(codeBytes, 256),
                uint64_t(maxT) * uint64_t(groups) * 4, uint64_t(groups), f32);
  quantize(false, Value(), codes, scales, kGemvTokens + 1, 0);
  Call g;
  g.callee = "gemm_mma_fp8";
  g.entry = llvm::formatv("linear_gemm_mma_fp8_n{0}_k{1}_b{2}x{3}_{4}{5}", n,
                          k, bn, bk, typeTag(yt), biasTag)
                .str();
  g.templateArgs = {b.i(n), b.i(k), b.i(bn), b.flag(bool(bias)),
                    b.type(biasType), b.type(yt)};
  g.args = {b.numTokens()};
  g.args.push_back(b.operand(g, codes));
  g.args.push_back(b.operand(g, scales));
  g.args.push_back(b.operand(g, l.getWeight()));
  g.args.push_back(b.scalesOf(g, l.getWeight()));
  g.args.push_back(bias ? b.operand(g, bias) : b.null(biasType));
  g.args.push_back(b.operand(g, y, true));
  tensorCoreGeometry(g, n);
  b.create(l.getLoc(), std::move(g));
  return 1u;
}

FailureOr<unsigned> quantizedLinear(llm::LinearOp l, llm::QuantWeightType q,
                                    KernelBuilder &b) {
  if (l.getFp8Activations())
    return fp8ActivationLinear(l, q, b);
  const bool fp8 = isa<Float8E4M3FNType>(q.getStorage()) &&
                   q.getScale().isF32();
  const bool rowGroups = q.getBlock()[0] == 1 &&
                         (q.getScale().isF16() || q.getScale().isBF16() ||
                          q.getScale().isF32());
  const bool i4 = q.getStorage().isInteger(4) && rowGroups &&
                  q.getShape()[1] % 2 == 0;
  const bool i8 = q.getStorage().isInteger(8) && rowGroups;
  if ((!fp8 && !i4 && !i8) || (fp8 && q.getZero()))
    return l.emitOpError("has a quantized weight (")
           << q
           << "): the CUDA kernels read f8E4M3FN values with f32 scales, and "
              "i4 (rows of an even length) and i8 values in groups along a "
              "row with f16, bf16 or f32 scales and optional zero points";
  const int64_t n = q.getShape()[0], k = q.getShape()[1];
  const int64_t bn = q.getBlock()[0], bk = q.getBlock()[1];
  Value x = l.getInput(), y = l.getResult(), bias = l.getBias();
  Type xt = elementOf(x), yt = elementOf(y);
  Type biasType = bias ? elementOf(bias) : Float32Type::get(b.context());
  const std::string biasTag =
      bias ? "_bias" + typeTag(biasType) : std::string();
  Call c;
  if (fp8) {
    c.callee = "gemv_e4m3";
    c.entry = llvm::formatv("linear_gemv_e4m3_n{0}_k{1}_b{2}x{3}_{4}_{5}{6}",
                            n, k, bn, bk, typeTag(xt), typeTag(yt), biasTag)
                  .str();
    c.templateArgs = {b.i(n),     b.i(k),           b.i(bn),
                      b.i(bk),    b.i(4),           b.flag(bool(bias)),
                      b.type(xt), b.type(biasType), b.type(yt)};
  } else {
    c.callee = i4 ? "gemv_i4" : "gemv_i8";
    c.entry = llvm::formatv("linear_{0}_n{1}_k{2}_g{3}_s{4}{5}_{6}_{7}{8}",
                            c.callee, n, k, bk, typeTag(q.getScale()),
                            q.getZero() ? "_zp" : "", typeTag(xt),
                            typeTag(yt), biasTag)
                  .str();
    c.templateArgs = {b.i(n),
                      b.i(k),
                      b.i(bk),
                      b.i(4),
                      b.flag(bool(bias)),
                      b.flag(bool(q.getZero())),
                      b.type(xt),
                      b.type(q.getScale()),
                      b.type(biasType),
                      b.type(yt)};
  }
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, x));
  c.args.push_back(b.operand(c, l.getWeight()));
  c.args.push_back(b.scalesOf(c, l.getWeight()));
  if (!fp8)
    c.args.push_back(q.getZero()
                         ? b.zerosOf(c, l.getWeight())
                         : b.null(IntegerType::get(b.context(), 8)));
  c.args.push_back(bias ? b.operand(c, bias) : b.null(biasType));
  c.args.push_back(b.operand(c, y, true));
  // Steps of more tokens run on tensor cores when x and y share a 16-bit
  // type and every scale block is whole k steps of 32.
  const bool mma = b.info().maxTokens > kGemvTokens && xt == yt &&
                   (xt.isBF16() || xt.isF16()) && k % 32 == 0 &&
                   (bk % 32 == 0 || bk >= k);
  quantizedGemvGeometry(c, n, mma);
  b.create(l.getLoc(), std::move(c));
  if (!mma)
    return 1u;

  // gemm_mma_q: codes (minus zero points) as exact 16-bit values in the
  // tiles, scales on the accumulators once per block of columns.
  const int qfmt = fp8 ? 0 : i4 ? 2 : 3; // QFMT_E4M3, QFMT_I4, QFMT_I8
  Call g;
  g.callee = "gemm_mma_q";
  g.entry = llvm::formatv("linear_gemm_mma_{0}_n{1}_k{2}_b{3}x{4}_s{5}{6}_{7}{8}",
                          fp8 ? "e4m3" : i4 ? "i4" : "i8", n, k, bn, bk,
                          typeTag(q.getScale()), q.getZero() ? "_zp" : "",
                          typeTag(xt), biasTag)
                .str();
  g.templateArgs = {b.i(qfmt),       b.i(n),           b.i(k),
                    b.i(bn),         b.i(bk),          b.flag(bool(q.getZero())),
                    b.flag(bool(bias)), b.type(xt),    b.type(q.getScale()),
                    b.type(biasType), b.type(yt)};
  g.args = {b.numTokens()};
  g.args.push_back(b.operand(g, x));
  g.args.push_back(b.operand(g, l.getWeight()));
  g.args.push_back(b.scalesOf(g, l.getWeight()));
  g.args.push_back(q.getZero() ? b.zerosOf(g, l.getWeight())
                               : b.null(IntegerType::get(b.context(), 8)));
  g.args.push_back(bias ? b.operand(g, bias) : b.null(biasType));
  g.args.push_back(b.operand(g, y, true));
  tensorCoreGeometry(g, n);
  b.create(l.getLoc(), std::move(g));
  return 1u;
}

FailureOr<unsigned> linear(ArrayRef<Operation *> ops, unsigned first,
                           KernelBuilder &b) {
  if (auto l = dyn_cast<llm::LinearOp>(ops[first])) {
    if (auto q = dyn_cast<llm::QuantWeightType>(l.getWeight().getType()))
      return quantizedLinear(l, q, b);
    Matmul m = ofLinear(l);
    gemv("linear", m, l.getLoc(), b);
    gemm("linear", m, l.getLoc(), b);
    return 1u;
  }
  if (auto h = dyn_cast<llm::LMHeadOp>(ops[first])) {
    auto w = cast<RankedTensorType>(h.getWeight().getType());
    Matmul m{h.getInput(),   h.getWeight(),   Value(), Value(), h.getResult(),
             w.getDimSize(1), w.getDimSize(0), -1};
    gemv("lm_head", m, h.getLoc(), b);
    gemm("lm_head", m, h.getLoc(), b);
    return 1u;
  }
  if (auto g = dyn_cast<llm::GatedLinearOp>(ops[first])) {
    auto w = cast<RankedTensorType>(g.getGateWeight().getType());
    Matmul m{g.getInput(),    g.getGateWeight(), g.getUpWeight(),
             Value(),         g.getResult(),     w.getDimSize(1),
             w.getDimSize(0), int(g.getActivation())};
    gemv("gated_linear", m, g.getLoc(), b);
    gemm("gated_linear", m, g.getLoc(), b);
    return 1u;
  }
  return 0u;
}

/// Two or three linears in a row over the same x: one gemv_multi launch.
FailureOr<unsigned> linearRun(ArrayRef<Operation *> ops, unsigned first,
                              KernelBuilder &b) {
  SmallVector<llm::LinearOp> run;
  for (unsigned i = first; i < ops.size() && run.size() < 3; ++i) {
    auto l = dyn_cast<llm::LinearOp>(ops[i]);
    if (!l || !isa<RankedTensorType>(l.getWeight().getType()))
      break;
    if (!run.empty()) {
      Matmul head = ofLinear(run.front()), m = ofLinear(l);
      bool biasTypesAgree = !head.bias || !m.bias ||
                            elementOf(head.bias) == elementOf(m.bias);
      if (!b.same(m.x, head.x) || m.k != head.k ||
          elementOf(m.w) != elementOf(head.w) ||
          elementOf(m.y) != elementOf(head.y) || !biasTypesAgree)
        break;
    }
    run.push_back(l);
  }
  if (run.size() < 2)
    return 0u;
  // Run at once, no output may land on x or on another output.
  Value x = run.front().getInput();
  for (size_t i = 0; i < run.size(); ++i) {
    Value y = run[i].getResult();
    if (b.overlap(y, x))
      return 0u;
    for (size_t j = 0; j < i; ++j)
      if (b.overlap(y, run[j].getResult()))
        return 0u;
  }

  Matmul head = ofLinear(run.front());
  Type xt = elementOf(x), wt = elementOf(head.w), yt = elementOf(head.y);
  Type biasType = Float32Type::get(b.context());
  for (llm::LinearOp l : run)
    if (l.getBias())
      biasType = elementOf(l.getBias());
  const bool vec = gemvVectorized(x, head.w, head.k);
  auto hasBias = [&](size_t i) { return i < run.size() && run[i].getBias(); };

  Call c;
  c.callee = "gemv_multi";
  c.args = {b.numTokens()};
  c.args.push_back(b.operand(c, x));
  std::string name = "linear_gemv" + std::to_string(run.size());
  std::string biasFlags;
  std::array<int64_t, 3> n{0, 0, 0};
  int32_t blocks = 0;
  SmallVector<Location> locs;
  for (size_t i = 0; i < 3; ++i) {
    if (i >= run.size()) {
      c.args.push_back(b.null(wt));
      c.args.push_back(b.null(biasType));
      c.args.push_back(b.nullOutput(yt));
      continue;
    }
    Matmul m = ofLinear(run[i]);
    n[i] = m.n;
    c.args.push_back(b.operand(c, m.w));
    c.args.push_back(m.bias ? b.operand(c, m.bias) : b.null(biasType));
    c.args.push_back(b.operand(c, m.y, true));
    name += "_n" + std::to_string(m.n);
    biasFlags += m.bias ? "b" : "";
    blocks += ceilDiv(m.n, 8);
    locs.push_back(run[i].getLoc());
  }
  name += llvm::formatv("_k{0}_{1}_{2}_{3}", head.k, typeTag(xt), typeTag(wt),
                        typeTag(yt))
              .str();
  if (!biasFlags.empty())
    name += "_bias" + std::to_string(bool(hasBias(0))) +
            std::to_string(bool(hasBias(1))) + std::to_string(bool(hasBias(2)));
  if (!vec)
    name += "_scalar";
  c.entry = name;
  c.templateArgs = {b.i(n[0]),         b.i(n[1]),         b.i(n[2]),
                    b.i(head.k),       b.i(8),            b.i(8),
                    b.flag(vec),       b.flag(bool(hasBias(0))),
                    b.flag(bool(hasBias(1))), b.flag(bool(hasBias(2))),
                    b.type(xt),        b.type(wt),        b.type(biasType),
                    b.type(yt)};
  c.grid = {blocks, 1, 1};
  c.block = 256;
  c.minTokens = 1;
  c.maxTokens = b.info().maxTokens > kGemvTokens ? kGemvTokens : 0;
  c.hot = true;
  Location loc = FusedLoc::get(b.context(), locs);
  b.create(loc, std::move(c));
  for (llm::LinearOp l : run)
    gemm("linear", ofLinear(l), l.getLoc(), b);
  return unsigned(run.size());
}

} // namespace

void addMatmulRecipes(SmallVectorImpl<Recipe> &fusions,
                      SmallVectorImpl<Recipe> &single) {
  fusions.push_back(linearRun);
  single.push_back(linear);
}

} // namespace llmc::kernel_select
