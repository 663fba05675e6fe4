//===- Quantize.cpp - compile-time weight quantization --------------------===//

#include "compiler/plan/Quantize.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace llmc::plan_writer {

float e4m3Value(uint8_t code) {
  const int e = (code >> 3) & 0xf, m = code & 7;
  const float sign = (code & 0x80) ? -1.0f : 1.0f;
  if (e == 15 && m == 7)
    return std::numeric_limits<float>::quiet_NaN();
  if (e == 0)
    return sign * std::ldexp(float(m), -9);
  return sign * std::ldexp(float(8 + m), e - 10);
}

uint8_t e4m3Round(float x) {
  // The 127 non-negative finite codes 0x00..0x7E, ascending in value.
  static const std::array<float, 127> values = [] {
    std::array<float, 127> v{};
    for (int c = 0; c < 127; ++c)
      v[size_t(c)] = e4m3Value(uint8_t(c));
    return v;
  }();
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::fabs(x);
  if (a >= kE4M3Max)
    return sign | 0x7E;
  // The first code at or above a, and the one below it.
  const size_t hi = size_t(std::lower_bound(values.begin(), values.end(), a) -
                           values.begin());
  if (values[hi] == a || hi == 0)
    return sign | uint8_t(hi);
  const size_t lo = hi - 1;
  const float dlo = a - values[lo], dhi = values[hi] - a;
  if (dlo < dhi)
    return sign | uint8_t(lo);
  if (dhi < dlo)
    return sign | uint8_t(hi);
  return sign | uint8_t(lo % 2 == 0 ? lo : hi); // a tie: the even code
}

void foldBlockAmax(const float *w, int64_t rows, int64_t cols, int64_t bk,
                   float *amax) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      amax[c / bk] = std::max(amax[c / bk], std::fabs(w[r * cols + c]));
}

float e4m3Scale(float amax) { return amax > 0.0f ? amax / kE4M3Max : 1.0f; }

void encodeE4M3Rows(const float *w, int64_t rows, int64_t cols, int64_t bk,
                    const float *scales, uint8_t *codes) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      codes[r * cols + c] = e4m3Round(w[r * cols + c] / scales[c / bk]);
}

void quantizeBlockRow(const float *w, int64_t rows, int64_t cols, int64_t bk,
                      uint8_t *codes, float *scales) {
  const int64_t blocks = (cols + bk - 1) / bk;
  std::vector<float> amax(size_t(blocks), 0.0f);
  foldBlockAmax(w, rows, cols, bk, amax.data());
  for (int64_t b = 0; b < blocks; ++b)
    scales[b] = e4m3Scale(amax[size_t(b)]);
  encodeE4M3Rows(w, rows, cols, bk, scales, codes);
}

uint16_t f16Round(float x) {
  if (!(x < 65504.0f))
    return 0x7bff; // the largest finite half
  if (x < 0x1p-14f) // subnormal halves: multiples of 2^-24, up to 2^-14
    return uint16_t(std::nearbyint(x * 0x1p24f));
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  // Round the 23-bit mantissa to 10 bits, ties to even; a carry moves into
  // the exponent, as it should.
  bits += 0xfffu + ((bits >> 13) & 1u);
  const int exponent = int(bits >> 23) - 127 + 15;
  if (exponent >= 31)
    return 0x7bff; // rounded up past 65504
  return uint16_t((unsigned(exponent) << 10) | ((bits >> 13) & 0x3ffu));
}

float f16Value(uint16_t bits) {
  const int e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
  const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
  if (e == 0)
    return sign * std::ldexp(float(m), -24);
  return sign * std::ldexp(float(1024 + m), e - 25);
}

void quantizeInt4Row(const float *w, int64_t cols, int64_t group,
                     uint8_t *packed, uint16_t *scales) {
  std::memset(packed, 0, size_t(cols / 2));
  for (int64_t c0 = 0, g = 0; c0 < cols; c0 += group, ++g) {
    const int64_t c1 = std::min(cols, c0 + group);
    float amax = 0.0f;
    for (int64_t c = c0; c < c1; ++c)
      amax = std::max(amax, std::fabs(w[c]));
    // The scale as stored (f16); a group too small for any nonzero half
    // scale gets the smallest one and codes of 0.
    uint16_t bits = amax > 0.0f ? f16Round(amax / kInt4Max) : f16Round(1.0f);
    if (bits == 0)
      bits = 1;
    scales[g] = bits;
    const float scale = f16Value(bits);
    for (int64_t c = c0; c < c1; ++c) {
      const float q = std::clamp(std::nearbyint(w[c] / scale), -8.0f, 7.0f);
      const unsigned code = unsigned(int(q)) & 0xfu;
      packed[c / 2] |= uint8_t(code << (4 * (c % 2)));
    }
  }
}

float quantizeInt8Row(const float *w, int64_t cols, int8_t *codes) {
  float amax = 0.0f;
  for (int64_t c = 0; c < cols; ++c)
    amax = std::max(amax, std::fabs(w[c]));
  const float scale = amax > 0.0f ? amax / kInt8Max : 1.0f;
  for (int64_t c = 0; c < cols; ++c)
    codes[c] = int8_t(std::clamp(std::nearbyint(w[c] / scale), -127.0f, 127.0f));
  return scale;
}

double QuantError::rmsRelative() const {
  return sumSquares > 0 ? std::sqrt(sumSquaredError / sumSquares) : 0;
}

QuantError &QuantReport::of(const std::string &name,
                            const std::string &format) {
  if (entries.empty() || entries.back().name != name) {
    for (QuantError &e : entries)
      if (e.name == name)
        return e;
    entries.push_back({name, format});
  }
  return entries.back();
}

void QuantReport::print(llvm::raw_ostream &os) const {
  os << "quantization error per weight: max|q - w| / max|w| and rms(q - w) / "
        "rms(w), q the dequantized value of the original w\n";
  unsigned width = 6;
  for (const QuantError &e : entries)
    width = std::max(width, unsigned(e.name.size()));
  os << llvm::left_justify("weight", width) << "  "
     << llvm::left_justify("format", 16) << "    max rel    rms rel\n";
  double worst = 0, sumSquaredError = 0, sumSquares = 0;
  uint64_t count = 0;
  std::string worstName = "none";
  for (const QuantError &e : entries) {
    os << llvm::left_justify(e.name, width) << "  "
       << llvm::left_justify(e.format, 16) << "  "
       << llvm::format("%9.2e  %9.2e", e.maxRelative(), e.rmsRelative())
       << "\n";
    if (e.maxRelative() >= worst) {
      worst = e.maxRelative();
      worstName = e.name;
    }
    sumSquaredError += e.sumSquaredError;
    sumSquares += e.sumSquares;
    count += e.count;
  }
  os << entries.size() << " weights, " << count << " values: rms(q - w) / "
     << "rms(w) "
     << llvm::format("%.2e",
                     sumSquares > 0 ? std::sqrt(sumSquaredError / sumSquares)
                                    : 0.0)
     << " over all; worst max|q - w| / max|w| " << llvm::format("%.2e", worst)
     << " (" << worstName << ")\n";
}

} // namespace llmc::plan_writer
