//===- QuantizeTest.cpp - llmc compile --quantize fp8-block ---------------===//
//
// The E4M3 rounding and the block quantizer (compiler/plan/Quantize.h), and
// the f16 rounding and int4 group quantizer of --quantize w4-g128:
// every code round-trips, ties go to the even code, overflow saturates, and
// every dequantized weight is within half a quantization step of the
// original (the quantization issue's bound), the runtime's decoder and
// rounding (FP8 KV caches) agreeing with the compiler's.
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

// The runtime's arithmetic rounding (FP8 KV caches: cpu/Numerics.h, and
// prelude.cuh's e4m3_from_f, the same steps) against the compiler's
// table search: every code, every midpoint between neighbours and just
// either side of it, and random values over the whole range and beyond.
TEST(Quantize, RuntimeRoundingMatchesTheCompilers) {
  std::vector<float> xs;
  for (int c = 0; c < 0x7e; ++c) {
    const float lo = e4m3Value(uint8_t(c)), hi = e4m3Value(uint8_t(c + 1));
    const float mid = lo + (hi - lo) / 2; // exact: a step is a power of 2
    for (float x : {lo, mid, std::nextafter(mid, 0.0f),
                    std::nextafter(mid, 1000.0f)})
      xs.insert(xs.end(), {x, -x});
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> exponent(-14.0f, 10.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::exp2(exponent(rng));
    xs.insert(xs.end(), {x, -x});
  }
  xs.insert(xs.end(), {0.0f, -0.0f, 448.0f, 463.9f, 464.0f, 1e30f,
                       INFINITY, -INFINITY});
  for (float x : xs)
    ASSERT_EQ(runtime::cpu::floatToF8e4m3(x), e4m3Round(x)) << x;
  EXPECT_EQ(runtime::cpu::floatToF8e4m3(NAN), 0x7f);
  EXPECT_EQ(runtime::cpu::floatToF8e4m3(-NAN), 0xff);
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

TEST(Quantize, F16RoundingMatchesTheRuntime) {
  // Every half from the smallest subnormal to the largest finite value, and
  // the midpoints between neighbours (ties to the even one).
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float v = f16Value(uint16_t(h));
    ASSERT_EQ(v, runtime::cpu::f16ToFloat(uint16_t(h))) << h;
    ASSERT_EQ(f16Round(v), h) << v;
    ASSERT_EQ(f16Round(v), runtime::cpu::floatToF16(v)) << v;
    if (h + 1 < 0x7c00) {
      const float mid = 0.5f * (v + f16Value(uint16_t(h + 1)));
      ASSERT_EQ(f16Round(mid), runtime::cpu::floatToF16(mid)) << mid;
      ASSERT_EQ(f16Round(mid) % 2, 0u) << mid;
    }
  }
  EXPECT_EQ(f16Round(65504.0f), 0x7bff);
  EXPECT_EQ(f16Round(1e9f), 0x7bff); // saturates
  EXPECT_EQ(f16Round(0x1p-26f), 0);  // below half the smallest subnormal
}

/// The int4 code of element i of a packed row.
int int4At(const std::vector<uint8_t> &packed, size_t i) {
  const int nibble = (packed[i / 2] >> (4 * (i % 2))) & 0xf;
  return nibble >= 8 ? nibble - 16 : nibble;
}

TEST(Quantize, Int4GroupsAreWithinHalfAStepAndPackedLowNibbleFirst) {
  // A row of 300 in groups of 128 (the last of 44), for many rows of
  // values spanning six decades, with an all-zero group and exact zeros.
  const int64_t cols = 300, group = 128, groups = 3;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  size_t checked = 0;
  for (int row = 0; row < 200; ++row) {
    std::vector<float> w(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) {
      w[size_t(c)] = normal(rng) * std::pow(10.0f, float(row % 7) - 4.0f);
      if ((row % 5 == 0 && c >= 128 && c < 256) || (row + c) % 41 == 0)
        w[size_t(c)] = 0.0f;
    }
    std::vector<uint8_t> packed(size_t(cols / 2), 0xee);
    std::vector<uint16_t> scales(groups);
    quantizeInt4Row(w.data(), cols, group, packed.data(), scales.data());
    for (int64_t g = 0; g < groups; ++g) {
      float amax = 0.0f;
      for (int64_t c = g * group; c < std::min(cols, (g + 1) * group); ++c)
        amax = std::max(amax, std::fabs(w[size_t(c)]));
      if (amax == 0.0f) {
        EXPECT_EQ(f16Value(scales[size_t(g)]), 1.0f)
            << "an all-zero group keeps scale 1";
        continue;
      }
      EXPECT_EQ(scales[size_t(g)], runtime::cpu::floatToF16(amax / 7.0f));
    }
    for (int64_t c = 0; c < cols; ++c) {
      const float s = f16Value(scales[size_t(c / group)]);
      const int q = int4At(packed, size_t(c));
      ASSERT_GE(q, -8);
      ASSERT_LE(q, 7);
      // Round to nearest: within half a step (s) of w, unless clamped at
      // -8 / 7, which max|w| / 7 (rounded to f16) keeps below 7.5 steps.
      EXPECT_LE(std::fabs(float(q) * s - w[size_t(c)]), 0.5f * s * (1 + 1e-6f))
          << "row " << row << " col " << c;
      ++checked;
    }
  }
  EXPECT_EQ(checked, size_t(200 * cols));
  // The packing: element 2j in the low nibble of byte j.
  const float w[4] = {-7.0f, 7.0f, 1.0f, -1.0f}; // scale 1
  uint8_t packed[2];
  uint16_t scale;
  quantizeInt4Row(w, 4, 4, packed, &scale);
  EXPECT_EQ(f16Value(scale), 1.0f);
  EXPECT_EQ(packed[0], 0x79); // -7 = 0x9 low, 7 high
  EXPECT_EQ(packed[1], 0xf1); // 1 low, -1 = 0xf high
}

TEST(Quantize, Int8RowsAreWithinHalfAStep) {
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int row = 0; row < 100; ++row) {
    std::vector<float> w(static_cast<size_t>(301));
    for (size_t c = 0; c < w.size(); ++c)
      w[c] = (row % 9 == 0) ? 0.0f : normal(rng) * std::pow(10.0f, float(row % 5) - 3.0f);
    std::vector<int8_t> codes(w.size());
    const float scale = quantizeInt8Row(w.data(), int64_t(w.size()), codes.data());
    float amax = 0.0f;
    for (float v : w)
      amax = std::max(amax, std::fabs(v));
    EXPECT_EQ(scale, amax > 0.0f ? amax / 127.0f : 1.0f);
    for (size_t c = 0; c < w.size(); ++c) {
      ASSERT_GE(codes[c], -127);
      EXPECT_LE(std::fabs(float(codes[c]) * scale - w[c]),
                0.5f * scale * (1 + 1e-6f))
          << "row " << row << " col " << c;
    }
  }
  // Ties to even: max|w| = 127 gives scale 1.
  const float w[4] = {127.0f, 2.5f, -3.5f, 0.5f};
  int8_t codes[4];
  EXPECT_EQ(quantizeInt8Row(w, 4, codes), 1.0f);
  EXPECT_EQ(codes[0], 127);
  EXPECT_EQ(codes[1], 2);
  EXPECT_EQ(codes[2], -4);
  EXPECT_EQ(codes[3], 0);
}

TEST(Quantize, Int4TiesGoToEven) {
  // max|w| = 7 gives scale 1: 2.5 -> 2, 3.5 -> 4, -0.5 -> 0, -1.5 -> -2.
  const float w[6] = {7.0f, 2.5f, 3.5f, -0.5f, -1.5f, 0.0f};
  uint8_t packed[3];
  uint16_t scale;
  quantizeInt4Row(w, 6, 6, packed, &scale);
  const std::vector<uint8_t> p(packed, packed + 3);
  EXPECT_EQ(int4At(p, 0), 7);
  EXPECT_EQ(int4At(p, 1), 2);
  EXPECT_EQ(int4At(p, 2), 4);
  EXPECT_EQ(int4At(p, 3), 0);
  EXPECT_EQ(int4At(p, 4), -2);
  EXPECT_EQ(int4At(p, 5), 0);
}

} // namespace
} // namespace llmc::plan_writer
