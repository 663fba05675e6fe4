//===- AbsorbMLAPass.cpp - MLA in the latent space ------------------------===//
//
// llm.mla_attention -> llm.mla_absorb_query, llm.latent_attention,
// llm.mla_absorb_output on the step functions the `steps` option names
// (Passes.td gives the cost model behind the default, decode only).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/llm/IR/LLMOps.h"

#include "mlir/IR/Builders.h"

namespace llmc {
#define GEN_PASS_DEF_ABSORBMLAPASS
#include "passes/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc::llm;

namespace {

struct AbsorbMLAPass : llmc::impl::AbsorbMLAPassBase<AbsorbMLAPass> {
  using AbsorbMLAPassBase::AbsorbMLAPassBase;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (steps != "decode" && steps != "all" && steps != "none") {
      fn.emitError() << "llm-absorb-mla: steps must be decode, all or none, "
                        "got '"
                     << steps << "'";
      return signalPassFailure();
    }
    auto step = fn->getAttrOfType<StepAttr>(LLMDialect::kStepAttrName);
    const bool absorb =
        steps == "all" ||
        (steps == "decode" && step && step.getValue() == Step::Decode);
    if (!absorb)
      return;
    SmallVector<MLAAttentionOp> ops;
    fn.walk([&](MLAAttentionOp op) { ops.push_back(op); });
    for (MLAAttentionOp op : ops) {
      OpBuilder b(op);
      LatentCacheType cache = op.getCache().getType();
      auto q = cast<RankedTensorType>(op.getQuery().getType());
      const int64_t heads = q.getDimSize(1);
      Type f32 = b.getF32Type();
      auto qlType = RankedTensorType::get(
          {ShapedType::kDynamic, heads, cache.getRowElems()}, f32);
      auto olType = RankedTensorType::get(
          {ShapedType::kDynamic, heads, cache.getLatentDim()}, f32);
      Value ql = MLAAbsorbQueryOp::create(b, op.getLoc(), qlType,
                                          op.getQuery(), op.getKvB());
      Value ol = LatentAttentionOp::create(b, op.getLoc(), olType, ql,
                                           op.getCache(), op.getSlots(),
                                           op.getPositions(), op.getScale());
      Value y = MLAAbsorbOutputOp::create(b, op.getLoc(), op.getType(), ol,
                                          op.getKvB());
      op.replaceAllUsesWith(y);
      op.erase();
    }
  }
};

} // namespace
