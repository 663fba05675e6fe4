//===- FuseGatedMLPPass.cpp - gate/up projections + GLU in one op ---------===//

#include "passes/Passes.h"

#include "dialects/llm/IR/LLMOps.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llmc {
#define GEN_PASS_DEF_FUSEGATEDMLPPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc::llm;

namespace {

struct FuseGateUpIntoGLU : OpRewritePattern<GLUOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GLUOp glu,
                                PatternRewriter &rewriter) const override {
    auto gate = glu.getGate().getDefiningOp<LinearOp>();
    auto up = glu.getUp().getDefiningOp<LinearOp>();
    if (!gate || !up)
      return rewriter.notifyMatchFailure(glu, "operands are not llm.linear");
    if (gate.getInput() != up.getInput())
      return rewriter.notifyMatchFailure(glu, "projections read different inputs");
    if (gate.getBias() || up.getBias())
      return rewriter.notifyMatchFailure(glu, "a projection has a bias");
    // A linear feeding both GLU operands has two uses, so this also covers it.
    if (!gate->hasOneUse() || !up->hasOneUse())
      return rewriter.notifyMatchFailure(glu, "a projection has other uses");
    if (gate.getWeight().getType() != up.getWeight().getType())
      return rewriter.notifyMatchFailure(glu, "weights differ in type");
    // llm.gated_linear takes dense weights only.
    if (!isa<RankedTensorType>(gate.getWeight().getType()))
      return rewriter.notifyMatchFailure(glu, "the weights are quantized");
    Location loc =
        rewriter.getFusedLoc({gate.getLoc(), up.getLoc(), glu.getLoc()});
    auto fused = GatedLinearOp::create(rewriter, loc, glu.getType(),
                                       gate.getInput(), gate.getWeight(),
                                       up.getWeight(), glu.getActivation());
    rewriter.replaceOp(glu, fused.getResult());
    rewriter.eraseOp(gate);
    rewriter.eraseOp(up);
    return success();
  }
};

struct FuseGatedMLPPass : llmc::impl::FuseGatedMLPPassBase<FuseGatedMLPPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGateUpIntoGLU>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
