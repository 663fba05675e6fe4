//===- MatmulOps.cpp - CPU linear, gated linear, LM head ------------------===//
//
// Split over output features, each weight row widened once per step.
// Rounding points follow Hugging Face transformers (CpuBackend.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/CpuBackend.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"
#include "runtime/src/cpu/WeightRows.h"

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

void CpuBackend::linear(const P::Operand &xOp, const P::Operand &weightOp,
                        const P::Operand *biasOp, const P::Operand &out,
                        size_t inFeatures, size_t outFeatures,
                        bool fp8Activations) {
  const float *x = load(xOp);
  if (fp8Activations) // load's copy is this op's own scratch
    fakeQuantizeE4M3(const_cast<float *>(x),
                     size_t(step_.numTokens) * inFeatures,
                     size_t(kFp8ActivationGroup));
  const float *bias = biasOp ? load(*biasOp) : nullptr;
  // A quantized weight's rows come dequantized (WeightRows).
  const WeightRows rows(plan_, weightOp);
  int64_t tokens = step_.numTokens;
  // Split over output features: decode has one token, and each weight row
  // is then read (and widened) once per step.
  pool_->parallelFor(
      int64_t(outFeatures), [&](int64_t begin, int64_t end, int t) {
        float *buffer = workers_[t].a.data();
        for (int64_t n = begin; n < end; ++n) {
          const float *wn = rows.row(size_t(n), buffer);
          float b = bias ? bias[n] : 0.0f;
          for (int64_t i = 0; i < tokens; ++i)
            storeOne(row(out, i), out.dtype(), size_t(n),
                     dot(x + size_t(i) * inFeatures, wn, inFeatures) + b);
        }
      });
}

void CpuBackend::gatedLinear(const P::Op &op, const P::GatedLinear &p) {
  const P::Operand &gateOp = *op.inputs()->Get(1);
  const P::Operand &upOp = *op.inputs()->Get(2);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  const uint8_t *gate = weight(gateOp);
  const uint8_t *up = weight(upOp);
  size_t in = size_t(p.in_features());
  size_t rowBytes = in * dtypeSize(gateOp.dtype());
  P::DType type = out.dtype();
  int64_t tokens = step_.numTokens;
  pool_->parallelFor(p.out_features(), [&](int64_t begin, int64_t end, int t) {
    for (int64_t n = begin; n < end; ++n) {
      const float *wg = asFloats(gate + size_t(n) * rowBytes, gateOp.dtype(),
                                 in, workers_[t].a.data());
      const float *wu = asFloats(up + size_t(n) * rowBytes, upOp.dtype(), in,
                                 workers_[t].b.data());
      for (int64_t i = 0; i < tokens; ++i) {
        const float *xi = x + size_t(i) * in;
        // act(round(x Wg^T)) * round(x Wu^T), as GLU after two Linears.
        float g = roundTo(type, dot(xi, wg, in));
        float u = roundTo(type, dot(xi, wu, in));
        storeOne(row(out, i), type, size_t(n),
                 roundTo(type, activate(p.activation(), g)) * u);
      }
    }
  });
}

} // namespace llmc::runtime::cpu
