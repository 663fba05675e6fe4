//===- RopeMath.h - the rotation of rotary position embedding --*- C++ -*-===//
//
// Shared by llm.rope and MLA's latent cache write: cos and sin of a
// position's angles, and the rotation of one head's rotated span, with the
// rounding points of transformers' apply_rotary_pos_emb in the activation
// dtype (cos, sin and every product rounded to it).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CPU_ROPEMATH_H
#define LLMC_RUNTIME_SRC_CPU_ROPEMATH_H

#include "runtime/src/cpu/Numerics.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace llmc::runtime::cpu {

/// cos and sin of position * invFreq[k] for k < half, times `scaling`,
/// rounded to `type`.
inline void ropeAngles(int32_t position, const float *invFreq, size_t half,
                       float scaling, llmc::plan::DType type, float *cosines,
                       float *sines) {
  for (size_t k = 0; k < half; ++k) {
    float angle = float(position) * invFreq[k];
    cosines[k] = roundTo(type, std::cos(angle) * scaling);
    sines[k] = roundTo(type, std::sin(angle) * scaling);
  }
}

/// Rotates the 2 * half elements of `x` into `y`: HalfSplit pairs k with
/// k + half (rotate_half), Interleaved pairs 2k with 2k + 1.
/// rotated = (-x2, x1).
inline void ropeRotate(const float *x, float *y, size_t half, bool interleaved,
                       const float *cosines, const float *sines,
                       llmc::plan::DType type) {
  for (size_t k = 0; k < half; ++k) {
    size_t i1 = interleaved ? 2 * k : k;
    size_t i2 = interleaved ? 2 * k + 1 : k + half;
    float x1 = x[i1], x2 = x[i2];
    y[i1] = roundTo(type, x1 * cosines[k]) + roundTo(type, -x2 * sines[k]);
    y[i2] = roundTo(type, x2 * cosines[k]) + roundTo(type, x1 * sines[k]);
  }
}

} // namespace llmc::runtime::cpu

#endif // LLMC_RUNTIME_SRC_CPU_ROPEMATH_H
