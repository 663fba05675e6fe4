//===- Sampler.h - picking tokens from logits on the host -------*- C++ -*-===//
//
// llmc_sample is Sampler.cpp's; greedyToken is also what a backend without
// device-side sampling does for llmc_prefill_greedy and llmc_decode_greedy.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_SAMPLER_H
#define LLMC_RUNTIME_SRC_SAMPLER_H

#include <cstdint>

namespace llmc::runtime {

/// The greedy token of `vocab` logits: the highest logit, the lowest id
/// among equal maxima (-0 equals +0); -1 if a logit is NaN. The generated
/// argmax kernel (compiler/codegen/cuda/templates/argmax.cuh) computes the
/// same.
int32_t greedyToken(const float *logits, int64_t vocab);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_SAMPLER_H
