//===- LLMOps.cpp - llm dialect operations: verifiers, folders -------------===//

#include "dialects/llm/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace llmc::llm;

namespace {

RankedTensorType tensorOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Two sizes agree when equal or when either is dynamic (decided at run time).
bool compatible(int64_t a, int64_t b) {
  return a == b || ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
}

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

LogicalResult verifyTokenCount(Operation *op, Value a, StringRef aName, Value b,
                               StringRef bName) {
  int64_t ta = tensorOf(a).getDimSize(0), tb = tensorOf(b).getDimSize(0);
  if (!compatible(ta, tb))
    return op->emitOpError() << aName << " has " << dimString(ta) << " tokens but "
                             << bName << " has " << dimString(tb);
  return success();
}

LogicalResult verifyRank(Operation *op, Value v, StringRef name, int64_t rank) {
  if (tensorOf(v).getRank() != rank)
    return op->emitOpError() << name << " must have rank " << rank << ", got "
                             << v.getType();
  return success();
}

LogicalResult verifyNormWeight(Operation *op, Value input, Value weight,
                               RMSNormVariant variant, double eps) {
  if (!(eps > 0.0))
    return op->emitOpError() << "eps must be positive, got " << eps;
  if (variant == RMSNormVariant::NoWeight) {
    if (weight)
      return op->emitOpError() << "variant 'no_weight' takes no weight";
    return success();
  }
  if (!weight)
    return op->emitOpError()
           << "variant '" << stringifyRMSNormVariant(variant)
           << "' needs a weight";
  RankedTensorType in = tensorOf(input), w = tensorOf(weight);
  if (w.getRank() != 1 || w.getDimSize(0) != in.getDimSize(in.getRank() - 1))
    return op->emitOpError() << "weight must be [" << dimString(in.getDimSize(in.getRank() - 1))
                             << "] to match the last dimension of the input, got "
                             << weight.getType();
  return success();
}

/// `custom<Double>`: an f64 attribute written as a plain, exact decimal.
ParseResult parseDouble(OpAsmParser &parser, FloatAttr &attr) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  attr = parser.getBuilder().getF64FloatAttr(value);
  return success();
}

void printDouble(OpAsmPrinter &printer, Operation *, FloatAttr attr) {
  printer << formatDouble(attr.getValueAsDouble());
}

} // namespace

#define GET_OP_CLASSES
#include "dialects/llm/IR/LLMOps.cpp.inc"

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError() << "needs a non-empty checkpoint tensor name";
  if (auto q = dyn_cast<QuantWeightType>(getResult().getType())) {
    if (!getScales() || getScales()->empty())
      return emitOpError() << "quantized weight '" << getName()
                           << "' needs its scale tensor (scales \"name\")";
    if (q.getZero() && !getZeros())
      return emitOpError() << "quantized weight '" << getName()
                           << "' has zero points (" << q.getZero()
                           << ") but names no zeros tensor";
    if (!q.getZero() && getZeros())
      return emitOpError() << "quantized weight '" << getName()
                           << "' has no zero points in its type but names a "
                              "zeros tensor";
    if (getStored())
      return emitOpError() << "quantized weight '" << getName()
                           << "': stored is for dense weights";
    if (getRows() || getTransposed())
      return emitOpError() << "quantized weight '" << getName()
                           << "': rows and transposed are not supported for "
                              "quantized weights";
    if (bool(getParts()) != bool(getScaleParts()) ||
        (getParts() && getParts()->size() != getScaleParts()->size()))
      return emitOpError() << "stacked quantized weight '" << getName()
                           << "' needs one scale tensor per part "
                              "(scale_parts)";
    if (getParts()) {
      // Each part is an equal share of the rows (leading dimensions
      // flattened): whole matrices, or whole blocks of rows within one, so
      // that the parts' scales concatenated are the weight's.
      ArrayRef<int64_t> shape = q.getShape();
      const int64_t n = int64_t(getParts()->size());
      int64_t total = 1;
      for (size_t i = 0; i + 1 < shape.size(); ++i)
        total *= shape[i];
      const int64_t matrixRows = shape[shape.size() - 2];
      const int64_t blockRows = q.getBlock()[shape.size() - 2];
      const int64_t partRows = total / n;
      if (total % n != 0 ||
          (partRows % matrixRows != 0 &&
           (matrixRows % partRows != 0 || partRows % blockRows != 0)))
        return emitOpError() << "stacked quantized weight '" << getName()
                             << "': " << n << " parts of " << total
                             << " rows are not whole blocks of " << blockRows
                             << " rows each";
    } else if (getScaleParts()) {
      return emitOpError() << "weight '" << getName()
                           << "': scale_parts need stacked parts";
    }
    if (getInterleaved() &&
        (q.getShape().size() < 2 || q.getShape()[1] % 2 != 0 ||
         q.getBlock()[1] != 1 || getParts()))
      return emitOpError() << "interleaved quantized weight '" << getName()
                           << "' must be one checkpoint tensor with blocks "
                              "of one row along an even dimension 1";
    if (std::optional<StringRef> packing = getPacking()) {
      const bool integer =
          q.getStorage().isInteger(4) || q.getStorage().isInteger(8);
      if (*packing == "pack-quantized" && !integer)
        return emitOpError() << "pack-quantized weight '" << getName()
                             << "' needs i4 or i8 storage, got "
                             << q.getStorage();
      if (*packing == "awq-gemm" &&
          (!q.getStorage().isInteger(4) || !q.getZero()))
        return emitOpError() << "awq-gemm weight '" << getName()
                             << "' needs i4 storage with zero points";
      const bool gptq = *packing == "gptq" || *packing == "gptq-v2";
      if (gptq && (!integer || !q.getZero()))
        return emitOpError() << "gptq weight '" << getName()
                             << "' needs i4 or i8 storage with zero points";
      if (*packing != "pack-quantized" && *packing != "awq-gemm" && !gptq)
        return emitOpError() << "weight '" << getName()
                             << "': unknown packing \"" << *packing
                             << "\" (pack-quantized, awq-gemm, gptq, gptq-v2)";
    }
    return success();
  }
  if (getPacking())
    return emitOpError() << "weight '" << getName()
                         << "' is not quantized: a packing needs an "
                            "!llm.qweight type";
  if (std::optional<Type> stored = getStored()) {
    auto q = cast<QuantWeightType>(*stored);
    auto dense = cast<RankedTensorType>(getResult().getType());
    if (q.getShape() != dense.getShape() || !getScales() || q.getZero() ||
        getZeros() || getParts() || getPacking() || getTransposed() ||
        getInterleaved() || getScaleParts())
      return emitOpError() << "weight '" << getName()
                           << "' stored as " << q
                           << " needs its shape, a scales tensor and no "
                              "other recipe";
    return success();
  }
  if (getScales() || getZeros() || getScaleParts())
    return emitOpError() << "weight '" << getName()
                         << "' is not quantized: scales and zeros need an "
                            "!llm.qweight type";
  auto type = cast<RankedTensorType>(getResult().getType());
  if (std::optional<ArrayAttr> parts = getParts()) {
    if (parts->empty())
      return emitOpError() << "stacked weight '" << getName()
                           << "' needs at least one part";
    if (type.hasStaticShape() &&
        type.getNumElements() % int64_t(parts->size()) != 0)
      return emitOpError() << "stacked weight '" << getName() << "' of "
                           << type.getNumElements()
                           << " elements cannot be " << parts->size()
                           << " equal parts";
  }
  if (!type.hasStaticShape())
    return emitOpError() << "weight '" << getName()
                         << "' must have a static shape, got " << type;
  if (std::optional<ArrayRef<int64_t>> rows = getRows()) {
    if (!getParts() || getParts()->size() != 1)
      return emitOpError() << "rows of weight '" << getName()
                           << "' need exactly one source tensor";
    if (rows->size() != 2 || (*rows)[0] < 0 || type.getRank() < 1 ||
        (*rows)[0] + type.getDimSize(0) > (*rows)[1])
      return emitOpError() << "rows [begin, total] of weight '" << getName()
                           << "' must hold its " << type.getDimSize(0)
                           << " rows";
  }
  if (getTransposed() && (getParts() || type.getRank() < 2))
    return emitOpError() << "transposed weight '" << getName()
                         << "' must be one checkpoint tensor of rank >= 2";
  if (getInterleaved() && (getParts() || type.getRank() < 2 ||
                           type.getDimSize(1) % 2 != 0))
    return emitOpError() << "interleaved weight '" << getName()
                         << "' must be one checkpoint tensor with an even "
                            "dimension 1";
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType();
  RankedTensorType result = getType();
  if (table.getRank() != 2)
    return emitOpError() << "table must be [vocab, hidden], got " << table;
  if (result.getRank() != 2 || result.getDimSize(1) != table.getDimSize(1))
    return emitOpError() << "result must be [tokens, " << table.getDimSize(1)
                         << "], got " << result;
  if (result.getElementType() != table.getElementType())
    return emitOpError() << "result element type " << result.getElementType()
                         << " differs from the table's "
                         << table.getElementType();
  if (getScale() && !(getScale()->convertToDouble() > 0.0))
    return emitOpError() << "scale must be positive";
  return verifyTokenCount(*this, getTokens(), "tokens", getResult(), "result");
}

namespace {
/// A scale of exactly 1 is no scale.
struct DropUnitEmbeddingScale : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getScale() || op.getScale()->convertToDouble() != 1.0)
      return rewriter.notifyMatchFailure(op, "no unit scale");
    rewriter.modifyOpInPlace(op, [&] { op.removeScaleAttr(); });
    return success();
  }
};
} // namespace

void EmbeddingOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                              MLIRContext *context) {
  patterns.add<DropUnitEmbeddingScale>(context);
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  return verifyNormWeight(*this, getInput(), getWeight(), getVariant(),
                          getEps().convertToDouble());
}

LogicalResult AddRMSNormOp::verify() {
  return verifyNormWeight(*this, getInput(), getWeight(), getVariant(),
                          getEps().convertToDouble());
}

LogicalResult LayerNormOp::verify() {
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError() << "eps must be positive";
  RankedTensorType in = getInput().getType();
  int64_t last = in.getDimSize(in.getRank() - 1);
  for (Value v : {getWeight(), getBias()}) {
    if (!v)
      continue;
    RankedTensorType t = tensorOf(v);
    if (t.getRank() != 1 || t.getDimSize(0) != last)
      return emitOpError() << "weight and bias must be [" << dimString(last)
                           << "], got " << t;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Projections
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  Type wt = getWeight().getType();
  ArrayRef<int64_t> w = weightShape(wt);
  if (w.size() != 2)
    return emitOpError() << "weight must be [out, in], got " << wt;
  if (in.getRank() != out.getRank())
    return emitOpError() << "input and result ranks differ: " << in << " vs "
                         << out;
  int64_t rank = in.getRank();
  if (in.getDimSize(rank - 1) != w[1])
    return emitOpError() << "input has " << dimString(in.getDimSize(rank - 1))
                         << " features but the weight expects " << w[1]
                         << " (weight " << wt << ")";
  if (out.getDimSize(rank - 1) != w[0])
    return emitOpError() << "result has " << dimString(out.getDimSize(rank - 1))
                         << " features but the weight produces " << w[0];
  for (int64_t i = 0; i + 1 < rank; ++i)
    if (!compatible(in.getDimSize(i), out.getDimSize(i)))
      return emitOpError() << "input and result differ in dimension " << i;
  if (in.getElementType() != out.getElementType())
    return emitOpError() << "input and result element types differ";
  if (getBias()) {
    RankedTensorType b = getBias().getType();
    if (b.getRank() != 1 || b.getDimSize(0) != w[0])
      return emitOpError() << "bias must be [" << w[0] << "], got " << b;
  }
  if (getFp8Activations()) {
    auto q = dyn_cast<QuantWeightType>(wt);
    if (!q || !isa<Float8E4M3FNType>(q.getStorage()) ||
        q.getBlock()[1] != kFp8ActivationGroup || w[1] % kFp8ActivationGroup)
      return emitOpError()
             << "fp8_activations needs an f8E4M3FN weight in blocks of "
             << kFp8ActivationGroup << " input features and an input width "
             << "that is a multiple of " << kFp8ActivationGroup << ", got "
             << wt;
  }
  return success();
}

LogicalResult GatedLinearOp::verify() {
  RankedTensorType in = getInput().getType(), g = getGateWeight().getType(),
                   u = getUpWeight().getType(), out = getType();
  if (g != u)
    return emitOpError() << "gate and up weights must have one type, got " << g
                         << " and " << u;
  if (g.getRank() != 2)
    return emitOpError() << "weights must be [intermediate, hidden], got " << g;
  int64_t rank = in.getRank();
  if (out.getRank() != rank || in.getDimSize(rank - 1) != g.getDimSize(1) ||
      out.getDimSize(rank - 1) != g.getDimSize(0))
    return emitOpError() << "expects input [..., " << g.getDimSize(1)
                         << "] and result [..., " << g.getDimSize(0)
                         << "], got " << in << " and " << out;
  return verifyTokenCount(*this, getInput(), "input", getResult(), "result");
}

//===----------------------------------------------------------------------===//
// Mixture of Experts
//===----------------------------------------------------------------------===//

LogicalResult MoERouterOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeight().getType(),
                   weights = getWeights().getType(),
                   ids = getExpertIds().getType();
  if (in.getRank() != 2 || w.getRank() != 2 ||
      in.getDimSize(1) != w.getDimSize(1))
    return emitOpError() << "expects input [T, H] and router weight [experts, "
                            "H], got "
                         << in << " and " << w;
  const int64_t experts = w.getDimSize(0), k = getTopK();
  if (k < 1 || k > experts)
    return emitOpError() << "top_k " << k << " must be in [1, " << experts
                         << "] (the number of experts)";
  if (weights.getRank() != 2 || weights.getDimSize(1) != k ||
      ids.getRank() != 2 || ids.getDimSize(1) != k)
    return emitOpError() << "results must be [T, " << k << "], got "
                         << weights << " and " << ids;
  Type we = weights.getElementType();
  if (!we.isF32() && we != in.getElementType())
    return emitOpError() << "routing weights must be f32 or the input's "
                            "element type, got "
                         << we;
  if (getCorrectionBias()) {
    RankedTensorType b = cast<RankedTensorType>(getCorrectionBias().getType());
    if (b.getRank() != 1 || b.getDimSize(0) != experts ||
        !b.getElementType().isF32())
      return emitOpError() << "correction bias must be tensor<" << experts
                           << "xf32>, got " << b;
  }
  if (getLogitBias()) {
    RankedTensorType b = cast<RankedTensorType>(getLogitBias().getType());
    if (b.getRank() != 1 || b.getDimSize(0) != experts)
      return emitOpError() << "logit bias must be [" << experts << "], got "
                           << b;
  }
  if (getScoring() == RouterScoring::SoftmaxTopK &&
      (getCorrectionBias() || getGroups() != 1 || getNormalize()))
    return emitOpError() << "softmax_top_k takes no correction bias, groups "
                            "or normalize (its k weights already sum to 1)";
  const int64_t groups = getGroups(), top = getTopGroups();
  if (groups < 1 || experts % groups != 0)
    return emitOpError() << groups << " groups do not divide " << experts
                         << " experts";
  if (top < 1 || top > groups)
    return emitOpError() << "top_groups " << top << " must be in [1, "
                         << groups << "]";
  if (groups > 1 && getGroupScore() == RouterGroupScore::SumOfTop2 &&
      experts / groups < 2)
    return emitOpError() << "sum_of_top2 needs groups of at least 2 experts";
  if (k > top * (experts / groups))
    return emitOpError() << "top_k " << k << " exceeds the "
                         << top * (experts / groups)
                         << " experts of the top_groups best groups";
  if (!(getScaling().convertToDouble() > 0.0) ||
      !(getEpsilon().convertToDouble() >= 0.0))
    return emitOpError() << "scaling must be positive and epsilon >= 0";
  if (failed(verifyTokenCount(*this, getInput(), "input", getWeights(),
                              "weights")))
    return failure();
  return verifyTokenCount(*this, getInput(), "input", getExpertIds(),
                          "expert ids");
}

LogicalResult MoEExpertsOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeights().getType(),
                   ids = getExpertIds().getType(), out = getType();
  Type guType = getGateUp().getType(), downType = getDown().getType();
  ArrayRef<int64_t> gu = weightShape(guType), down = weightShape(downType);
  if (in.getRank() != 2 || gu.size() != 3 || down.size() != 3)
    return emitOpError() << "expects input [T, H], gate_up [E, 2I, H] and "
                            "down [E, H, I]";
  const int64_t experts = gu[0], hidden = in.getDimSize(1);
  const int64_t inter = gu[1] / 2;
  if (gu[1] % 2 != 0 || gu[2] != hidden || down[0] != experts ||
      down[1] != hidden || down[2] != inter)
    return emitOpError() << "expects gate_up [E, 2I, " << hidden
                         << "] and down [E, " << hidden << ", I], got "
                         << guType << " and " << downType;
  // Quantized alike (storage, scale and zero types), or dense of one type.
  auto qgu = dyn_cast<QuantWeightType>(guType);
  auto qdown = dyn_cast<QuantWeightType>(downType);
  if (qgu || qdown) {
    if (!qgu || !qdown || qgu.getStorage() != qdown.getStorage() ||
        qgu.getScale() != qdown.getScale() ||
        qgu.getZero() != qdown.getZero())
      return emitOpError() << "gate_up and down must be quantized alike, got "
                           << guType << " and " << downType;
    for (QuantWeightType q : {qgu, qdown})
      if (q.getBlock()[0] != 1)
        return emitOpError() << "a quantized expert weight's blocks lie "
                                "within one expert (block [1, rows, "
                                "columns]), got "
                             << q;
  } else if (cast<RankedTensorType>(guType).getElementType() !=
             cast<RankedTensorType>(downType).getElementType()) {
    return emitOpError() << "gate_up and down must share an element type";
  }
  if (w.getRank() != 2 || ids.getRank() != 2 ||
      w.getDimSize(1) != ids.getDimSize(1))
    return emitOpError() << "weights and expert ids must be [T, top_k], got "
                         << w << " and " << ids;
  if (out != in)
    return emitOpError() << "result type must be the input's, got " << out;
  if (getGateUpBias()) {
    auto gb = cast<RankedTensorType>(getGateUpBias().getType());
    auto db = cast<RankedTensorType>(getDownBias().getType());
    if (gb.getRank() != 2 || gb.getDimSize(0) != experts ||
        gb.getDimSize(1) != 2 * inter || db.getRank() != 2 ||
        db.getDimSize(0) != experts || db.getDimSize(1) != hidden)
      return emitOpError() << "biases must be [E, 2I] and [E, H], got " << gb
                           << " and " << db;
  }
  if (getSwigluLimit()) {
    if (!getSwigluAlpha() || getActivation() != Activation::Silu ||
        !(getSwigluLimit()->convertToDouble() > 0.0) ||
        !std::isfinite(getSwigluLimit()->convertToDouble()) ||
        !std::isfinite(getSwigluAlpha()->convertToDouble()))
      return emitOpError() << "swiglu_limit needs silu, a finite positive "
                              "limit and a finite alpha";
  } else if (getSwigluAlpha()) {
    return emitOpError() << "alpha without swiglu_limit";
  }
  if (failed(verifyTokenCount(*this, getInput(), "input", getWeights(),
                              "weights")))
    return failure();
  return verifyTokenCount(*this, getInput(), "input", getExpertIds(),
                          "expert ids");
}

LogicalResult SigmoidGateOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeight().getType(),
                   v = getValue().getType();
  if (in.getRank() != 2 || v.getRank() != 2)
    return emitOpError() << "expects input [T, H] and value [T, N]";
  if (w.getRank() != 2 || w.getDimSize(0) != 1 ||
      w.getDimSize(1) != in.getDimSize(1))
    return emitOpError() << "expects weight [1, " << in.getDimSize(1)
                         << "], got " << w;
  if (in.getElementType() != v.getElementType())
    return emitOpError() << "input and value must share an element type";
  return verifyTokenCount(*this, getInput(), "input", getValue(), "value");
}

LogicalResult ScaleOp::verify() {
  double f = getFactor().convertToDouble();
  if (!std::isfinite(f) || (getDivide() && f == 0.0))
    return emitOpError() << "factor must be finite"
                         << (getDivide() ? " and non-zero" : "");
  return success();
}

LogicalResult AttnTemperatureOp::verify() {
  double f = getFloorScale().convertToDouble(), s = getScale().convertToDouble();
  if (!std::isfinite(f) || !(f > 0.0) || !std::isfinite(s))
    return emitOpError() << "floor_scale must be finite and positive, scale "
                            "finite";
  return success();
}

LogicalResult SoftcapOp::verify() {
  if (!(getCap().convertToDouble() > 0.0))
    return emitOpError() << "cap must be positive";
  return success();
}

//===----------------------------------------------------------------------===//
// Heads
//===----------------------------------------------------------------------===//

static LogicalResult verifyHeadsReshape(Operation *op, RankedTensorType flat,
                                        RankedTensorType heads) {
  if (flat.getRank() != 2 || heads.getRank() != 3)
    return op->emitOpError() << "reshapes [T, heads * d] <-> [T, heads, d], got "
                             << flat << " and " << heads;
  if (heads.getDimSize(1) * heads.getDimSize(2) != flat.getDimSize(1))
    return op->emitOpError()
           << heads.getDimSize(1) << " heads of " << heads.getDimSize(2)
           << " do not make " << flat.getDimSize(1) << " features";
  if (!compatible(flat.getDimSize(0), heads.getDimSize(0)))
    return op->emitOpError() << "token counts differ";
  if (flat.getElementType() != heads.getElementType())
    return op->emitOpError() << "element types differ";
  return success();
}

LogicalResult SplitHeadsOp::verify() {
  return verifyHeadsReshape(*this, getInput().getType(), getType());
}

LogicalResult MergeHeadsOp::verify() {
  return verifyHeadsReshape(*this, getType(), getInput().getType());
}

OpFoldResult SplitHeadsOp::fold(FoldAdaptor) {
  if (auto merge = getInput().getDefiningOp<MergeHeadsOp>())
    if (merge.getInput().getType() == getType())
      return merge.getInput();
  return {};
}

OpFoldResult MergeHeadsOp::fold(FoldAdaptor) {
  if (auto split = getInput().getDefiningOp<SplitHeadsOp>())
    if (split.getInput().getType() == getType())
      return split.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// RoPE, KV cache, attention
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  if (failed(verifyRank(*this, getInput(), "input", 3)))
    return failure();
  int64_t headDim = getInput().getType().getDimSize(2);
  if (getOffset() < 0)
    return emitOpError() << "offset must not be negative, got " << getOffset();
  if (getOffset() + getRope().getDim() > headDim)
    return emitOpError() << "rotary dim " << getRope().getDim()
                         << (getOffset() ? " from offset " +
                                               std::to_string(getOffset())
                                         : std::string())
                         << " exceeds the head dim " << headDim;
  return verifyTokenCount(*this, getInput(), "input", getPositions(),
                          "positions");
}

LogicalResult KVCacheWriteOp::verify() {
  KVCacheType cache = getCache().getType();
  if (getType() != cache)
    return emitOpError() << "result type " << getType()
                         << " differs from the cache type " << cache;
  for (auto [v, name] : {std::pair{getKey(), "key"}, {getValue(), "value"}}) {
    RankedTensorType t = tensorOf(v);
    if (t.getRank() != 3 || t.getDimSize(1) != cache.getKvHeads() ||
        t.getDimSize(2) != cache.getHeadDim())
      return emitOpError() << name << " must be [tokens, " << cache.getKvHeads()
                           << ", " << cache.getHeadDim()
                           << "] to match the cache, got " << t;
  }
  if (getKey().getType() != getValue().getType())
    return emitOpError() << "key and value types differ";
  if (failed(verifyTokenCount(*this, getKey(), "key", getSlots(), "slots")) ||
      failed(verifyTokenCount(*this, getKey(), "key", getPositions(),
                              "positions")))
    return failure();
  return success();
}

LogicalResult AttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  RankedTensorType q = getQuery().getType();
  if (q.getRank() != 3)
    return emitOpError() << "query must be [tokens, heads, head_dim], got "
                         << q;
  if (q.getDimSize(2) != cache.getHeadDim())
    return emitOpError() << "query head dim " << q.getDimSize(2)
                         << " differs from the cache head dim "
                         << cache.getHeadDim();
  int64_t heads = q.getDimSize(1);
  if (heads % cache.getKvHeads() != 0)
    return emitOpError() << heads << " query heads cannot share "
                         << cache.getKvHeads()
                         << " KV heads (must be a multiple)";
  if (getType() != q)
    return emitOpError() << "result type " << getType()
                         << " must equal the query type " << q;
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError() << "scale must be positive";
  if (getWindow() && *getWindow() <= 0)
    return emitOpError() << "window must be positive, got " << *getWindow();
  if (getChunk() && *getChunk() <= 0)
    return emitOpError() << "chunk must be positive, got " << *getChunk();
  if (getWindow() && getChunk())
    return emitOpError() << "takes a window or a chunk, not both";
  if (getSoftcap() && !(getSoftcap()->convertToDouble() > 0.0))
    return emitOpError() << "softcap must be positive";
  if (getSinks()) {
    RankedTensorType s = getSinks().getType();
    if (s.getRank() != 1 || s.getDimSize(0) != heads)
      return emitOpError() << "sinks must be [" << heads << "], got " << s;
  }
  if (cache.getWindow() > 0 &&
      (!getWindow() || int64_t(*getWindow()) > cache.getWindow()))
    return emitOpError() << "a cache holding a window of "
                         << cache.getWindow()
                         << " tokens cannot serve attention over "
                         << (getWindow()  ? std::to_string(*getWindow()) + " tokens"
                             : getChunk() ? "chunks of " +
                                                std::to_string(*getChunk()) +
                                                " tokens"
                                          : std::string("the whole sequence"));
  if (failed(verifyTokenCount(*this, getQuery(), "query", getSlots(), "slots")) ||
      failed(verifyTokenCount(*this, getQuery(), "query", getPositions(),
                              "positions")))
    return failure();
  if (bool(getStepKey()) != bool(getStepValue()))
    return emitOpError() << "takes step keys and values together";
  for (Value step : {getStepKey(), getStepValue()}) {
    if (!step)
      continue;
    auto t = cast<RankedTensorType>(step.getType());
    if (t.getRank() != 3 || t.getDimSize(1) != cache.getKvHeads() ||
        t.getDimSize(2) != cache.getHeadDim())
      return emitOpError() << "step keys and values must be [tokens, "
                           << cache.getKvHeads() << ", " << cache.getHeadDim()
                           << "], got " << t;
    if (failed(verifyTokenCount(*this, getQuery(), "query", step, "step")))
      return failure();
  }
  if (getStepKey() && isa<Float8E4M3FNType>(cache.getDtype()))
    return emitOpError() << "step keys and values need a cache that stores "
                            "them as they are (not f8E4M3FN)";
  return success();
}

//===----------------------------------------------------------------------===//
// Multi-head Latent Attention
//===----------------------------------------------------------------------===//

namespace {

/// Checks kv_b `[heads * (nope + v), latent]` against the sizes the other
/// operands give; `nope` or `v` may be unknown (-1): it is derived.
LogicalResult verifyKvB(Operation *op, Value kvB, int64_t heads,
                        int64_t latent, int64_t &nope, int64_t &v) {
  RankedTensorType w = tensorOf(kvB);
  if (w.getRank() != 2 || w.getDimSize(1) != latent)
    return op->emitOpError() << "kv_b must be [heads * (nope + v), " << latent
                             << "], got " << w;
  if (heads <= 0 || w.getDimSize(0) % heads != 0)
    return op->emitOpError() << "kv_b's " << w.getDimSize(0)
                             << " rows do not split into " << heads
                             << " heads";
  int64_t perHead = w.getDimSize(0) / heads;
  if (nope < 0)
    nope = perHead - v;
  if (v < 0)
    v = perHead - nope;
  if (nope <= 0 || v <= 0 || nope + v != perHead)
    return op->emitOpError() << "kv_b's " << perHead
                             << " rows per head are not nope + v = " << nope
                             << " + " << v;
  return success();
}

LogicalResult verifyHeadsOf(Operation *op, Value v, StringRef name,
                            int64_t heads, int64_t dim) {
  RankedTensorType t = tensorOf(v);
  if (t.getRank() != 3 || t.getDimSize(1) != heads || t.getDimSize(2) != dim)
    return op->emitOpError() << name << " must be [tokens, " << heads << ", "
                             << dim << "], got " << t;
  return success();
}

LogicalResult verifySlotsPositions(Operation *op, Value x, Value slots,
                                   Value positions) {
  if (failed(verifyTokenCount(op, x, "query", slots, "slots")) ||
      failed(verifyTokenCount(op, x, "query", positions, "positions")))
    return failure();
  return success();
}

} // namespace

LogicalResult LatentCacheWriteOp::verify() {
  LatentCacheType cache = getCache().getType();
  RankedTensorType kv = getKv().getType();
  if (kv.getRank() != 2 || kv.getDimSize(1) != cache.getRowElems())
    return emitOpError() << "kv must be [tokens, " << cache.getLatentDim()
                         << " + " << cache.getRopeDim()
                         << "] to match the cache, got " << kv;
  RankedTensorType w = getNormWeight().getType();
  if (w.getRank() != 1 || w.getDimSize(0) != cache.getLatentDim())
    return emitOpError() << "norm weight must be [" << cache.getLatentDim()
                         << "], got " << w;
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError() << "eps must be positive";
  if (getRope().getDim() != cache.getRopeDim())
    return emitOpError() << "rotary dim " << getRope().getDim()
                         << " differs from the cache's rope_dim "
                         << cache.getRopeDim();
  if (failed(verifyTokenCount(*this, getKv(), "kv", getSlots(), "slots")) ||
      failed(verifyTokenCount(*this, getKv(), "kv", getPositions(),
                              "positions")))
    return failure();
  return success();
}

LogicalResult MLAAttentionOp::verify() {
  LatentCacheType cache = getCache().getType();
  RankedTensorType q = getQuery().getType(), y = getType();
  if (q.getRank() != 3 || y.getRank() != 3)
    return emitOpError() << "query and result must be [tokens, heads, dim]";
  const int64_t heads = q.getDimSize(1);
  int64_t nope = q.getDimSize(2) - cache.getRopeDim(), v = y.getDimSize(2);
  if (nope <= 0)
    return emitOpError() << "query head dim " << q.getDimSize(2)
                         << " leaves no room for the cache's rope_dim "
                         << cache.getRopeDim();
  if (failed(verifyHeadsOf(*this, getResult(), "result", heads, v)) ||
      failed(verifyKvB(*this, getKvB(), heads, cache.getLatentDim(), nope, v)))
    return failure();
  if (q.getElementType() != y.getElementType())
    return emitOpError() << "query and result element types differ";
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError() << "scale must be positive";
  return verifySlotsPositions(*this, getQuery(), getSlots(), getPositions());
}

LogicalResult MLAAbsorbQueryOp::verify() {
  RankedTensorType q = getQuery().getType(), y = getType();
  if (q.getRank() != 3 || y.getRank() != 3)
    return emitOpError() << "query and result must be [tokens, heads, dim]";
  const int64_t heads = q.getDimSize(1);
  const int64_t latent = tensorOf(getKvB()).getRank() == 2
                             ? tensorOf(getKvB()).getDimSize(1)
                             : -1;
  const int64_t rope = y.getDimSize(2) - latent;
  int64_t nope = q.getDimSize(2) - rope, v = -1;
  if (latent <= 0 || rope <= 0 || nope <= 0)
    return emitOpError() << "expects query [T, heads, nope + rope] and result "
                            "[T, heads, latent + rope], got "
                         << q << " and " << y;
  if (failed(verifyHeadsOf(*this, getResult(), "result", heads,
                           latent + rope)) ||
      failed(verifyKvB(*this, getKvB(), heads, latent, nope, v)))
    return failure();
  return verifyTokenCount(*this, getQuery(), "query", getResult(), "result");
}

LogicalResult LatentAttentionOp::verify() {
  LatentCacheType cache = getCache().getType();
  RankedTensorType q = getQuery().getType();
  if (q.getRank() != 3 || q.getDimSize(2) != cache.getRowElems())
    return emitOpError() << "query must be [tokens, heads, "
                         << cache.getRowElems() << "] (latent + rope), got "
                         << q;
  if (failed(verifyHeadsOf(*this, getResult(), "result", q.getDimSize(1),
                           cache.getLatentDim())))
    return failure();
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError() << "scale must be positive";
  return verifySlotsPositions(*this, getQuery(), getSlots(), getPositions());
}

LogicalResult MLAAbsorbOutputOp::verify() {
  RankedTensorType x = getInput().getType(), y = getType();
  if (x.getRank() != 3 || y.getRank() != 3)
    return emitOpError() << "input and result must be [tokens, heads, dim]";
  int64_t nope = -1, v = y.getDimSize(2);
  if (failed(verifyHeadsOf(*this, getResult(), "result", x.getDimSize(1), v)) ||
      failed(verifyKvB(*this, getKvB(), x.getDimSize(1), x.getDimSize(2), nope,
                       v)))
    return failure();
  return verifyTokenCount(*this, getInput(), "input", getResult(), "result");
}

//===----------------------------------------------------------------------===//
// LMHeadOp
//===----------------------------------------------------------------------===//

LogicalResult LMHeadOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeight().getType(),
                   out = getType();
  if (in.getRank() != 2 || w.getRank() != 2 || out.getRank() != 2)
    return emitOpError() << "expects [tokens, hidden] x [vocab, hidden] -> "
                            "[tokens, vocab]";
  if (in.getDimSize(1) != w.getDimSize(1))
    return emitOpError() << "hidden size " << dimString(in.getDimSize(1))
                         << " differs from the weight's " << w.getDimSize(1);
  if (out.getDimSize(1) != w.getDimSize(0))
    return emitOpError() << "result vocab " << dimString(out.getDimSize(1))
                         << " differs from the weight's " << w.getDimSize(0);
  return verifyTokenCount(*this, getInput(), "input", getResult(), "result");
}
