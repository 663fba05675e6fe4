//===- FuseAddRMSNormPass.cpp - residual add + RMSNorm in one op ----------===//

#include "passes/Passes.h"

#include "dialects/llm/IR/LLMOps.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llmc {
#define GEN_PASS_DEF_FUSEADDRMSNORMPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc::llm;

namespace {

struct FuseAddIntoRMSNorm : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RMSNormOp norm,
                                PatternRewriter &rewriter) const override {
    auto add = norm.getInput().getDefiningOp<AddOp>();
    if (!add)
      return rewriter.notifyMatchFailure(norm, "input is not an llm.add");
    // The fused op sits where the norm is (its weight may be defined between
    // the add and the norm), so every other user of the sum must follow it.
    for (Operation *user : add->getUsers())
      if (user != norm && (user->getBlock() != norm->getBlock() ||
                           user->isBeforeInBlock(norm)))
        return rewriter.notifyMatchFailure(
            norm, "a use of the sum precedes the norm");
    auto fused = AddRMSNormOp::create(
        rewriter, rewriter.getFusedLoc({add.getLoc(), norm.getLoc()}),
        add.getType(), add.getType(), add.getLhs(), add.getRhs(),
        norm.getWeight(), norm.getVariantAttr(), norm.getEpsAttr());
    rewriter.replaceOp(norm, fused.getNormalized());
    rewriter.replaceOp(add, fused.getSum());
    return success();
  }
};

struct FuseAddRMSNormPass
    : llmc::impl::FuseAddRMSNormPassBase<FuseAddRMSNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseAddIntoRMSNorm>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
