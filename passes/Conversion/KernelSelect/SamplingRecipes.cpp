//===- SamplingRecipes.cpp - greedy sampling (templates/argmax.cuh) -------===//
//
// The argmax of each logits row: blocks reduce vocabulary slices (about 8
// logits per thread of a 256-thread block, at most 64 slices, the final
// warp reduces 2 keys per lane) into 64-bit keys in scratch, then one warp
// per row combines the slices into the token (-1 for a row with a NaN).
// These launches run after the step's, so the keys may reuse the scratch
// bytes attention partials use.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;

namespace llmc::kernel_select {

FailureOr<Value> selectGreedy(Value logits, Location loc, KernelBuilder &b) {
  auto stored = b.storage(logits);
  if (!stored)
    return emitError(loc) << "greedy sampling: "
                          << llvm::toString(stored.takeError());
  Type lt = elementOf(logits);
  const int64_t vocab = rowElems(logits);
  if (stored->kind != kernel::StorageKind::Arena || vocab < 1 ||
      !isa<FloatType>(lt))
    return emitError(loc)
           << "greedy sampling: the logits are not floating-point arena rows";
  constexpr int64_t kBlock = 256;
  const int64_t splits = std::clamp<int64_t>(ceilDiv(vocab, kBlock * 8), 1, 64);
  const uint64_t maxTokens = uint64_t(b.info().maxTokens);
  const uint64_t partialBytes = maxTokens * uint64_t(splits) * 8;
  const uint64_t tokensOffset = (partialBytes + 255) / 256 * 256;
  // The 64-bit keys travel as float pointers (the templates cast them).
  Value partial =
      b.scratch(loc, 0, partialBytes, 0, Float32Type::get(b.context()));
  Value tokens = b.scratch(loc, tokensOffset, maxTokens * 4, 1,
                           IntegerType::get(b.context(), 32));

  Call first;
  first.callee = "argmax_partial";
  first.entry = llvm::formatv("argmax_partial_v{0}_s{1}_{2}", vocab, splits,
                              typeTag(lt));
  first.templateArgs = {b.i(vocab), b.i(splits), b.i(kBlock), b.type(lt)};
  first.args = {b.numTokens()};
  first.args.push_back(b.operand(first, logits));
  first.args.push_back(b.operand(first, partial, true));
  first.grid = {int32_t(splits), 1, 1};
  first.block = int32_t(kBlock);
  first.tokensPerBlock = 1;
  first.tokenAxis = 1;
  b.create(loc, std::move(first));

  Call final;
  final.callee = "argmax_final";
  final.entry = "argmax_final_s" + std::to_string(splits);
  final.templateArgs = {b.i(splits)};
  final.args = {b.numTokens()};
  final.args.push_back(b.operand(final, partial));
  final.args.push_back(b.operand(final, tokens, true));
  final.grid = {1, 1, 1};
  final.block = 32;
  final.tokensPerBlock = 1;
  final.tokenAxis = 0;
  b.create(loc, std::move(final));
  return tokens;
}

} // namespace llmc::kernel_select
