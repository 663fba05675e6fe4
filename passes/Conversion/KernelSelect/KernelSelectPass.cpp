//===- KernelSelectPass.cpp - the generated kernels of every launch -------===//
//
// The driver: walks each step function's launches in order, runs the
// family recipes over each body (fusions first), adds the step's greedy
// sampling, and gives every kernel.call a unique entry name.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/KernelSelect/KernelBuilder.h"

#include "dialects/llm/IR/LLMOps.h"
#include "passes/Passes.h"

#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/StringExtras.h"

namespace llmc {
#define GEN_PASS_DEF_KERNELSELECTPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;

namespace llmc::kernel_select {

std::string typeTag(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isInteger(32))
    return "i32";
  if (isa<Float8E4M3FNType>(t))
    return "e4m3";
  return "x";
}

Type elementOf(Value v) {
  if (auto cache = dyn_cast<llm::KVCacheType>(v.getType()))
    return cache.getDtype();
  if (auto cache = dyn_cast<llm::LatentCacheType>(v.getType()))
    return cache.getDtype();
  return getElementTypeOrSelf(v.getType());
}

int64_t rowElems(Value v) {
  int64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape().drop_front())
    n *= d;
  return n;
}

std::string hashTag(llvm::StringRef text) {
  return llvm::utohexstr(llvm::hash_value(text));
}

std::string invFreqDeclaration(llvm::ArrayRef<float> invFreq) {
  std::string table = "__device__ const float llmc_inv_freq[" +
                      std::to_string(invFreq.size()) + "] = {";
  for (float f : invFreq)
    table += kernel::cudaFloatLiteral(f) + ", ";
  return table + "};\n";
}

Value KernelBuilder::scratch(Location loc, uint64_t offset, uint64_t bytes,
                             uint64_t rowElemsPerToken, Type element) {
  scratchBytes = std::max(scratchBytes, offset + bytes);
  auto type = RankedTensorType::get({ShapedType::kDynamic}, element);
  return kernel::ScratchOp::create(b, loc, type, int64_t(offset),
                                   int64_t(rowElemsPerToken));
}

bool KernelBuilder::overlap(Value x, Value y) {
  auto a = storage(x), c = storage(y);
  if (!a || !c) {
    llvm::consumeError(a.takeError());
    llvm::consumeError(c.takeError());
    return false;
  }
  return a->overlaps(*c, step.maxTokens);
}

bool KernelBuilder::same(Value x, Value y) {
  auto a = storage(x), c = storage(y);
  if (!a || !c) {
    llvm::consumeError(a.takeError());
    llvm::consumeError(c.takeError());
    return false;
  }
  return *a == *c;
}

FailureOr<unsigned> KernelBuilder::select(ArrayRef<Operation *> ops,
                                          unsigned first) {
  for (Recipe recipe : recipes) {
    FailureOr<unsigned> n = recipe(ops, first, *this);
    if (failed(n) || *n > 0)
      return n;
  }
  return 0u;
}

void KernelBuilder::create(Location loc, Call c) {
  MLIRContext *ctx = b.getContext();
  c.minTokens = std::max(c.minTokens, range.first);
  if (range.second != 0)
    c.maxTokens =
        c.maxTokens == 0 ? range.second : std::min(c.maxTokens, range.second);
  if (c.maxTokens != 0 && c.maxTokens < c.minTokens)
    return; // never runs in the current TokenRange
  auto targs = ArrayAttr::get(ctx, c.templateArgs);
  DenseF32ArrayAttr table =
      c.invFreq.empty() ? DenseF32ArrayAttr()
                        : DenseF32ArrayAttr::get(ctx, c.invFreq);
  // The same name for another template call: NAME_v2, NAME_v3, ...
  std::string unique = c.entry;
  for (int n = 2;; ++n) {
    auto it = entries.find(unique);
    if (it == entries.end())
      break;
    auto other = cast<kernel::CallOp>(it->second);
    if (other.getCallee() == c.callee && other.getTemplateArgs() == targs &&
        other.getArgsAttr() == ArrayAttr::get(ctx, c.args) &&
        other.getInvFreqAttr() == table && int32_t(other.getBlock()) == c.block)
      break;
    unique = c.entry + "_v" + std::to_string(n);
  }
  auto call = kernel::CallOp::create(
      b, loc, FlatSymbolRefAttr::get(ctx, c.callee), b.getStringAttr(unique),
      targs, ArrayAttr::get(ctx, c.args), b.getDenseBoolArrayAttr(c.writes),
      b.getDenseI32ArrayAttr(c.grid), b.getI32IntegerAttr(c.block),
      b.getI32IntegerAttr(c.tokensPerBlock), b.getI32IntegerAttr(c.tokenAxis),
      b.getI32IntegerAttr(c.minTokens), b.getI32IntegerAttr(c.maxTokens),
      c.hot ? b.getUnitAttr() : UnitAttr(), table,
      llvm::is_contained(c.scales, true) ? b.getDenseBoolArrayAttr(c.scales)
                                         : DenseBoolArrayAttr(),
      llvm::is_contained(c.zeros, true) ? b.getDenseBoolArrayAttr(c.zeros)
                                        : DenseBoolArrayAttr(),
      c.dynamicShared > 0 ? b.getI32IntegerAttr(c.dynamicShared)
                          : IntegerAttr(),
      c.buffers);
  entries.try_emplace(unique, call.getOperation());
}

} // namespace llmc::kernel_select

namespace {

using namespace llmc;
using namespace llmc::kernel_select;

class KernelSelectPass
    : public llmc::impl::KernelSelectPassBase<KernelSelectPass> {
public:
  using KernelSelectPassBase::KernelSelectPassBase;

  void runOnOperation() override {
    SmallVector<Recipe> fusions, single;
    addMatmulRecipes(fusions, single);
    addNormRecipes(fusions, single);
    addElementwiseRecipes(fusions, single);
    addAttentionRecipes(fusions, single);
    addMoERecipes(fusions, single);
    addMLARecipes(fusions, single);
    recipes.append(fusions);
    recipes.append(single);

    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      if (failed(selectStep(fn)))
        return signalPassFailure();
    }
  }

private:
  LogicalResult selectStep(func::FuncOp fn) {
    auto maxTokens = fn->getAttrOfType<IntegerAttr>(kernel::kMaxTokensAttrName);
    if (!maxTokens)
      return fn.emitOpError("has not been through kernel-plan-memory "
                            "(no kernel.max_tokens)");
    StepInfo step;
    step.maxTokens = maxTokens.getInt();
    step.maxSeqLen = maxSeqLen;
    if (auto s = fn->getAttrOfType<llm::StepAttr>(llm::LLMDialect::kStepAttrName))
      step.decode = s.getValue() == llm::Step::Decode;
    uint64_t scratchBytes = 0;
    OpBuilder b(fn.getContext());
    KernelBuilder kb(b, step, entries, scratchBytes, recipes);

    Block &body = fn.getBody().front();
    for (Operation &op : body) {
      auto launch = dyn_cast<kernel::LaunchOp>(op);
      if (!launch)
        continue;
      Block &inner = launch.getBody().front();
      if (llvm::any_of(inner, [](Operation &o) { return isa<kernel::CallOp>(o); }))
        return launch.emitOpError("already has kernel.call ops");
      SmallVector<Operation *> ops;
      for (Operation &o : inner)
        if (!isa<kernel::YieldOp, llm::SplitHeadsOp, llm::MergeHeadsOp>(o))
          ops.push_back(&o); // views: the same bytes as their source
      b.setInsertionPoint(inner.getTerminator());
      for (unsigned i = 0; i < ops.size();) {
        FailureOr<unsigned> taken = kb.select(ops, i);
        if (failed(taken))
          return failure();
        if (*taken == 0)
          return ops[i]->emitOpError("no generated kernel runs this op");
        i += *taken;
      }
    }

    // Greedy sampling of the step's logits, after every launch.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    if (ret.getNumOperands() > 0) {
      Value logits = ret.getOperand(0);
      b.setInsertionPoint(ret);
      auto tokensType = RankedTensorType::get({ShapedType::kDynamic},
                                              b.getI32Type());
      auto greedy = kernel::GreedyOp::create(b, ret.getLoc(),
                                             TypeRange{tokensType},
                                             ValueRange{logits});
      Block *entry = new Block();
      greedy.getBody().push_back(entry);
      Value arg = entry->addArgument(logits.getType(), logits.getLoc());
      b.setInsertionPointToEnd(entry);
      FailureOr<Value> tokens = selectGreedy(arg, greedy.getLoc(), kb);
      if (failed(tokens))
        return failure();
      kernel::YieldOp::create(b, greedy.getLoc(), ValueRange{*tokens});
    }
    fn->setAttr(kernel::kScratchBytesAttrName,
                b.getI64IntegerAttr(int64_t(scratchBytes)));
    return success();
  }

  SmallVector<Recipe> recipes;
  std::map<std::string, Operation *> entries;
};

} // namespace
