//===- LLMTypes.cpp - llm dialect types ------------------------------------===//

#include "dialects/llm/IR/LLMDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc::llm;

#define GET_TYPEDEF_CLASSES
#include "dialects/llm/IR/LLMTypes.cpp.inc"

void LLMDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/llm/IR/LLMTypes.cpp.inc"
      >();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t kvHeads, int64_t headDim, Type dtype,
                                  int64_t window) {
  if (kvHeads <= 0)
    return emitError() << "kv_heads must be positive, got " << kvHeads;
  if (headDim <= 0)
    return emitError() << "head_dim must be positive, got " << headDim;
  if (!dtype.isF32() && !dtype.isF16() && !dtype.isBF16() &&
      !isa<Float8E4M3FNType>(dtype))
    return emitError() << "dtype must be f32, f16, bf16 or f8E4M3FN, got "
                       << dtype;
  if (window < 0)
    return emitError() << "window must be positive (or absent), got "
                       << window;
  return success();
}

LogicalResult
LatentCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t latentDim, int64_t ropeDim, Type dtype) {
  if (latentDim <= 0)
    return emitError() << "latent_dim must be positive, got " << latentDim;
  if (ropeDim <= 0 || ropeDim % 2 != 0)
    return emitError() << "rope_dim must be positive and even, got "
                       << ropeDim;
  if (!isa<FloatType>(dtype))
    return emitError() << "dtype must be a float type, got " << dtype;
  return success();
}

//===----------------------------------------------------------------------===//
// QuantWeightType
//===----------------------------------------------------------------------===//

namespace {

bool isStorageType(Type t) {
  if (auto i = dyn_cast<IntegerType>(t))
    return i.isSignless() && (i.getWidth() == 4 || i.getWidth() == 8);
  return isa<Float8E4M3FNType, Float8E5M2Type, Float4E2M1FNType>(t);
}

bool isScaleType(Type t) {
  return isa<Float32Type, BFloat16Type, Float16Type, Float8E8M0FNUType>(t);
}

} // namespace

LogicalResult
QuantWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                        ArrayRef<int64_t> shape, Type storage,
                        ArrayRef<int64_t> block, Type scale, Type zero) {
  if (shape.size() < 2)
    return emitError() << "shape must have at least 2 dimensions, got "
                       << shape.size();
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << "shape dimensions must be positive, got " << d;
  if (block.size() != shape.size())
    return emitError() << "block must have one extent per dimension of the "
                          "shape ("
                       << shape.size() << "), got " << block.size();
  for (size_t i = 0; i < block.size(); ++i)
    if (block[i] <= 0 || block[i] > shape[i])
      return emitError() << "block extent " << block[i] << " of dimension "
                         << i << " must be in [1, " << shape[i] << "]";
  if (!isStorageType(storage))
    return emitError() << "storage must be f8E4M3FN, f8E5M2, f4E2M1FN, i4 "
                          "or i8, got "
                       << storage;
  if (!isScaleType(scale))
    return emitError() << "scale must be f32, bf16, f16 or f8E8M0FNU, got "
                       << scale;
  if (isa<Float8E8M0FNUType>(scale) && !isa<Float4E2M1FNType>(storage))
    return emitError() << "f8E8M0FNU scales are MXFP4's: storage must be "
                          "f4E2M1FN, got "
                       << storage;
  if (zero) {
    auto zi = dyn_cast<IntegerType>(zero);
    if (!isa<IntegerType>(storage))
      return emitError() << "zero points need integer storage, got "
                         << storage;
    if (!zi || !zi.isSignless() || (zi.getWidth() != 4 && zi.getWidth() != 8))
      return emitError() << "zero must be i4 or i8, got " << zero;
  }
  return success();
}

SmallVector<int64_t> QuantWeightType::getScaleShape() const {
  SmallVector<int64_t> out;
  for (auto [d, b] : llvm::zip_equal(getShape(), getBlock()))
    out.push_back((d + b - 1) / b);
  return out;
}

int64_t QuantWeightType::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : getShape())
    n *= d;
  return n;
}

unsigned QuantWeightType::getStorageBits() const {
  return getStorage().getIntOrFloatBitWidth();
}

uint64_t QuantWeightType::getStorageBytes() const {
  const uint64_t row = uint64_t(getShape().back());
  const uint64_t rows = uint64_t(getNumElements()) / row;
  return rows * ((row * getStorageBits() + 7) / 8);
}

ArrayRef<int64_t> llmc::llm::weightShape(Type type) {
  if (auto t = dyn_cast<RankedTensorType>(type))
    return t.getShape();
  if (auto q = dyn_cast<QuantWeightType>(type))
    return q.getShape();
  return {};
}
