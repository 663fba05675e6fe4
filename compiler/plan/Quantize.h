//===- Quantize.h - compile-time weight quantization ------------*- C++ -*-===//
//
// `llmc compile --quantize fp8-block`: a float weight [N, K] becomes
// float8_e4m3fn codes with one f32 scale per BN x BK block, as FP8
// checkpoints (DeepSeek V3, Qwen3-*-FP8) store them: scale = max|w| / 448
// over the block (1 for an all-zero block), code = w / scale rounded to the
// nearest E4M3 value (ties to even), so every dequantized value code * scale
// is within half a quantization step of w.
//
// `llmc compile --quantize w4-g128`: symmetric signed int4 in groups of G
// consecutive elements of a row (block [1, G]) with one f16 scale each, as
// GPTQ (sym) and compressed-tensors int4 checkpoints store them: scale =
// max|w| / 7 rounded to f16 (1 for an all-zero group), code = w / scale
// rounded to the nearest integer (ties to even) and clamped to [-8, 7], so
// every dequantized value code * scale is within half a step (scale / 2)
// of w.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_PLAN_QUANTIZE_H
#define LLMC_COMPILER_PLAN_QUANTIZE_H

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
}

namespace llmc::plan_writer {

/// The largest finite E4M3 value.
inline constexpr float kE4M3Max = 448.0f;

/// The value of an E4M3 ("fn") code: exact in fp32; NaN for 0x7F / 0xFF.
float e4m3Value(uint8_t code);

/// `x` rounded to the nearest E4M3 value, ties to the even code; beyond
/// +-448 saturates to +-448 (x must not be NaN).
uint8_t e4m3Round(float x);

/// Rows [0, rows) of one block row of a weight: `w` holds rows x cols
/// floats (row-major). Writes rows x cols codes to `codes` and
/// ceil(cols / bk) scales to `scales`.
void quantizeBlockRow(const float *w, int64_t rows, int64_t cols, int64_t bk,
                      uint8_t *codes, float *scales);

/// The same in two passes over a block row too large to hold in floats
/// (fp8-tensor: the whole weight is one block): fold the max|w| of each
/// column block of some of its rows into `amax` (ceil(cols / bk) entries,
/// zeros to begin with), ...
void foldBlockAmax(const float *w, int64_t rows, int64_t cols, int64_t bk,
                   float *amax);
/// ... turn the maxima into scales (max|w| / 448, 1 for 0), ...
float e4m3Scale(float amax);
/// ... and encode the rows with them.
void encodeE4M3Rows(const float *w, int64_t rows, int64_t cols, int64_t bk,
                    const float *scales, uint8_t *codes);

/// The IEEE half-precision value nearest to x (ties to even) as its bits,
/// for 0 <= x; beyond the largest finite half (65504) saturates to it.
uint16_t f16Round(float x);

/// The value of IEEE half-precision bits (finite).
float f16Value(uint16_t bits);

/// The largest int4 code's magnitude the scale maps max|w| to.
inline constexpr float kInt4Max = 7.0f;

/// Row `w` of `cols` floats (cols even) in groups of `group`: writes
/// cols / 2 bytes of packed two's complement codes (element 2j in the low
/// nibble of byte j) to `packed` and ceil(cols / group) f16 scales (bits)
/// to `scales`.
void quantizeInt4Row(const float *w, int64_t cols, int64_t group,
                     uint8_t *packed, uint16_t *scales);

/// How far one weight's dequantized values are from the original ones
/// (`llmc compile --quantize ... --report`).
struct QuantError {
  std::string name;
  /// "f8e4m3 128x128", "i4 1x128".
  std::string format;
  double maxError = 0, maxAbs = 0, sumSquaredError = 0, sumSquares = 0;
  uint64_t count = 0;
  void add(float original, float dequantized) {
    const double e = double(dequantized) - double(original);
    maxError = std::max(maxError, e < 0 ? -e : e);
    maxAbs = std::max(maxAbs, double(original < 0 ? -original : original));
    sumSquaredError += e * e;
    sumSquares += double(original) * double(original);
    ++count;
  }
  /// max|q - w| / max|w| and rms(q - w) / rms(w); 0 for an all-zero weight.
  double maxRelative() const { return maxAbs > 0 ? maxError / maxAbs : 0; }
  double rmsRelative() const;
};

/// Every quantized weight's QuantError, in the order quantized.
class QuantReport {
public:
  /// The entry of `name`, made on first use.
  QuantError &of(const std::string &name, const std::string &format);
  const std::vector<QuantError> &weights() const { return entries; }
  /// One line per weight, then the worst and the overall figures.
  void print(llvm::raw_ostream &os) const;

private:
  std::vector<QuantError> entries;
};

/// The largest int8 code's magnitude the scale maps max|w| to.
inline constexpr float kInt8Max = 127.0f;

/// Row `w` of `cols` floats, one f32 scale for the row (`llmc compile
/// --quantize w8`, per-channel int8): scale = max|w| / 127 (1 for an
/// all-zero row), code = w / scale rounded to the nearest integer (ties to
/// even), so within half a step of w. Writes `cols` codes.
float quantizeInt8Row(const float *w, int64_t cols, int8_t *codes);

} // namespace llmc::plan_writer

#endif // LLMC_COMPILER_PLAN_QUANTIZE_H
