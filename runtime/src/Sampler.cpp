//===- Sampler.cpp - llmc_sample: greedy, temperature, top-k, top-p -------===//
//
// Greedy when temperature <= 0: the highest logit, the lowest id on ties; no
// random number is drawn. Otherwise softmax(logits / temperature) restricted
// to the top_k highest logits (when top_k > 0), then to the smallest prefix
// of those, highest first, whose probability reaches top_p, renormalized; one
// uniform number in [0, 1) from splitmix64 picks the token.
//
// splitmix64 (Steele, Lea, Flood 2014): state += 0x9e3779b97f4a7c15, then a
// fixed mix of the state gives 64 bits, of which the top 53 make the
// uniform. Each random draw advances *rng_state by one step, so equal seeds
// give equal sequences on every platform.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/Sampler.h"

#include "runtime/src/Options.h"

#include "llmc/llmc.h"
#include "runtime/src/Status.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace llmc::runtime {

namespace {

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1), 53 random bits.
double uniform(uint64_t &state) {
  return double(splitmix64(state) >> 11) * 0x1.0p-53;
}

Status sample(const float *logits, int64_t vocab, const llmc_sampling *sampling,
              uint64_t *rngState, int32_t *outToken) {
  const std::string fn = "llmc_sample: ";
  if (!logits || !sampling || !outToken)
    return invalidArgument(fn +
                           (!logits     ? "logits"
                            : !sampling ? "sampling"
                                        : "out_token") +
                           " is NULL");
  llmc_sampling given;
  LLMC_RETURN_IF_ERROR(readOptions("llmc_sample", "llmc_sampling", *sampling,
                                   llmc_sampling_default(),
                                   LLMC_SAMPLING_MIN_SIZE, given));
  sampling = &given;
  if (vocab < 1 || vocab > std::numeric_limits<int32_t>::max())
    return invalidArgument(fn + "vocab_size " + std::to_string(vocab) +
                           " is not in [1, 2^31)");
  if (!std::isfinite(sampling->temperature))
    return invalidArgument(fn + "temperature " +
                           std::to_string(sampling->temperature) +
                           " is not a finite number");
  if (!(sampling->top_p > 0.0f && sampling->top_p <= 1.0f))
    return invalidArgument(fn + "top_p " + std::to_string(sampling->top_p) +
                           " is not in (0, 1]");
  if (sampling->top_k < 0)
    return invalidArgument(fn + "top_k " + std::to_string(sampling->top_k) +
                           " is negative");
  for (int64_t i = 0; i < vocab; ++i)
    if (std::isnan(logits[i]))
      return invalidArgument(fn + "logits[" + std::to_string(i) + "] is NaN");

  if (sampling->temperature <= 0) {
    *outToken = greedyToken(logits, vocab); // no NaN: checked above
    return Status::success();
  }
  if (!rngState)
    return invalidArgument(fn + "rng_state is NULL");

  // Candidates, highest logit first (lowest id first among equals) whenever
  // top_k or top_p needs an order.
  auto higher = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  size_t count = size_t(vocab);
  if (sampling->top_k > 0 && sampling->top_k < vocab) {
    count = size_t(sampling->top_k);
    std::partial_sort(ids.begin(), ids.begin() + ptrdiff_t(count), ids.end(),
                      higher);
  } else if (sampling->top_p < 1.0f) {
    std::sort(ids.begin(), ids.end(), higher);
  }
  float top = logits[*std::max_element(
      ids.begin(), ids.begin() + ptrdiff_t(count),
      [&](int32_t a, int32_t b) { return logits[a] < logits[b]; })];
  if (std::isinf(top))
    return invalidArgument(
        fn + (top > 0 ? "a logit is +inf" : "every logit is -inf"));

  // Unnormalized probabilities, in double so that a 150k-entry sum stays
  // exact enough.
  std::vector<double> weights(count);
  double total = 0;
  for (size_t i = 0; i < count; ++i) {
    weights[i] =
        std::exp(double(logits[ids[i]] - top) / double(sampling->temperature));
    total += weights[i];
  }
  if (sampling->top_p < 1.0f) {
    double target = std::max(0.0, double(sampling->top_p)) * total;
    double cumulative = 0;
    size_t kept = 0;
    while (kept < count) {
      cumulative += weights[kept++];
      if (cumulative >= target)
        break;
    }
    count = kept;
    total = cumulative;
  }

  double u = uniform(*rngState) * total;
  double cumulative = 0;
  for (size_t i = 0; i < count; ++i) {
    cumulative += weights[i];
    if (u < cumulative) {
      *outToken = ids[i];
      return Status::success();
    }
  }
  // Rounding left u at the very top: the last candidate with any weight.
  size_t last = count;
  while (last > 1 && weights[last - 1] == 0)
    --last;
  *outToken = ids[last - 1];
  return Status::success();
}

} // namespace

int32_t greedyToken(const float *logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i]))
      return -1;
    if (logits[i] > logits[best])
      best = i;
  }
  return int32_t(best);
}

} // namespace llmc::runtime

extern "C" llmc_status llmc_sample(const float *logits, int64_t vocab_size,
                                   const llmc_sampling *sampling,
                                   uint64_t *rng_state, int32_t *out_token) {
  return llmc::runtime::guardApi("llmc_sample", [&] {
    return llmc::runtime::sample(logits, vocab_size, sampling, rng_state,
                                 out_token);
  });
}
