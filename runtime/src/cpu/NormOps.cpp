//===- NormOps.cpp - CPU RMSNorm and add + RMSNorm ------------------------===//
//
// In fp32 with the rounding points of each variant (plan.fbs RMSNormVariant).
// Rounding points follow Hugging Face transformers (CpuBackend.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/CpuBackend.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"

#include <cmath>

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

namespace {

/// y = RMSNorm(x) over `size` elements in fp32, before the output rounding.
/// CastBeforeWeight rounds x * r to `castType` first (as Llama's
/// `weight * hidden_states.to(input_dtype)`).
void normalize(const float *x, const float *w, size_t size,
               P::RMSNormVariant variant, float eps, P::DType castType,
               float *y) {
  float mean = sumSquares(x, size) / float(size);
  float r = 1.0f / std::sqrt(mean + eps);
  switch (variant) {
  case P::RMSNormVariant::CastBeforeWeight:
    for (size_t i = 0; i < size; ++i)
      y[i] = roundTo(castType, x[i] * r) * w[i];
    return;
  case P::RMSNormVariant::WeightInFp32:
    for (size_t i = 0; i < size; ++i)
      y[i] = x[i] * r * w[i];
    return;
  case P::RMSNormVariant::OnePlusWeight:
    for (size_t i = 0; i < size; ++i)
      y[i] = x[i] * r * (1.0f + w[i]);
    return;
  case P::RMSNormVariant::NoWeight:
    for (size_t i = 0; i < size; ++i)
      y[i] = x[i] * r;
    return;
  }
}

} // namespace

void CpuBackend::rmsNorm(const P::Op &op, const P::RMSNorm &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(xOp);
  const float *w = p.variant() == P::RMSNormVariant::NoWeight
                       ? nullptr
                       : load(*op.inputs()->Get(1));
  size_t size = size_t(p.size()), rowElems = size_t(xOp.row_elems());
  float eps = float(p.eps());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t g = 0; g < rowElems; g += size)
        normalize(x + size_t(i) * rowElems + g, w, size, p.variant(), eps,
                  xOp.dtype(), y + g);
      narrow(y, out.dtype(), row(out, i), rowElems);
    }
  });
}

void CpuBackend::addRmsNorm(const P::Op &op, const P::AddRMSNorm &p) {
  const P::Operand &normedOp = *op.outputs()->Get(0);
  const P::Operand &sumOp = *op.outputs()->Get(1);
  const float *x = load(*op.inputs()->Get(0));
  const float *residual = load(*op.inputs()->Get(1));
  const float *w = p.variant() == P::RMSNormVariant::NoWeight
                       ? nullptr
                       : load(*op.inputs()->Get(2));
  size_t size = size_t(p.size());
  float eps = float(p.eps());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *sum = workers_[t].a.data();
    float *y = workers_[t].b.data();
    for (int64_t i = begin; i < end; ++i) {
      const float *xi = x + size_t(i) * size;
      const float *ri = residual + size_t(i) * size;
      // The sum is rounded before it is normalized: it is the next
      // residual, a tensor of the activation dtype.
      for (size_t k = 0; k < size; ++k)
        sum[k] = roundTo(sumOp.dtype(), xi[k] + ri[k]);
      normalize(sum, w, size, p.variant(), eps, sumOp.dtype(), y);
      narrow(sum, sumOp.dtype(), row(sumOp, i), size);
      narrow(y, normedOp.dtype(), row(normedOp, i), size);
    }
  });
}

} // namespace llmc::runtime::cpu
