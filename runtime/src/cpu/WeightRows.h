//===- WeightRows.h - rows of a weight as floats, dequantized ---*- C++ -*-===//
//
// The CPU reference's one reading of a weight that may be quantized: row r
// is elements [r * K, (r + 1) * K) of the weight (K its last dimension,
// leading dimensions flattened), widened to fp32; a quantized weight's
// elements are dequantized exactly as plan.fbs's WeightQuant defines them,
// (value - zero) * scale in one fp32 product per element, with the scale of
// the element's block. The generated CUDA kernels dequantize the same way
// in registers.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CPU_WEIGHTROWS_H
#define LLMC_RUNTIME_SRC_CPU_WEIGHTROWS_H

#include "runtime/src/PlanFile.h"

#include <cstddef>
#include <cstdint>

namespace llmc::runtime::cpu {

class WeightRows {
public:
  /// The weight `operand` of `plan` (verified: its scales and zero points
  /// have the block grid's shape, blocks span only the last two
  /// dimensions).
  WeightRows(const PlanFile &plan, const llmc::plan::Operand &operand);

  /// Row `r` as K floats: the weight's own bytes for a dense f32 weight,
  /// else widened (and dequantized) into `buffer` (K floats).
  const float *row(size_t r, float *buffer) const;

  /// Elements per row.
  size_t width() const { return cols_; }

private:
  float scaleAt(size_t index) const;

  const uint8_t *data_;
  llmc::plan::DType dtype_;
  size_t cols_ = 0, rowBytes_ = 0;
  // Quantized: the scales (and zero points) of the block grid, row r of
  // the weight in matrix r / rows_, block row (r % rows_) / blockRows_.
  const uint8_t *scales_ = nullptr;
  llmc::plan::DType scaleType_ = llmc::plan::DType::F32;
  const int8_t *zeros_ = nullptr;
  size_t rows_ = 1, blockRows_ = 1, blockCols_ = 1, scaleCols_ = 0,
         scaleRowsPerMatrix_ = 0;
};

} // namespace llmc::runtime::cpu

#endif // LLMC_RUNTIME_SRC_CPU_WEIGHTROWS_H
