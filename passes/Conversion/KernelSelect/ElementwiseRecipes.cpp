//===- ElementwiseRecipes.cpp - embedding, GLU, add, softcap, RoPE, cache --===//
//
// templates/elementwise.cuh, one thread per element (per rotated pair for
// RoPE, cos/sin in fp32). Fusion: rope(q), rope(k) (either order) and
// kv_cache_write(rotated k, v) in a row become one rope_kv_cache_write
// launch, which still stores the rotated keys to the arena, where no write
// lands on what another part reads. An FP8 cache is written by a warp per
// head (kv_cache_write_e4m3: the head's scale is its max|x| / 448).
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"
#include "dialects/llm/IR/RopeFrequencies.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace llmc::kernel_select {
namespace {

/// One thread per element, blocks of 256, tokens on the grid's y axis.
void perElement(Call &c, int64_t elements) {
  c.grid = {ceilDiv(elements, 256), 1, 1};
  c.block = 256;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
}

FailureOr<unsigned> embedding(ArrayRef<Operation *> ops, unsigned first,
                              KernelBuilder &b) {
  auto e = dyn_cast<llm::EmbeddingOp>(ops[first]);
  if (!e)
    return 0u;
  auto table = cast<RankedTensorType>(e.getTable().getType());
  const int64_t vocab = table.getDimSize(0), hidden = table.getDimSize(1);
  Type tt = table.getElementType(), yt = elementOf(e.getResult());
  Call c;
  c.callee = "embedding";
  c.entry = llvm::formatv("embedding_v{0}_h{1}_{2}_{3}", vocab, hidden,
                          typeTag(tt), typeTag(yt));
  c.templateArgs = {b.i(vocab), b.i(hidden), b.type(tt), b.type(yt)};
  c.args.push_back(b.operand(c, e.getTokens()));
  c.args.push_back(b.operand(c, e.getTable()));
  c.args.push_back(b.operand(c, e.getResult(), true));
  c.args.push_back(b.f(e.getScale() ? e.getScale()->convertToDouble() : 1.0));
  perElement(c, hidden);
  b.create(e.getLoc(), std::move(c));
  return 1u;
}

/// GLU, add and softcap: the template over (size[, activation]), then every
/// operand's type; `constant` (softcap's cap) is part of the source.
FailureOr<unsigned> elementwise(ArrayRef<Operation *> ops, unsigned first,
                                KernelBuilder &b) {
  Operation *op = ops[first];
  Call c;
  std::optional<double> constant;
  if (auto g = dyn_cast<llm::GLUOp>(op)) {
    c.callee = "glu";
    c.templateArgs = {b.i(rowElems(g.getResult())),
                      b.i(int(g.getActivation()))};
  } else if (auto a = dyn_cast<llm::AddOp>(op)) {
    c.callee = "add";
    c.templateArgs = {b.i(rowElems(a.getResult()))};
  } else if (auto s = dyn_cast<llm::SoftcapOp>(op)) {
    c.callee = "softcap";
    c.templateArgs = {b.i(rowElems(s.getResult()))};
    constant = s.getCap().convertToDouble();
  } else if (auto s = dyn_cast<llm::ScaleOp>(op)) {
    c.callee = "scale";
    c.templateArgs = {b.i(rowElems(s.getResult())), b.flag(s.getDivide())};
    constant = s.getFactor().convertToDouble();
  } else {
    return 0u;
  }
  const int64_t size = rowElems(op->getResult(0));
  std::string tags;
  for (Value v : op->getOperands()) {
    c.templateArgs.push_back(b.type(elementOf(v)));
    c.args.push_back(b.operand(c, v));
    tags += "_" + typeTag(elementOf(v));
  }
  Value y = op->getResult(0);
  c.templateArgs.push_back(b.type(elementOf(y)));
  c.args.push_back(b.operand(c, y, true));
  tags += "_" + typeTag(elementOf(y));
  c.entry = c.callee + "_s" + std::to_string(size) + tags;
  if (constant) { // constants in the call: keep names distinct
    c.args.push_back(b.f(*constant));
    c.entry += "_" + hashTag(", " + kernel::cudaFloatLiteral(float(*constant)));
  }
  perElement(c, size);
  b.create(op->getLoc(), std::move(c));
  return 1u;
}

/// Llama 4's attention temperature: per-token factor from the positions.
FailureOr<unsigned> attnTemperature(ArrayRef<Operation *> ops, unsigned first,
                                    KernelBuilder &b) {
  auto a = dyn_cast<llm::AttnTemperatureOp>(ops[first]);
  if (!a)
    return 0u;
  const int64_t size = rowElems(a.getResult());
  Type xt = elementOf(a.getInput()), yt = elementOf(a.getResult());
  const float floorScale = float(a.getFloorScale().convertToDouble());
  const float scale = float(a.getScale().convertToDouble());
  Call c;
  c.callee = "attn_temperature";
  c.entry = llvm::formatv("attn_temperature_s{0}_{1}_{2}_{3}", size,
                          typeTag(xt), typeTag(yt),
                          hashTag(kernel::cudaFloatLiteral(floorScale) + ", " +
                                  kernel::cudaFloatLiteral(scale)));
  c.templateArgs = {b.i(size), b.type(xt), b.type(yt)};
  c.args.push_back(b.operand(c, a.getInput()));
  c.args.push_back(b.operand(c, a.getPositions()));
  c.args.push_back(b.operand(c, a.getResult(), true));
  c.args.push_back(b.f(floorScale));
  c.args.push_back(b.f(scale));
  perElement(c, size);
  b.create(a.getLoc(), std::move(c));
  return 1u;
}

/// A rope's inverse frequencies; dynamic and longrope ones fixed for the
/// plan's max_seq_len, as the plan writer fixes them.
FailureOr<std::vector<float>> invFreq(llm::RopeOp r, KernelBuilder &b) {
  return rope::inverseFrequencies(r.getRope().toParams(), b.info().maxSeqLen);
}

struct RopeShape {
  int64_t heads, headDim, rotary;
  bool interleaved;
  float scaling;
};
RopeShape ropeShape(llm::RopeOp r) {
  auto t = cast<RankedTensorType>(r.getInput().getType());
  llm::RopeAttr rope = r.getRope();
  return {t.getDimSize(1), t.getDimSize(2), rope.getDim(),
          rope.getLayout() == llm::RopeLayout::Interleaved,
          float(rope.getAttentionScaling())};
}

/// The frequencies and scaling are part of the source: a hash for names.
std::string ropeHash(ArrayRef<float> freqs, float scaling) {
  return hashTag(invFreqDeclaration(freqs) + kernel::cudaFloatLiteral(scaling));
}

FailureOr<unsigned> rope(ArrayRef<Operation *> ops, unsigned first,
                         KernelBuilder &b) {
  auto r = dyn_cast<llm::RopeOp>(ops[first]);
  if (!r)
    return 0u;
  FailureOr<std::vector<float>> freqs = invFreq(r, b);
  if (failed(freqs))
    return failure();
  RopeShape s = ropeShape(r);
  Type xt = elementOf(r.getInput()), yt = elementOf(r.getResult());
  const int64_t offset = r.getOffset();
  const bool fp32 = r.getFp32();
  Call c;
  c.callee = "rope";
  c.entry = llvm::formatv("rope_h{0}_d{1}_r{2}{3}_{4}{5}_{6}_{7}_{8}",
                          s.heads, s.headDim, s.rotary,
                          offset ? "_o" + std::to_string(offset) : "",
                          s.interleaved ? "interleaved" : "half",
                          fp32 ? "_fp32" : "", typeTag(xt), typeTag(yt),
                          ropeHash(*freqs, s.scaling));
  c.templateArgs = {b.i(s.heads),  b.i(s.headDim), b.i(s.rotary),
                    b.flag(s.interleaved), b.type(xt), b.type(yt),
                    b.i(offset), b.flag(fp32)};
  c.args.push_back(b.operand(c, r.getInput()));
  c.args.push_back(b.operand(c, r.getPositions()));
  c.args.push_back(b.operand(c, r.getResult(), true));
  c.args.push_back(b.invFreqTable());
  c.args.push_back(b.f(s.scaling));
  c.invFreq = std::move(*freqs);
  const int64_t threads =
      s.heads * (s.rotary / 2) + s.heads * (s.headDim - s.rotary);
  c.grid = {ceilDiv(threads, 128), 1, 1};
  c.block = 128;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
  b.create(r.getLoc(), std::move(c));
  return 1u;
}

FailureOr<unsigned> kvCacheWrite(ArrayRef<Operation *> ops, unsigned first,
                                 KernelBuilder &b) {
  auto w = dyn_cast<llm::KVCacheWriteOp>(ops[first]);
  if (!w)
    return 0u;
  const int64_t row = rowElems(w.getKey());
  Type kt = elementOf(w.getKey()), vt = elementOf(w.getValue()),
       ct = elementOf(w.getCache());
  if (isa<Float8E4M3FNType>(ct)) {
    // FP8: a warp per head computes its scale (4 heads per block).
    auto cacheType = cast<llm::KVCacheType>(w.getCache().getType());
    const int64_t kvHeads = cacheType.getKvHeads(), d = cacheType.getHeadDim();
    Call c;
    c.callee = "kv_cache_write_e4m3";
    c.entry = llvm::formatv("kv_cache_write_e4m3_kv{0}_d{1}_{2}_{3}", kvHeads,
                            d, typeTag(kt), typeTag(vt));
    c.templateArgs = {b.i(kvHeads), b.i(d), b.type(kt), b.type(vt)};
    for (Value v : SmallVector<Value>{w.getKey(), w.getValue(), w.getCache(),
                                      w.getSlots(), w.getPositions()})
      c.args.push_back(b.operand(c, v));
    c.grid = {ceilDiv(2 * kvHeads, 4), 1, 1};
    c.block = 128;
    c.tokensPerBlock = 1;
    c.tokenAxis = 1;
    b.create(w.getLoc(), std::move(c));
    return 1u;
  }
  Call c;
  c.callee = "kv_cache_write";
  c.entry = llvm::formatv("kv_cache_write_r{0}_{1}_{2}_{3}", row, typeTag(kt),
                          typeTag(vt), typeTag(ct));
  c.templateArgs = {b.i(row), b.type(kt), b.type(vt), b.type(ct)};
  // T: a ring keeps only the last of a step's tokens on one row.
  c.args = {b.numTokens()};
  for (Value v : SmallVector<Value>{w.getKey(), w.getValue(), w.getCache(),
                                    w.getSlots(), w.getPositions()})
    c.args.push_back(b.operand(c, v));
  perElement(c, row);
  b.create(w.getLoc(), std::move(c));
  return 1u;
}

/// rope(q), rope(k) (either order), kv_cache_write(rotated k, v).
FailureOr<unsigned> ropeKvCacheWrite(ArrayRef<Operation *> ops, unsigned first,
                                     KernelBuilder &b) {
  if (first + 2 >= ops.size())
    return 0u;
  auto qOp = dyn_cast<llm::RopeOp>(ops[first]);
  auto kOp = dyn_cast<llm::RopeOp>(ops[first + 1]);
  auto w = dyn_cast<llm::KVCacheWriteOp>(ops[first + 2]);
  if (!qOp || !kOp || !w)
    return 0u;
  // The fused kernel rotates from element 0, rounding in the activation
  // dtype.
  if (qOp.getOffset() || kOp.getOffset() || qOp.getFp32() || kOp.getFp32())
    return 0u;
  // An FP8 cache's scales need the whole head: kv_cache_write_e4m3.
  if (isa<Float8E4M3FNType>(elementOf(w.getCache())))
    return 0u;
  Value key = w.getKey(), value = w.getValue();
  if (b.same(qOp.getResult(), key))
    std::swap(qOp, kOp);
  if (!b.same(kOp.getResult(), key))
    return 0u;
  RopeShape qs = ropeShape(qOp), ks = ropeShape(kOp);
  FailureOr<std::vector<float>> qf = invFreq(qOp, b), kf = invFreq(kOp, b);
  if (failed(qf) || failed(kf))
    return failure();
  Value qIn = qOp.getInput(), qOut = qOp.getResult(), kIn = kOp.getInput();
  Value kOut = key;
  if (qs.headDim != ks.headDim || qs.rotary != ks.rotary ||
      qs.interleaved != ks.interleaved || qs.scaling != ks.scaling ||
      *qf != *kf || int64_t(kf->size()) != ks.rotary / 2 ||
      !b.same(qOp.getPositions(), w.getPositions()) ||
      !b.same(kOp.getPositions(), w.getPositions()) ||
      rowElems(key) != ks.heads * ks.headDim ||
      rowElems(value) != rowElems(key))
    return 0u;
  // Run at once, no write may land on what another part reads.
  if (b.overlap(qOut, kIn) || b.overlap(qOut, value) || b.overlap(qOut, kOut) ||
      b.overlap(kOut, qIn) || b.overlap(kOut, value))
    return 0u;

  Type cache = elementOf(w.getCache());
  Call c;
  c.callee = "rope_kv_cache_write";
  c.entry = llvm::formatv(
      "rope_kv_cache_write_hq{0}_hk{1}_d{2}_r{3}_{4}_{5}_{6}_{7}_{8}_{9}_{10}_"
      "{11}",
      qs.heads, ks.heads, ks.headDim, ks.rotary,
      ks.interleaved ? "interleaved" : "half", typeTag(elementOf(qIn)),
      typeTag(elementOf(qOut)), typeTag(elementOf(kIn)),
      typeTag(elementOf(kOut)), typeTag(elementOf(value)), typeTag(cache),
      ropeHash(*kf, ks.scaling));
  c.templateArgs = {b.i(qs.heads),
                    b.i(ks.heads),
                    b.i(ks.headDim),
                    b.i(ks.rotary),
                    b.flag(ks.interleaved),
                    b.type(elementOf(qIn)),
                    b.type(elementOf(qOut)),
                    b.type(elementOf(kIn)),
                    b.type(elementOf(kOut)),
                    b.type(elementOf(value)),
                    b.type(cache)};
  c.args.push_back(b.operand(c, qIn));
  c.args.push_back(b.operand(c, qOut, true));
  c.args.push_back(b.operand(c, kIn));
  c.args.push_back(b.operand(c, kOut, true));
  c.args.push_back(b.operand(c, value));
  c.args.push_back(b.operand(c, w.getCache()));
  c.args.push_back(b.operand(c, w.getSlots()));
  c.args.push_back(b.operand(c, w.getPositions()));
  c.args.push_back(b.invFreqTable());
  c.args.push_back(b.f(ks.scaling));
  c.invFreq = std::move(*kf);
  const int64_t perHead = ks.rotary / 2 + (ks.headDim - ks.rotary);
  const int64_t threads =
      (qs.heads + ks.heads) * perHead + ks.heads * ks.headDim;
  c.grid = {ceilDiv(threads, 128), 1, 1};
  c.block = 128;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
  b.create(FusedLoc::get(b.context(), {qOp.getLoc(), kOp.getLoc(), w.getLoc()}),
           std::move(c));
  return 3u;
}

} // namespace

void addElementwiseRecipes(SmallVectorImpl<Recipe> &fusions,
                           SmallVectorImpl<Recipe> &single) {
  fusions.push_back(ropeKvCacheWrite);
  single.push_back(embedding);
  single.push_back(elementwise);
  single.push_back(attnTemperature);
  single.push_back(rope);
  single.push_back(kvCacheWrite);
}

} // namespace llmc::kernel_select
