//===- WeightRows.cpp - rows of a weight as floats, dequantized -----------===//

#include "runtime/src/cpu/WeightRows.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"

#include <algorithm>

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

WeightRows::WeightRows(const PlanFile &plan, const P::Operand &operand)
    : data_(plan.weightData(operand.index())), dtype_(operand.dtype()) {
  const auto *weights = plan.plan()->weights();
  const P::Weight *w = weights->Get(operand.index());
  const auto *shape = w->shape();
  const uint32_t rank = shape->size();
  cols_ = size_t(shape->Get(rank - 1));
  // Whole bytes per row: i4 and f4e2m1 rows have an even length (the
  // verifier).
  rowBytes_ = size_t(packedBytes(dtype_, cols_));
  const P::WeightQuant *quant = w->quant();
  if (!quant)
    return;
  scales_ = plan.weightData(quant->scales());
  scaleType_ = weights->Get(quant->scales())->dtype();
  if (quant->zeros() >= 0)
    zeros_ = reinterpret_cast<const int8_t *>(
        plan.weightData(uint32_t(quant->zeros())));
  rows_ = rank >= 2 ? size_t(shape->Get(rank - 2)) : 1;
  blockRows_ = rank >= 2 ? size_t(quant->block()->Get(rank - 2)) : 1;
  blockCols_ = size_t(quant->block()->Get(rank - 1));
  scaleCols_ = (cols_ + blockCols_ - 1) / blockCols_;
  scaleRowsPerMatrix_ = (rows_ + blockRows_ - 1) / blockRows_;
}

float WeightRows::scaleAt(size_t index) const {
  float v;
  return *asFloats(scales_ + packedBytes(scaleType_, index), scaleType_, 1,
                   &v);
}

const float *WeightRows::row(size_t r, float *buffer) const {
  const float *w = asFloats(data_ + r * rowBytes_, dtype_, cols_, buffer);
  if (!scales_)
    return w;
  const size_t blockRow =
      (r / rows_) * scaleRowsPerMatrix_ + (r % rows_) / blockRows_;
  for (size_t g = 0; g < scaleCols_; ++g) {
    const size_t at = blockRow * scaleCols_ + g;
    const float s = scaleAt(at), z = zeros_ ? float(zeros_[at]) : 0.0f;
    const size_t j1 = std::min(cols_, (g + 1) * blockCols_);
    for (size_t j = g * blockCols_; j < j1; ++j)
      buffer[j] = (buffer[j] - z) * s;
  }
  return buffer;
}

} // namespace llmc::runtime::cpu
