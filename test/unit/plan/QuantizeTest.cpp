//===- QuantizeTest.cpp - llmc compile --quantize fp8-block ---------------===//
//
// The E4M3 rounding and the block quantizer (compiler/plan/Quantize.h):
// every code round-trips, ties go to the even code, overflow saturates, and
// every dequantized weight is within half a quantization step of the
// original (the quantization issue's bound), the runtime's decoder agreeing
// with the compiler's values.
//
//===----------------------------------------------------------------------===//

#include "compiler/plan/Quantize.h"
#include "runtime/src/cpu/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace llmc::plan_writer {
namespace {

TEST(Quantize, EveryCodeRoundTripsAndMatchesTheRuntime) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t code = uint8_t(c);
    const float v = e4m3Value(code);
    if ((code & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(v)) << c;
      continue;
    }
    EXPECT_EQ(runtime::cpu::f8e4m3ToFloat(code), v) << c;
    // -0 rounds to the negative zero code; every other value to itself.
    EXPECT_EQ(e4m3Round(v), code) << c << " = " << v;
  }
  EXPECT_EQ(e4m3Value(0x7e), 448.0f);
  EXPECT_EQ(e4m3Value(0x01), 0x1p-9f); // the smallest subnormal
  EXPECT_EQ(e4m3Value(0x08), 0x1p-6f); // the smallest normal
}

TEST(Quantize, TiesGoToTheEvenCodeAndOverflowSaturates) {
  // 1 + 1/16 is halfway between 1 (0x38) and 1.125 (0x39): to 0x38.
  EXPECT_EQ(e4m3Round(1.0625f), 0x38);
  // 1.1875 is halfway between 1.125 (0x39) and 1.25 (0x3a): to 0x3a.
  EXPECT_EQ(e4m3Round(1.1875f), 0x3a);
  EXPECT_EQ(e4m3Round(-1.1875f), 0xba);
  // Half the smallest subnormal ties to zero.
  EXPECT_EQ(e4m3Round(0x1p-10f), 0x00);
  EXPECT_EQ(e4m3Round(0x1.8p-10f), 0x01);
  EXPECT_EQ(e4m3Round(460.0f), 0x7e);
  EXPECT_EQ(e4m3Round(-1e30f), 0xfe);
  EXPECT_EQ(e4m3Round(INFINITY), 0x7e);
}

/// The distance between the E4M3 values around |x| (x in range).
float stepAt(float x) {
  const float a = std::fabs(x);
  if (a < 0x1p-6f)
    return 0x1p-9f; // subnormals
  return std::ldexp(1.0f, std::ilogb(a) - 3);
}

TEST(Quantize, DequantizedWeightsAreWithinHalfAStep) {
  // A block row of 100 rows x 300 columns in blocks of 128: three column
  // blocks (the last partial), values spanning six decades, one all-zero
  // block, exact zeros.
  const int64_t rows = 100, cols = 300, bk = 128;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = normal(rng) * std::pow(10.0f, float(c % 7) - 4.0f);
      if (c >= 128 && c < 256)
        v = 0.0f;
      if ((r + c) % 97 == 0)
        v = 0.0f;
      w[size_t(r * cols + c)] = v;
    }
  std::vector<uint8_t> codes(w.size());
  std::vector<float> scales(3);
  quantizeBlockRow(w.data(), rows, cols, bk, codes.data(), scales.data());
  EXPECT_EQ(scales[1], 1.0f) << "an all-zero block keeps scale 1";
  for (int b : {0, 2}) {
    float amax = 0.0f;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = b * bk; c < std::min(cols, (b + 1) * bk); ++c)
        amax = std::max(amax, std::fabs(w[size_t(r * cols + c)]));
    EXPECT_EQ(scales[size_t(b)], amax / kE4M3Max);
  }
  size_t checked = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float x = w[size_t(r * cols + c)];
      const float s = scales[size_t(c / bk)];
      const float q = e4m3Value(codes[size_t(r * cols + c)]);
      // In units of the scale: within half a step of x / s.
      EXPECT_LE(std::fabs(q - x / s), 0.5f * stepAt(x / s) * (1 + 1e-6f))
          << "row " << r << " col " << c << ": " << x << " / " << s;
      ++checked;
    }
  EXPECT_EQ(checked, w.size());
}

} // namespace
} // namespace llmc::plan_writer
