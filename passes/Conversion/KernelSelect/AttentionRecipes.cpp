//===- AttentionRecipes.cpp - attention kernels (templates/attention.cuh) --===//
//
// Prefill: with 16-bit queries, cache and output (head_dim a multiple of 16
// up to 128), flash attention on tensor cores (attn_prefill_mma: 64-token
// query tiles, m16n8k16 MMAs); otherwise (f32, FP8 caches, wider heads) on
// CUDA cores over 16-token query tiles, keys and values in shared tiles of
// at most 32 KiB. Decode: split-KV flash decoding into
// scratch, then a combine kernel: up to 16 splits (about 256 positions per
// split at the longest sequence), of which the kernel uses as many as the
// actual length needs (at least 64 keys each); each block runs the query
// heads of one KV head that fit its registers, reading each cached row
// once for all of them. A prefill attention with step keys and values
// (llm-window-rings) reads the step's own positions from them.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;

namespace llmc::kernel_select {
namespace {

/// Fewest keys a decode split takes: shorter ranges use fewer splits.
constexpr int64_t kMinSplitKeys = 64;

FailureOr<unsigned> attention(ArrayRef<Operation *> ops, unsigned first,
                              KernelBuilder &b) {
  auto a = dyn_cast<llm::AttentionOp>(ops[first]);
  if (!a)
    return 0u;
  Value q = a.getQuery(), cache = a.getCache(), y = a.getResult();
  auto cacheType = cast<llm::KVCacheType>(cache.getType());
  const int64_t heads = cast<RankedTensorType>(q.getType()).getDimSize(1);
  const int64_t kvHeads = cacheType.getKvHeads(), d = cacheType.getHeadDim();
  const int64_t window = a.getWindow().value_or(0);
  const int64_t chunk = a.getChunk().value_or(0);
  const bool softcap = bool(a.getSoftcap());
  const double scale = a.getScale().convertToDouble();
  const double cap = softcap ? a.getSoftcap()->convertToDouble() : 1.0;
  Value sinks = a.getSinks();
  Type qt = elementOf(q), ct = elementOf(cache), yt = elementOf(y);
  // Sinks in their checkpoint type, widened in the kernel.
  Type st = sinks ? elementOf(sinks) : Float32Type::get(b.context());
  std::string common = llvm::formatv(
      "h{0}_kv{1}_d{2}_w{3}_c{4}{5}{6}_{7}_{8}_{9}", heads, kvHeads, d, window,
      chunk, softcap ? "_softcap" : "",
      sinks ? "_sinks" + typeTag(st) : std::string(), typeTag(qt), typeTag(ct),
      typeTag(yt));
  auto sinkArg = [&](Call &c) {
    return sinks ? b.operand(c, sinks) : b.null(st);
  };
  // llm-window-rings: the step's keys and values (prefill only).
  Value stepK = a.getStepKey(), stepV = a.getStepValue();
  Type kt = stepK ? elementOf(stepK) : ct;
  if (stepK && b.info().decode)
    return a.emitOpError("step keys and values are lowered for prefill "
                         "steps only");
  if (stepK && (elementOf(stepV) != kt || isa<Float8E4M3FNType>(ct)))
    return a.emitOpError("step keys and values of one type, and a cache "
                         "that is not f8E4M3FN, are needed");
  if (stepK)
    common += "_step" + typeTag(kt);
  // The scale and cap are constants of the call: a hash keeps names apart.
  std::string scaleTag =
      "_" + hashTag(kernel::cudaFloatLiteral(float(scale)) + ", " +
                    kernel::cudaFloatLiteral(float(cap)));

  if (!b.info().decode) {
    // Both prefill kernels take (T, q, cache, slots, positions, sinks,
    // step_k, step_v, out, scale, cap), a block of 128 per (head,
    // tokensPerBlock tokens).
    Call c;
    c.args = {b.numTokens()};
    for (Value v : SmallVector<Value>{q, cache, a.getSlots(), a.getPositions()})
      c.args.push_back(b.operand(c, v));
    c.args.push_back(sinkArg(c));
    c.args.push_back(stepK ? b.operand(c, stepK) : b.null(kt));
    c.args.push_back(stepV ? b.operand(c, stepV) : b.null(kt));
    c.args.push_back(b.operand(c, y, true));
    c.args.push_back(b.f(scale));
    c.args.push_back(b.f(cap));
    c.grid = {int32_t(heads), 1, 1};
    c.block = 128;
    c.tokenAxis = 1;
    c.hot = true;
    if (qt == ct && ct == yt && kt == ct && (qt.isBF16() || qt.isF16()) &&
        d % 16 == 0 && d <= 128) {
      // Tensor cores: 64 queries, and 64 keys and values at a time while
      // the three tiles fit 48 KiB of static shared memory (else 32).
      const int64_t tile = 3 * 64 * (d + 8) * 2 <= 48 * 1024 ? 64 : 32;
      c.callee = "attn_prefill_mma";
      c.entry = "attention_prefill_mma_" + common + scaleTag;
      c.templateArgs = {b.i(heads),      b.i(kvHeads),
                        b.i(d),          b.i(window),
                        b.i(chunk),      b.i(tile),
                        b.flag(softcap), b.flag(bool(sinks)),
                        b.flag(bool(stepK)), b.type(qt),
                        b.type(st)};
      c.tokensPerBlock = 64;
    } else {
      // Keys and values of one tile stay under 32 KiB of shared memory.
      int64_t tile = 32;
      while (tile > 8 && 2 * tile * d * bytesOf(ct) > 32768)
        tile /= 2;
      if (2 * tile * d * bytesOf(ct) > 32768)
        return a.emitOpError("head_dim ")
               << d << " too large for the attention kernel's shared tiles";
      c.callee = "attn_prefill";
      c.entry = "attention_prefill_" + common + scaleTag;
      c.templateArgs = {b.i(heads),       b.i(kvHeads),     b.i(d),
                        b.i(window),      b.i(chunk),       b.i(16),
                        b.i(tile),        b.flag(softcap),  b.flag(bool(sinks)),
                        b.flag(bool(stepK)), b.type(qt),    b.type(ct),
                        b.type(st),       b.type(kt),       b.type(yt)};
      c.tokensPerBlock = 16;
    }
    b.create(a.getLoc(), std::move(c));
    return 1u;
  }

  // At most 16 splits of at least kMinSplitKeys keys: the kernel picks as
  // many as the attended length needs at run time.
  const int64_t splits = std::clamp<int64_t>(b.info().maxSeqLen / 256, 1, 16);
  // Query heads per block: the largest divisor of the GQA group size whose
  // queries and accumulators stay in registers (at most 32 floats each per
  // lane) and whose partials fit 32 KiB of shared memory.
  const int64_t group = heads / kvHeads, dpl = (d + 31) / 32;
  int64_t gp = 1;
  for (int64_t g = 1; g <= group; ++g)
    if (group % g == 0 && g * dpl <= 32 && 4 * g * d * 4 <= 32768)
      gp = g;
  const uint64_t partialBytes = uint64_t(b.info().maxTokens) * uint64_t(heads) *
                                uint64_t(splits) * uint64_t(d + 2) * 4;
  Value partial = b.scratch(a.getLoc(), 0, partialBytes, 0,
                            Float32Type::get(b.context()));
  Call split;
  split.callee = "attn_decode_split";
  split.entry = "attention_decode_split" + std::to_string(splits) + "_g" +
                std::to_string(gp) + "_" + common + scaleTag;
  split.templateArgs = {b.i(heads),      b.i(kvHeads),  b.i(d),
                        b.i(window),     b.i(chunk),    b.i(splits),
                        b.flag(softcap), b.type(qt),    b.type(ct),
                        b.i(gp),         b.i(kMinSplitKeys)};
  split.args = {b.numTokens()};
  for (Value v : SmallVector<Value>{q, cache, a.getSlots(), a.getPositions()})
    split.args.push_back(b.operand(split, v));
  split.args.push_back(b.operand(split, partial, true));
  split.args.push_back(b.f(scale));
  split.args.push_back(b.f(cap));
  split.grid = {int32_t(heads / gp), 1, int32_t(splits)};
  split.block = 128;
  split.tokensPerBlock = 1;
  split.tokenAxis = 1;
  split.hot = true;
  b.create(a.getLoc(), std::move(split));

  attentionCombineCall(a.getLoc(), heads, d, splits, partial, sinks, y, b);
  return 1u;
}

} // namespace

void attentionCombineCall(Location loc, int64_t heads, int64_t d,
                          int64_t splits, Value partial, Value sinks,
                          Value out, KernelBuilder &b) {
  Type st = sinks ? elementOf(sinks) : Float32Type::get(b.context());
  Type ot = elementOf(out);
  Call c;
  c.callee = "attn_decode_combine";
  c.entry = llvm::formatv("attention_decode_combine{0}_h{1}_d{2}{3}_{4}",
                          splits, heads, d,
                          sinks ? "_sinks" + typeTag(st) : std::string(),
                          typeTag(ot));
  c.templateArgs = {b.i(heads), b.i(d), b.i(splits), b.flag(bool(sinks)),
                    b.type(st), b.type(ot)};
  c.args.push_back(b.operand(c, partial));
  c.args.push_back(sinks ? b.operand(c, sinks) : b.null(st));
  c.args.push_back(b.operand(c, out, true));
  c.grid = {int32_t(heads), 1, 1};
  c.block = 128;
  c.tokensPerBlock = 1;
  c.tokenAxis = 1;
  b.create(loc, std::move(c));
}

void addAttentionRecipes(SmallVectorImpl<Recipe> &fusions,
                         SmallVectorImpl<Recipe> &single) {
  single.push_back(attention);
}

} // namespace llmc::kernel_select
