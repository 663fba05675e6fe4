//===- WindowRingsPass.cpp - windowed caches of exactly the window --------===//
//
// Prefill only: windowed attention reads the step's own keys and values
// from the write's operands, and the write follows it (Passes.td).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/llm/IR/LLMOps.h"

namespace llmc {
#define GEN_PASS_DEF_WINDOWRINGSPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc::llm;

namespace {

struct WindowRingsPass : llmc::impl::WindowRingsPassBase<WindowRingsPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    auto step = fn->getAttrOfType<StepAttr>(LLMDialect::kStepAttrName);
    if (!step || step.getValue() != Step::Prefill)
      return;
    SmallVector<AttentionOp> ops;
    fn.walk([&](AttentionOp op) { ops.push_back(op); });
    for (AttentionOp op : ops) {
      auto write = op.getCache().getDefiningOp<KVCacheWriteOp>();
      if (!op.getWindow() || op.getStepKey() || !write ||
          write->getBlock() != op->getBlock() ||
          isa<Float8E4M3FNType>(op.getCache().getType().getDtype()) ||
          write.getSlots() != op.getSlots() ||
          write.getPositions() != op.getPositions())
        continue;
      // Every other user of the new cache must come after the attention.
      bool later = llvm::all_of(write->getUsers(), [&](Operation *user) {
        return user == op.getOperation() || op->isBeforeInBlock(user);
      });
      if (!later)
        continue;
      op.getCacheMutable().assign(write.getCache());
      op.getStepKeyMutable().assign(write.getKey());
      op.getStepValueMutable().assign(write.getValue());
      write->moveAfter(op);
    }
  }
};

} // namespace
