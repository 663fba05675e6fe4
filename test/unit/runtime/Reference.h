//===- Reference.h - double-precision references for the runtime tests -*- C++
//-*-===//
//
// Independent of the runtime's code: rounding to bf16/f16 by frexp/nearbyint
// rather than bit tricks, and every op as a plain double loop.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_RUNTIME_REFERENCE_H
#define LLMC_TEST_UNIT_RUNTIME_REFERENCE_H

#include <algorithm>
#include <cmath>
#include <optional>
#include <limits>
#include <vector>

namespace llmc::runtime::test {

/// `x` rounded to nearest even with `bits` significant bits, the last bit
/// worth at least 2^minExp (subnormals).
inline double roundBits(double x, int bits, int minExp) {
  if (x == 0 || !std::isfinite(x))
    return x;
  int exp;
  std::frexp(x, &exp); // |x| = m * 2^exp, m in [0.5, 1)
  int unit = std::max(exp - bits, minExp);
  return std::ldexp(std::nearbyint(std::ldexp(x, -unit)), unit);
}
inline double roundBf16(double x) { return roundBits(x, 8, -133); }
inline double roundF16(double x) {
  double r = roundBits(x, 11, -24);
  return std::fabs(r) > 65504 ? std::copysign(HUGE_VAL, r) : r;
}

inline double silu(double x) { return x / (1 + std::exp(-x)); }
inline double geluTanh(double x) {
  return 0.5 * x *
         (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
inline double gelu(double x) {
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

/// y[t][n] = sum_k x[t][k] w[n][k] (+ b[n]).
inline std::vector<double> matmul(const std::vector<float> &x,
                                  const std::vector<float> &w,
                                  const std::vector<float> *b, size_t tokens,
                                  size_t in, size_t out) {
  std::vector<double> y(tokens * out);
  for (size_t t = 0; t < tokens; ++t)
    for (size_t n = 0; n < out; ++n) {
      double s = b ? (*b)[n] : 0.0;
      for (size_t k = 0; k < in; ++k)
        s += double(x[t * in + k]) * double(w[n * in + k]);
      y[t * out + n] = s;
    }
  return y;
}

/// RMSNorm of each `size` group: x * r * w with r = 1/sqrt(mean(x^2)+eps).
inline std::vector<double> rmsNorm(const std::vector<double> &x,
                                   const std::vector<double> &w, size_t size,
                                   double eps) {
  std::vector<double> y(x.size());
  for (size_t g = 0; g < x.size(); g += size) {
    double ss = 0;
    for (size_t i = 0; i < size; ++i)
      ss += x[g + i] * x[g + i];
    double r = 1 / std::sqrt(ss / double(size) + eps);
    for (size_t i = 0; i < size; ++i)
      y[g + i] = x[g + i] * r * (w.empty() ? 1.0 : w[i]);
  }
  return y;
}

/// `x` with its first rotaryDim elements of each head rotated by position
/// `pos` (angles as fp32 products, as the plan specifies).
inline std::vector<double> rope(const std::vector<double> &x, size_t heads,
                                size_t headDim, size_t rotaryDim,
                                bool interleaved, double scaling,
                                const std::vector<float> &invFreq,
                                int32_t pos) {
  std::vector<double> y = x;
  size_t half = rotaryDim / 2;
  for (size_t h = 0; h < heads; ++h)
    for (size_t k = 0; k < half; ++k) {
      double angle = double(float(pos) * invFreq[k]);
      double c = std::cos(angle) * scaling, s = std::sin(angle) * scaling;
      size_t i1 = h * headDim + (interleaved ? 2 * k : k);
      size_t i2 = h * headDim + (interleaved ? 2 * k + 1 : k + half);
      y[i1] = x[i1] * c - x[i2] * s;
      y[i2] = x[i2] * c + x[i1] * s;
    }
  return y;
}

/// Attention of one query head over keys/values rows [first, last]
/// (each headDim long) with optional softcap and sink logit: the sink is
/// one more softmax entry whose probability is dropped (gpt-oss's eager
/// attention: concatenate, softmax, slice it off).
inline std::vector<double>
attend(const double *q, const std::vector<std::vector<double>> &keys,
       const std::vector<std::vector<double>> &values, size_t first,
       size_t last, double scale, double softcap,
       std::optional<double> sink = std::nullopt) {
  size_t d = keys[first].size();
  std::vector<double> scores;
  double maxScore = -std::numeric_limits<double>::infinity();
  for (size_t j = first; j <= last; ++j) {
    double s = 0;
    for (size_t i = 0; i < d; ++i)
      s += q[i] * keys[j][i];
    s *= scale;
    if (softcap > 0)
      s = softcap * std::tanh(s / softcap);
    scores.push_back(s);
    maxScore = std::max(maxScore, s);
  }
  if (sink)
    maxScore = std::max(maxScore, *sink);
  double sum = sink ? std::exp(*sink - maxScore) : 0.0;
  for (double &s : scores)
    sum += (s = std::exp(s - maxScore));
  std::vector<double> out(d, 0.0);
  for (size_t j = first; j <= last; ++j)
    for (size_t i = 0; i < d; ++i)
      out[i] += scores[j - first] / sum * values[j][i];
  return out;
}

} // namespace llmc::runtime::test

#endif // LLMC_TEST_UNIT_RUNTIME_REFERENCE_H
