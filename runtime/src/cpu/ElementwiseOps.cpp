//===- ElementwiseOps.cpp - CPU embedding, glu, add and softcap -----------===//
//
// Each a loop over tokens (and elements), in the activation dtype.
// Rounding points follow Hugging Face transformers (CpuBackend.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/CpuBackend.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"

#include <cmath>

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

void CpuBackend::embedding(const P::Op &op, const P::Embedding &p) {
  const P::Operand &tableOp = *op.inputs()->Get(1);
  const P::Operand &out = *op.outputs()->Get(0);
  const int32_t *tokens = input(*op.inputs()->Get(0));
  const uint8_t *table = weight(tableOp);
  size_t hidden = size_t(p.hidden());
  size_t rowBytes = hidden * dtypeSize(tableOp.dtype());
  float scale = float(p.scale());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      widen(table + size_t(tokens[i]) * rowBytes, tableOp.dtype(), y, hidden);
      for (size_t k = 0; k < hidden; ++k)
        y[k] *= scale;
      narrow(y, out.dtype(), row(out, i), hidden);
    }
  });
}

void CpuBackend::glu(const P::Op &op, const P::GLU &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *gate = load(*op.inputs()->Get(0));
  const float *up = load(*op.inputs()->Get(1));
  size_t size = size_t(p.size());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      const float *g = gate + size_t(i) * size;
      const float *u = up + size_t(i) * size;
      for (size_t k = 0; k < size; ++k)
        y[k] = roundTo(out.dtype(), activate(p.activation(), g[k])) * u[k];
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::add(const P::Op &op, const P::Add &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *a = load(*op.inputs()->Get(0));
  const float *b = load(*op.inputs()->Get(1));
  size_t size = size_t(p.size());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t k = 0; k < size; ++k)
        y[k] = a[size_t(i) * size + k] + b[size_t(i) * size + k];
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::scale(const P::Op &op, const P::Scale &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  size_t size = size_t(p.size());
  float factor = float(p.factor());
  bool divide = p.divide();
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      const float *xi = x + size_t(i) * size;
      for (size_t k = 0; k < size; ++k)
        y[k] = divide ? xi[k] / factor : xi[k] * factor;
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::attnTemperature(const P::Op &op,
                                 const P::AttnTemperature &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  const int32_t *positions = input(*op.inputs()->Get(1));
  size_t size = size_t(p.size());
  float floorScale = float(p.floor_scale()), scale = float(p.scale());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      // transformers' order of fp32 operations.
      float f = std::floor((float(positions[i]) + 1.0f) / floorScale);
      float s = std::log1p(f) * scale + 1.0f;
      const float *xi = x + size_t(i) * size;
      for (size_t k = 0; k < size; ++k)
        y[k] = xi[k] * s;
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::softcap(const P::Op &op, const P::Softcap &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  size_t size = size_t(p.size());
  float cap = float(p.cap());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t k = 0; k < size; ++k)
        y[k] = cap * std::tanh(x[size_t(i) * size + k] / cap);
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

} // namespace llmc::runtime::cpu
