//===- PlanMemoryPass.cpp - static arena offsets for every activation
//------===//
//
// Buffers are classes of values that share storage (a value, the views of
// it, the launch result it is yielded as and the block arguments it is passed
// as). Each class lives from its first definition to its last use in program
// order, where a definition or use inside a kernel.launch counts for the
// whole launch: the code generator may run a launch's ops at once (Q/K/V in
// one GEMV, the Q and K norms in one launch), so no two values of one launch
// share bytes. Classes are placed largest first at the lowest aligned offset
// that does not collide with a placed class whose live range overlaps.
//
//===----------------------------------------------------------------------===//

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/llm/IR/LLMOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/EquivalenceClasses.h"

namespace llmc {
#define GEN_PASS_DEF_PLANMEMORYPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

struct Buffer {
  Value leader;
  int64_t start = INT64_MAX, end = -1; // op indices, inclusive
  int64_t bytes = 0;
  int64_t offset = -1;
};

int64_t alignTo(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

class PlanMemoryPass : public llmc::impl::PlanMemoryPassBase<PlanMemoryPass> {
public:
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal())
      return;
    if (maxTokens < 1 || alignment < 1 || (alignment & (alignment - 1))) {
      fn.emitError("kernel-plan-memory: max-tokens must be >= 1 and "
                   "alignment a power of two");
      return signalPassFailure();
    }

    // Number ops in program order and tie values that share storage.
    llvm::EquivalenceClasses<Value> classes;
    DenseMap<Operation *, int64_t> index;
    SmallVector<Value> values;  // every value defined in the function
    SmallVector<Value> aliases; // launch block arguments: uses, no definition
    int64_t next = 0;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == fn.getOperation())
        return;
      index[op] = next++;
      for (Value r : op->getResults()) {
        classes.insert(r);
        values.push_back(r);
      }
      if (isa<llm::SplitHeadsOp, llm::MergeHeadsOp>(op))
        classes.unionSets(op->getResult(0), op->getOperand(0));
      if (auto launch = dyn_cast<kernel::LaunchOp>(op)) {
        Block &body = launch.getBody().front();
        for (auto [arg, in] :
             llvm::zip(body.getArguments(), launch.getInputs())) {
          classes.insert(arg);
          classes.unionSets(arg, in);
          aliases.push_back(arg);
        }
        auto yield = cast<kernel::YieldOp>(body.getTerminator());
        for (auto [res, val] :
             llvm::zip(launch.getResults(), yield.getValues())) {
          classes.insert(val);
          classes.unionSets(res, val);
        }
      }
    });

    // Values that are not arena activations: step inputs, weights, caches.
    llvm::SmallPtrSet<void *, 32> external;
    auto markExternal = [&](Value v) {
      external.insert(classes.getLeaderValue(v).getAsOpaquePointer());
    };
    for (BlockArgument arg : fn.getArguments()) {
      classes.insert(arg);
      markExternal(arg);
    }
    for (Value v : values)
      if (v.getDefiningOp<llm::ParamOp>() ||
          !isa<RankedTensorType>(v.getType()))
        markExternal(v);

    DenseMap<void *, size_t> bufferOf;
    SmallVector<Buffer> buffers;
    auto bufferFor = [&](Value v) -> Buffer * {
      void *leader = classes.getLeaderValue(v).getAsOpaquePointer();
      if (external.contains(leader))
        return nullptr;
      auto [it, inserted] = bufferOf.try_emplace(leader, buffers.size());
      if (inserted)
        buffers.push_back(Buffer{classes.getLeaderValue(v)});
      return &buffers[it->second];
    };

    // The op indices an op's definitions and uses count for: its own, or
    // its whole launch's (the launch op through its terminator).
    auto span = [&](Operation *op) -> std::pair<int64_t, int64_t> {
      if (auto launch = dyn_cast_or_null<kernel::LaunchOp>(op->getParentOp()))
        return {index.lookup(launch),
                index.lookup(launch.getBody().front().getTerminator())};
      return {index.lookup(op), index.lookup(op)};
    };
    for (Value v : values) {
      Buffer *buf = bufferFor(v);
      if (!buf)
        continue;
      auto type = cast<RankedTensorType>(v.getType());
      int64_t bytes = llvm::divideCeil(type.getElementTypeBitWidth(), 8);
      for (int64_t d : type.getShape())
        bytes *= ShapedType::isDynamic(d) ? int64_t(maxTokens) : d;
      buf->bytes = std::max(buf->bytes, bytes);
      auto [defStart, defEnd] = span(v.getDefiningOp());
      buf->start = std::min(buf->start, defStart);
      buf->end = std::max(buf->end, defEnd);
      for (Operation *user : v.getUsers())
        buf->end = std::max(buf->end, span(user).second);
    }
    // A launch reads its operands through its block arguments: their uses
    // inside the body keep the operand's buffer alive, for the whole launch.
    for (Value arg : aliases)
      if (Buffer *buf = bufferFor(arg))
        for (Operation *user : arg.getUsers())
          buf->end = std::max(buf->end, span(user).second);

    // Largest first, each at the lowest offset free for its whole lifetime.
    SmallVector<Buffer *> order;
    for (Buffer &b : buffers)
      order.push_back(&b);
    llvm::stable_sort(order, [](Buffer *a, Buffer *b) {
      return a->bytes != b->bytes ? a->bytes > b->bytes : a->start < b->start;
    });
    SmallVector<Buffer *> placed;
    int64_t arena = 0;
    for (Buffer *buf : order) {
      SmallVector<Buffer *> live;
      for (Buffer *p : placed)
        if (p->start <= buf->end && buf->start <= p->end)
          live.push_back(p);
      llvm::sort(live,
                 [](Buffer *a, Buffer *b) { return a->offset < b->offset; });
      int64_t offset = 0;
      for (Buffer *p : live) {
        if (offset + buf->bytes <= p->offset)
          break;
        offset = std::max(offset, alignTo(p->offset + p->bytes, alignment));
      }
      buf->offset = offset;
      arena = std::max(arena, alignTo(offset + buf->bytes, alignment));
      placed.push_back(buf);
    }

    OpBuilder b(fn.getContext());
    fn.walk([&](Operation *op) {
      if (op->getNumResults() == 0 || isa<llm::ParamOp>(op))
        return;
      SmallVector<int64_t> offsets;
      for (Value r : op->getResults()) {
        Buffer *buf = bufferFor(r);
        offsets.push_back(buf ? buf->offset : -1);
      }
      op->setAttr(kernel::kOffsetsAttrName, b.getDenseI64ArrayAttr(offsets));
    });
    fn->setAttr(kernel::kArenaBytesAttrName, b.getI64IntegerAttr(arena));
    fn->setAttr(kernel::kMaxTokensAttrName, b.getI64IntegerAttr(maxTokens));
  }
};

} // namespace
