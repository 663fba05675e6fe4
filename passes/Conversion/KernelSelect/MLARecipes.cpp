//===- MLARecipes.cpp - Multi-head Latent Attention (templates/mla.cuh) ---===//
//
// The latent cache write (norm + RoPE + store, one block per token), the
// absorbed form's three ops, and the expanded llm.mla_attention, which runs
// as the same absorbed kernels (through scratch) until an expanded prefill
// kernel exists: numerically the same attention, with the absorbed form's
// FLOP count (Passes.td, llm-absorb-mla, compares them). The latent
// attention runs on tensor cores (latent_attn_mma) for a 16-bit cache.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"
#include "dialects/llm/IR/RopeFrequencies.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;

namespace llmc::kernel_select {
namespace {

/// The sizes of an MLA layer, from kv_b [H * (N + V), L] and the cache.
struct MLAShape {
  int64_t heads, latent, rope, nope, v;
};

/// Warps per block of the latent split kernel; from 32 heads on each warp
/// holds two (their queries and accumulators fit in registers: 18 + 16
/// floats per lane each at V3's 576/512), so a block serves 32 heads.
constexpr int64_t kMaxWarps = 16;

FailureOr<unsigned> latentCacheWrite(ArrayRef<Operation *> ops,
                                     unsigned first, KernelBuilder &b) {
  auto w = dyn_cast<llm::LatentCacheWriteOp>(ops[first]);
  if (!w)
    return 0u;
  llm::RopeAttr rope = w.getRope();
  std::vector<float> freqs =
      rope::inverseFrequencies(rope.toParams(), b.info().maxSeqLen);
  llm::LatentCacheType cache = w.getCache().getType();
  const bool interleaved = rope.getLayout() == llm::RopeLayout::Interleaved;
  const bool fp32 = w.getFp32();
  const float scaling = float(rope.getAttentionScaling());
  Type xt = elementOf(w.getKv()), wt = elementOf(w.getNormWeight()),
       ct = cache.getDtype();
  Call c;
  c.callee = "latent_cache_write";
  c.entry = llvm::formatv(
      "latent_cache_write_l{0}_r{1}_{2}{3}_{4}_{5}_{6}_{7}", cache.getLatentDim(),
      cache.getRopeDim(), interleaved ? "interleaved" : "half",
      fp32 ? "_fp32" : "", typeTag(xt), typeTag(wt), typeTag(ct),
      hashTag(invFreqDeclaration(freqs) + kernel::cudaFloatLiteral(scaling)));
  c.templateArgs = {b.i(cache.getLatentDim()), b.i(cache.getRopeDim()),
                    b.flag(interleaved), b.flag(fp32), b.type(xt),
                    b.type(wt), b.type(ct)};
  for (Value v : SmallVector<Value>{w.getKv(), w.getNormWeight(), w.getCache(),
                                    w.getSlots(), w.getPositions()})
    c.args.push_back(b.operand(c, v));
  c.args.push_back(b.invFreqTable());
  c.args.push_back(b.f(scaling));
  c.args.push_back(b.f(w.getEps().convertToDouble()));
  c.invFreq = std::move(freqs);
  c.grid = {1, 1, 1};
  c.block = 256;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
  b.create(w.getLoc(), std::move(c));
  return 1u;
}

void absorbQueryCall(Location loc, const MLAShape &s, Value q, Value kvB,
                     Value out, KernelBuilder &b) {
  Type qt = elementOf(q), wt = elementOf(kvB), ot = elementOf(out);
  Call c;
  c.callee = "mla_absorb_query";
  c.entry = llvm::formatv("mla_absorb_query_h{0}_n{1}_r{2}_v{3}_l{4}_{5}_{6}_{7}",
                          s.heads, s.nope, s.rope, s.v, s.latent, typeTag(qt),
                          typeTag(wt), typeTag(ot));
  c.templateArgs = {b.i(s.heads), b.i(s.nope), b.i(s.rope), b.i(s.v),
                    b.i(s.latent), b.type(qt), b.type(wt), b.type(ot)};
  c.args.push_back(b.operand(c, q));
  c.args.push_back(b.operand(c, kvB));
  c.args.push_back(b.operand(c, out, true));
  c.grid = {int32_t(s.heads), 1, 1};
  c.block = 256;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
  b.create(loc, std::move(c));
}

/// Split-KV latent attention into `partial` (at scratch offset
/// `partialOffset`), then the combine into `out`.
/// Split-KV ranges: decode (few tokens) splits long sequences across SMs
/// (about 256 positions per split at the longest, at most 16); a prefill
/// step has blocks enough in its tokens and keeps one.
int64_t splitsFor(KernelBuilder &b) {
  return b.info().decode ? std::clamp<int64_t>(b.info().maxSeqLen / 256, 1, 16)
                         : 1;
}

void latentAttentionCalls(Location loc, const MLAShape &s, Value ql,
                          Value cache, Value slots, Value positions, Value out,
                          double scale, uint64_t partialOffset,
                          KernelBuilder &b) {
  const int64_t splits = splitsFor(b);
  const int64_t hpw = s.heads >= 32 ? 2 : 1;
  const int64_t warps = std::min(kMaxWarps, (s.heads + hpw - 1) / hpw);
  const int64_t hg = warps * hpw; // heads per block
  const int64_t d = s.latent + s.rope;
  // Staged rows stay under 32 KiB of shared memory.
  const int64_t kt = std::clamp<int64_t>(32768 / (4 * d), 1, 16);
  const uint64_t partialBytes = uint64_t(b.info().maxTokens) *
                                uint64_t(s.heads) * uint64_t(splits) *
                                uint64_t(s.latent + 2) * 4;
  Value partial = b.scratch(loc, partialOffset, partialBytes, 0,
                            Float32Type::get(b.context()));
  Type qt = elementOf(ql), ct = elementOf(cache);
  std::string scaleTag =
      hashTag(kernel::cudaFloatLiteral(float(scale)));
  Call split;
  if ((ct.isBF16() || ct.isF16()) && s.latent % 32 == 0 && d % 8 == 0) {
    // Tensor cores: up to 64 heads a block (4 groups of 16 MMA rows, two
    // warps each: 256 threads of at most 255 registers fit an SM's 64 Ki),
    // and latent rows a tile (16 to 64) as many as fit 96 KiB of dynamic
    // shared memory beside their queries, within what sm_86/sm_89 offer
    // (99 KiB; sm_80 163, sm_90 227).
    const int64_t groups = std::min<int64_t>(4, ceilDiv(s.heads, 16));
    const int64_t rowBytes = ((d + 15) / 16 * 16 + 8) * 2;
    int64_t rows = 64;
    while (rows > 16 && (16 * groups + rows) * rowBytes > 96 * 1024)
      rows /= 2;
    split.callee = "latent_attn_mma";
    split.entry = llvm::formatv(
        "latent_attn_mma{0}_h{1}_l{2}_r{3}_g{4}_k{5}_{6}_{7}_{8}", splits,
        s.heads, s.latent, s.rope, 16 * groups, rows, typeTag(qt),
        typeTag(ct), scaleTag);
    split.templateArgs = {b.i(s.heads), b.i(s.latent), b.i(s.rope),
                          b.i(groups),  b.i(splits),   b.i(rows),
                          b.type(qt),   b.type(ct)};
    split.grid = {ceilDiv(s.heads, 16 * groups), 1, int32_t(splits)};
    split.block = int32_t(64 * groups);
    split.dynamicShared = int32_t((16 * groups + rows) * rowBytes);
  } else {
    split.callee = "latent_attn_split";
    split.entry = llvm::formatv(
        "latent_attn_split{0}_h{1}_l{2}_r{3}_g{4}_k{5}_{6}_{7}_{8}", splits,
        s.heads, s.latent, s.rope, hg, kt, typeTag(qt), typeTag(ct), scaleTag);
    split.templateArgs = {b.i(s.heads), b.i(s.latent), b.i(s.rope),
                          b.i(warps),   b.i(hpw),      b.i(splits),
                          b.i(kt),      b.type(qt),    b.type(ct)};
    split.grid = {ceilDiv(s.heads, hg), 1, int32_t(splits)};
    split.block = int32_t(warps * 32);
  }
  for (Value v : SmallVector<Value>{ql, cache, slots, positions})
    split.args.push_back(b.operand(split, v));
  split.args.push_back(b.operand(split, partial, true));
  split.args.push_back(b.f(scale));
  split.tokensPerBlock = 1;
  split.tokenAxis = 1;
  split.hot = true;
  b.create(loc, std::move(split));

  attentionCombineCall(loc, s.heads, s.latent, splits, partial,
                       /*sinks=*/Value(), out, b);
}

void absorbOutputCall(Location loc, const MLAShape &s, Value x, Value kvB,
                      Value out, KernelBuilder &b) {
  Type xt = elementOf(x), wt = elementOf(kvB), ot = elementOf(out);
  Call c;
  c.callee = "mla_absorb_output";
  c.entry = llvm::formatv("mla_absorb_output_h{0}_l{1}_n{2}_v{3}_{4}_{5}_{6}",
                          s.heads, s.latent, s.nope, s.v, typeTag(xt),
                          typeTag(wt), typeTag(ot));
  c.templateArgs = {b.i(s.heads), b.i(s.latent), b.i(s.nope), b.i(s.v),
                    b.type(xt),   b.type(wt),    b.type(ot)};
  c.args.push_back(b.operand(c, x));
  c.args.push_back(b.operand(c, kvB));
  c.args.push_back(b.operand(c, out, true));
  c.grid = {int32_t(s.heads), 1, 1};
  c.block = 256;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
  b.create(loc, std::move(c));
}

MLAShape shapeOf(Value kvB, int64_t heads, int64_t latent, int64_t rope,
                 int64_t v) {
  auto w = cast<RankedTensorType>(kvB.getType());
  return {heads, latent, rope, w.getDimSize(0) / heads - v, v};
}

FailureOr<unsigned> absorbQuery(ArrayRef<Operation *> ops, unsigned first,
                                KernelBuilder &b) {
  auto q = dyn_cast<llm::MLAAbsorbQueryOp>(ops[first]);
  if (!q)
    return 0u;
  auto qt = cast<RankedTensorType>(q.getQuery().getType());
  auto yt = cast<RankedTensorType>(q.getType());
  const int64_t heads = qt.getDimSize(1);
  const int64_t latent =
      cast<RankedTensorType>(q.getKvB().getType()).getDimSize(1);
  const int64_t rope = yt.getDimSize(2) - latent;
  const int64_t nope = qt.getDimSize(2) - rope;
  const int64_t rows =
      cast<RankedTensorType>(q.getKvB().getType()).getDimSize(0);
  MLAShape s{heads, latent, rope, nope, rows / heads - nope};
  absorbQueryCall(q.getLoc(), s, q.getQuery(), q.getKvB(), q.getResult(), b);
  return 1u;
}

FailureOr<unsigned> latentAttention(ArrayRef<Operation *> ops, unsigned first,
                                    KernelBuilder &b) {
  auto a = dyn_cast<llm::LatentAttentionOp>(ops[first]);
  if (!a)
    return 0u;
  llm::LatentCacheType cache = a.getCache().getType();
  MLAShape s{cast<RankedTensorType>(a.getQuery().getType()).getDimSize(1),
             cache.getLatentDim(), cache.getRopeDim(), 0, 0};
  latentAttentionCalls(a.getLoc(), s, a.getQuery(), a.getCache(), a.getSlots(),
                       a.getPositions(), a.getResult(),
                       a.getScale().convertToDouble(), 0, b);
  return 1u;
}

FailureOr<unsigned> absorbOutput(ArrayRef<Operation *> ops, unsigned first,
                                 KernelBuilder &b) {
  auto o = dyn_cast<llm::MLAAbsorbOutputOp>(ops[first]);
  if (!o)
    return 0u;
  auto xt = cast<RankedTensorType>(o.getInput().getType());
  MLAShape s = shapeOf(o.getKvB(), xt.getDimSize(1), xt.getDimSize(2), 0,
                       cast<RankedTensorType>(o.getType()).getDimSize(2));
  absorbOutputCall(o.getLoc(), s, o.getInput(), o.getKvB(), o.getResult(), b);
  return 1u;
}

/// The expanded op: absorbed query, latent attention and output through
/// scratch [query | partials | latent output].
FailureOr<unsigned> mlaAttention(ArrayRef<Operation *> ops, unsigned first,
                                 KernelBuilder &b) {
  auto a = dyn_cast<llm::MLAAttentionOp>(ops[first]);
  if (!a)
    return 0u;
  llm::LatentCacheType cache = a.getCache().getType();
  auto qt = cast<RankedTensorType>(a.getQuery().getType());
  MLAShape s = shapeOf(a.getKvB(), qt.getDimSize(1), cache.getLatentDim(),
                       cache.getRopeDim(),
                       cast<RankedTensorType>(a.getType()).getDimSize(2));
  Type f32 = Float32Type::get(b.context());
  const uint64_t tokens = uint64_t(b.info().maxTokens);
  const uint64_t qlBytes =
      tokens * uint64_t(s.heads) * uint64_t(s.latent + s.rope) * 4;
  const uint64_t olBytes = tokens * uint64_t(s.heads) * uint64_t(s.latent) * 4;
  const int64_t splits = splitsFor(b);
  const uint64_t partialBytes = tokens * uint64_t(s.heads) * uint64_t(splits) *
                                uint64_t(s.latent + 2) * 4;
  Value ql = b.scratch(a.getLoc(), 0, qlBytes, 0, f32);
  Value ol = b.scratch(a.getLoc(), qlBytes + partialBytes, olBytes, 0, f32);
  absorbQueryCall(a.getLoc(), s, a.getQuery(), a.getKvB(), ql, b);
  latentAttentionCalls(a.getLoc(), s, ql, a.getCache(), a.getSlots(),
                       a.getPositions(), ol, a.getScale().convertToDouble(),
                       qlBytes, b);
  absorbOutputCall(a.getLoc(), s, ol, a.getKvB(), a.getResult(), b);
  return 1u;
}

} // namespace

void addMLARecipes(SmallVectorImpl<Recipe> &fusions,
                   SmallVectorImpl<Recipe> &single) {
  single.push_back(latentCacheWrite);
  single.push_back(mlaAttention);
  single.push_back(absorbQuery);
  single.push_back(latentAttention);
  single.push_back(absorbOutput);
}

} // namespace llmc::kernel_select
