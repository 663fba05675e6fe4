//===- NormRecipes.cpp - RMSNorm kernels (templates/norm.cuh) -------------===//
//
//   rms_norm       block per (token, group), registers + block reduction
//   add_rms_norm   the same with the residual sum fused in front
//   two rms_norms of one size, variant, eps and types in a row (Qwen3's
//   per-head Q and K norms): one rms_norm_pair launch, where neither
//   output overlaps the other's operands
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace llmc::kernel_select {
namespace {

/// Threads of a norm block for groups of `size` elements: about four
/// elements per thread, whole warps, at most 1024.
int normBlock(int64_t size) {
  int64_t b = 32;
  while (b < 1024 && b * 4 < size)
    b *= 2;
  return int(b);
}

int64_t normSize(llm::RMSNormOp n) {
  return cast<RankedTensorType>(n.getInput().getType()).getShape().back();
}

bool weighted(llm::RMSNormVariant v) { return v != llm::RMSNormVariant::NoWeight; }

FailureOr<unsigned> rmsNorm(ArrayRef<Operation *> ops, unsigned first,
                            KernelBuilder &b) {
  auto n = dyn_cast<llm::RMSNormOp>(ops[first]);
  if (!n)
    return 0u;
  Value x = n.getInput(), y = n.getResult();
  const int64_t size = normSize(n), row = rowElems(x);
  const int64_t groups = row / size;
  const bool w = weighted(n.getVariant());
  const int block = normBlock(size);
  Type xt = elementOf(x), yt = elementOf(y);
  Type wt = w ? elementOf(n.getWeight()) : Float32Type::get(b.context());
  Call c;
  c.callee = "rms_norm";
  c.entry = llvm::formatv("rms_norm_s{0}_g{1}_var{2}_{3}_{4}_{5}", size, groups,
                          int(n.getVariant()), typeTag(xt),
                          w ? typeTag(wt) : "none", typeTag(yt));
  c.templateArgs = {b.i(size),  b.i(groups), b.i(block),
                    b.i(int(n.getVariant())), b.type(xt), b.type(wt),
                    b.type(yt)};
  c.args.push_back(b.operand(c, x));
  c.args.push_back(w ? b.operand(c, n.getWeight()) : b.null(wt));
  c.args.push_back(b.operand(c, y, true));
  c.args.push_back(b.f(n.getEps().convertToDouble()));
  c.grid = {int32_t(groups), 1, 1};
  c.block = block;
  c.tokensPerBlock = 1;
  c.tokenAxis = 0;
  b.create(n.getLoc(), std::move(c));
  return 1u;
}

FailureOr<unsigned> rmsNormPair(ArrayRef<Operation *> ops, unsigned first,
                                KernelBuilder &b) {
  if (first + 1 >= ops.size())
    return 0u;
  auto a = dyn_cast<llm::RMSNormOp>(ops[first]);
  auto n2 = dyn_cast<llm::RMSNormOp>(ops[first + 1]);
  if (!a || !n2)
    return 0u;
  Value x0 = a.getInput(), x1 = n2.getInput();
  Value y0 = a.getResult(), y1 = n2.getResult();
  const bool w = weighted(a.getVariant());
  const int64_t size = normSize(a);
  if (normSize(n2) != size || n2.getVariant() != a.getVariant() ||
      n2.getEps() != a.getEps() || elementOf(x0) != elementOf(x1) ||
      elementOf(y0) != elementOf(y1) ||
      (w && elementOf(a.getWeight()) != elementOf(n2.getWeight())))
    return 0u;
  // Run at once, neither output may land on what the other reads or writes.
  if (b.overlap(y0, x1) || b.overlap(y1, x0) || b.overlap(y0, y1))
    return 0u;
  const int64_t g0 = rowElems(x0) / size, g1 = rowElems(x1) / size;
  const int block = normBlock(size);
  Type xt = elementOf(x0), yt = elementOf(y0);
  Type wt = w ? elementOf(a.getWeight()) : Float32Type::get(b.context());
  Call c;
  c.callee = "rms_norm_pair";
  c.entry = llvm::formatv("rms_norm2_s{0}_g{1}_g{2}_var{3}_{4}_{5}_{6}", size,
                          g0, g1, int(a.getVariant()), typeTag(xt),
                          w ? typeTag(wt) : "none", typeTag(yt));
  c.templateArgs = {b.i(size),  b.i(g0),   b.i(g1),   b.i(block),
                    b.i(int(a.getVariant())), b.type(xt), b.type(wt),
                    b.type(yt)};
  c.args.push_back(b.operand(c, x0));
  c.args.push_back(w ? b.operand(c, a.getWeight()) : b.null(wt));
  c.args.push_back(b.operand(c, y0, true));
  c.args.push_back(b.operand(c, x1));
  c.args.push_back(w ? b.operand(c, n2.getWeight()) : b.null(wt));
  c.args.push_back(b.operand(c, y1, true));
  c.args.push_back(b.f(a.getEps().convertToDouble()));
  c.grid = {int32_t(g0 + g1), 1, 1};
  c.block = block;
  c.tokensPerBlock = 1;
  c.tokenAxis = 0;
  b.create(FusedLoc::get(b.context(), {a.getLoc(), n2.getLoc()}), std::move(c));
  return 2u;
}

FailureOr<unsigned> addRmsNorm(ArrayRef<Operation *> ops, unsigned first,
                               KernelBuilder &b) {
  auto n = dyn_cast<llm::AddRMSNormOp>(ops[first]);
  if (!n)
    return 0u;
  Value x = n.getInput(), r = n.getResidual();
  Value normed = n->getResult(0), sum = n->getResult(1);
  const int64_t size =
      cast<RankedTensorType>(x.getType()).getShape().back();
  const bool w = weighted(n.getVariant());
  const int block = normBlock(size);
  Type wt = w ? elementOf(n.getWeight()) : Float32Type::get(b.context());
  Call c;
  c.callee = "add_rms_norm";
  c.entry = llvm::formatv("add_rms_norm_s{0}_var{1}_{2}_{3}_{4}", size,
                          int(n.getVariant()), typeTag(elementOf(x)),
                          w ? typeTag(wt) : "none", typeTag(elementOf(normed)));
  c.templateArgs = {b.i(size),
                    b.i(block),
                    b.i(int(n.getVariant())),
                    b.type(elementOf(x)),
                    b.type(elementOf(r)),
                    b.type(wt),
                    b.type(elementOf(normed)),
                    b.type(elementOf(sum))};
  c.args.push_back(b.operand(c, x));
  c.args.push_back(b.operand(c, r));
  c.args.push_back(w ? b.operand(c, n.getWeight()) : b.null(wt));
  c.args.push_back(b.operand(c, normed, true));
  c.args.push_back(b.operand(c, sum, true));
  c.args.push_back(b.f(n.getEps().convertToDouble()));
  c.grid = {1, 1, 1};
  c.block = block;
  c.tokensPerBlock = 1;
  c.tokenAxis = 0;
  b.create(n.getLoc(), std::move(c));
  return 1u;
}

} // namespace

void addNormRecipes(SmallVectorImpl<Recipe> &fusions,
                    SmallVectorImpl<Recipe> &single) {
  fusions.push_back(rmsNormPair);
  single.push_back(rmsNorm);
  single.push_back(addRmsNorm);
}

} // namespace llmc::kernel_select
