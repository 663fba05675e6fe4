//===- Numerics.h - element types and inner loops of the CPU backend -*- C++
//-*-===//
//
// Conversions between fp32 and the plan's 16-bit float types (round to
// nearest even, as PyTorch's .to() does), and the few loops every op is made
// of. The loops are written so that GCC and Clang vectorize them at -O2/-O3
// and give bit-identical results whatever the vector width (no reassociation
// beyond the fixed accumulator lanes, no FMA contraction in ISO mode).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CPU_NUMERICS_H
#define LLMC_RUNTIME_SRC_CPU_NUMERICS_H

#include "runtime/schema/plan_generated.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <cstddef>
#include <cstdint>

namespace llmc::runtime::cpu {

inline float bf16ToFloat(uint16_t h) {
  return std::bit_cast<float>(uint32_t(h) << 16);
}

/// Round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t floatToBf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

/// Exact: every f16 (normal, subnormal, inf, NaN) is an f32.
inline float f16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t magnitude = h & 0x7fffu;
  if (magnitude >= 0x7c00u) // inf or NaN
    return std::bit_cast<float>(sign | 0x7f800000u |
                                (magnitude & 0x3ffu) << 13);
  // Shifting puts the f16 exponent and mantissa in place with a bias of 15;
  // the multiplication rebiases to 127 and is exact, subnormals included.
  float value = std::bit_cast<float>(magnitude << 13) * 0x1p112f;
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(value));
}

/// Round to nearest even; overflow goes to infinity, NaN stays NaN.
inline uint16_t floatToF16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t magnitude = u & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) // inf or NaN
    return sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (magnitude >= 0x477ff000u) // >= 65520 rounds to inf
    return sign | 0x7c00u;
  if (magnitude < 0x38800000u) { // below 2^-14: an f16 subnormal or zero
    // In units of 2^-24 the value is below 1024; lrint rounds to even.
    float units = std::bit_cast<float>(magnitude) * 0x1p24f;
    return sign | uint16_t(std::lrint(units));
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits
  // to nearest even; a carry correctly bumps the exponent.
  uint32_t odd = (magnitude >> 13) & 1u;
  magnitude += 0xc8000fffu + odd;
  return sign | uint16_t(magnitude >> 13);
}

/// An OCP FP8 E4M3 ("fn": no infinities) value: sign, 4 exponent bits with
/// bias 7, 3 mantissa bits; exponent 0 is subnormal (m / 8 * 2^-6), and
/// 0x7F / 0xFF are NaN. Exact in fp32.
inline float f8e4m3ToFloat(uint8_t b) {
  const int e = (b >> 3) & 0xf, m = b & 7;
  const float sign = (b & 0x80) ? -1.0f : 1.0f;
  if (e == 15 && m == 7)
    return std::numeric_limits<float>::quiet_NaN();
  if (e == 0)
    return sign * std::ldexp(float(m), -9);
  return sign * std::ldexp(float(8 + m), e - 10);
}

/// The E4M3 code nearest to x (ties to the even code); beyond +-448
/// saturated to +-448 (the "satfinite" conversion), NaN to 0x7F with x's
/// sign. The generated kernels round the same way (prelude.cuh
/// e4m3_from_f).
inline uint8_t floatToF8e4m3(float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::fabs(x);
  if (std::isnan(a))
    return sign | 0x7F;
  if (a >= 448.0f)
    return sign | 0x7E;
  if (a < 0x1p-6f) // subnormal codes m * 2^-9 (m = 8 is 2^-6, code 8)
    return sign | uint8_t(std::nearbyint(a * 0x1p9f));
  // a = m * 2^(e - 3) with m in [8, 16] after rounding: a carry to 16 is
  // the next binade's first code.
  const int e = std::ilogb(a);
  const float m = std::nearbyint(std::ldexp(a, 3 - e));
  return sign | uint8_t(8 * e + 48 + int(m));
}

/// The scale of n values quantized to E4M3 together (an FP8 KV cache's
/// head, a group of fp8_activations): max|x| / 448, 1 when all are 0 (NaNs
/// do not count); value i is then stored as floatToF8e4m3(x[i] / s).
inline float e4m3GroupScale(const float *x, size_t n) {
  float amax = 0.0f;
  for (size_t e = 0; e < n; ++e)
    if (std::fabs(x[e]) > amax)
      amax = std::fabs(x[e]);
  return amax > 0.0f ? amax / 448.0f : 1.0f;
}

/// x[i] for n values in groups of `group` (the last may be shorter)
/// replaced by their E4M3 quantization, e4m3(x / s) * s in fp32 with each
/// group's e4m3GroupScale (Linear's fp8_activations).
inline void fakeQuantizeE4M3(float *x, size_t n, size_t group) {
  for (size_t g = 0; g < n; g += group) {
    const size_t m = std::min(group, n - g);
    const float s = e4m3GroupScale(x + g, m);
    for (size_t e = g; e < g + m; ++e)
      x[e] = f8e4m3ToFloat(floatToF8e4m3(x[e] / s)) * s;
  }
}

/// An OCP MX FP4 (E2M1) code in the low 4 bits of `b` as a float: 0, 0.5,
/// 1, 1.5, 2, 3, 4, 6, the top bit the sign.
inline float f4e2m1ToFloat(uint8_t b) {
  static constexpr float kValues[8] = {0.0f, 0.5f, 1.0f, 1.5f,
                                       2.0f, 3.0f, 4.0f, 6.0f};
  const float v = kValues[b & 7u];
  return (b & 8u) ? -v : v;
}

/// An OCP MX E8M0 scale byte as a float: 2^(b - 127), 0xFF NaN (b = 0 is
/// 2^-127, below float's normal range: exact as a subnormal).
inline float e8m0ToFloat(uint8_t b) {
  if (b == 0xFF)
    return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, int(b) - 127);
}

/// `x` rounded to `dtype` (identity for f32).
inline float roundTo(llmc::plan::DType dtype, float x) {
  switch (dtype) {
  case llmc::plan::DType::BF16:
    return bf16ToFloat(floatToBf16(x));
  case llmc::plan::DType::F16:
    return f16ToFloat(floatToF16(x));
  default:
    return x;
  }
}

/// dst[i] = src[i] for n elements of `dtype` (a float type, or a quantized
/// weight's f8e4m3, i8, i4 or f4e2m1 values, or e8m0 scales; i4, f4e2m1:
/// `src` is the byte holding element 0 in its low nibble) at `src`.
void widen(const void *src, llmc::plan::DType dtype, float *dst, size_t n);

/// n elements of `dtype` at `dst` = src[i] rounded.
void narrow(const float *src, llmc::plan::DType dtype, void *dst, size_t n);

/// Element `index` of `dtype` at `base` = value rounded.
inline void storeOne(void *base, llmc::plan::DType dtype, size_t index,
                     float value) {
  switch (dtype) {
  case llmc::plan::DType::BF16:
    static_cast<uint16_t *>(base)[index] = floatToBf16(value);
    return;
  case llmc::plan::DType::F16:
    static_cast<uint16_t *>(base)[index] = floatToF16(value);
    return;
  default:
    static_cast<float *>(base)[index] = value;
    return;
  }
}

/// A view of `n` elements of `dtype` at `src` as floats: the bytes themselves
/// for f32, else widened into `buffer`.
inline const float *asFloats(const uint8_t *src, llmc::plan::DType dtype,
                             size_t n, float *buffer) {
  if (dtype == llmc::plan::DType::F32)
    return reinterpret_cast<const float *>(src);
  widen(src, dtype, buffer, n);
  return buffer;
}

/// sum a[i] * b[i], in fp32 with 16 interleaved accumulators.
float dot(const float *a, const float *b, size_t n);

/// sum x[i]^2, in fp32 with 16 interleaved accumulators.
float sumSquares(const float *x, size_t n);

/// y[i] += alpha * x[i].
void axpy(float alpha, const float *x, float *y, size_t n);

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float geluTanh(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x *
         (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}
inline float gelu(float x) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}
inline float activate(llmc::plan::Activation activation, float x) {
  switch (activation) {
  case llmc::plan::Activation::Silu:
    return silu(x);
  case llmc::plan::Activation::GELUTanh:
    return geluTanh(x);
  case llmc::plan::Activation::GELU:
    return gelu(x);
  }
  return x;
}

} // namespace llmc::runtime::cpu

#endif // LLMC_RUNTIME_SRC_CPU_NUMERICS_H
