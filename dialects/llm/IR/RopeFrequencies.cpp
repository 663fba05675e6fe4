//===- RopeFrequencies.cpp - rotary inverse frequencies --------------------===//

#include "dialects/llm/IR/RopeFrequencies.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llmc::rope {
namespace {

/// base ** (arange(0, r, 2) / r) in fp32, as torch evaluates it.
std::vector<float> positionFrequencies(float base, int64_t dim) {
  std::vector<float> out(dim / 2);
  for (int64_t m = 0; m < dim / 2; ++m) {
    float exponent = static_cast<float>(2 * m) / static_cast<float>(dim);
    out[m] = std::pow(base, exponent);
  }
  return out;
}

std::vector<float> defaultFrequencies(double theta, int64_t dim) {
  std::vector<float> inv = positionFrequencies(static_cast<float>(theta), dim);
  for (float &f : inv)
    f = 1.0f / f;
  return inv;
}

double yarnMscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

} // namespace

namespace {
constexpr std::pair<Kind, std::string_view> kKindNames[] = {
    {Kind::Default, "default"}, {Kind::Linear, "linear"},
    {Kind::Dynamic, "dynamic"}, {Kind::Llama3, "llama3"},
    {Kind::Yarn, "yarn"},       {Kind::LongRope, "longrope"}};
} // namespace

std::string_view kindName(Kind kind) {
  for (const auto &[k, name] : kKindNames)
    if (k == kind)
      return name;
  return "unknown";
}

std::optional<Kind> parseKind(std::string_view name) {
  for (const auto &[k, n] : kKindNames)
    if (n == name)
      return k;
  return std::nullopt;
}

std::vector<float> inverseFrequencies(const Params &p, int64_t seqLen) {
  switch (p.kind) {
  case Kind::Default:
    return defaultFrequencies(p.theta, p.dim);
  case Kind::Linear: {
    std::vector<float> inv = defaultFrequencies(p.theta, p.dim);
    for (float &f : inv)
      f = f / static_cast<float>(p.factor);
    return inv;
  }
  case Kind::Dynamic: {
    double base = p.theta;
    if (seqLen > p.maxPosition)
      base = p.theta *
             std::pow(p.factor * static_cast<double>(seqLen) / p.maxPosition -
                          (p.factor - 1.0),
                      static_cast<double>(p.dim) / (p.dim - 2));
    return defaultFrequencies(base, p.dim);
  }
  case Kind::Llama3: {
    std::vector<float> inv = defaultFrequencies(p.theta, p.dim);
    // torch evaluates these with fp32 tensors and Python scalars rounded to
    // fp32, so every step below is in float.
    const float old = static_cast<float>(p.originalMaxPosition);
    const float lowWavelen = static_cast<float>(p.originalMaxPosition /
                                                p.lowFreqFactor);
    const float highWavelen = static_cast<float>(p.originalMaxPosition /
                                                 p.highFreqFactor);
    const float lowFactor = static_cast<float>(p.lowFreqFactor);
    const float span = static_cast<float>(p.highFreqFactor - p.lowFreqFactor);
    const float factor = static_cast<float>(p.factor);
    const float twoPi = static_cast<float>(2.0 * std::numbers::pi);
    for (float &f : inv) {
      float wavelen = twoPi / f;
      float scaled = wavelen > lowWavelen ? f / factor : f;
      // With equal factors the band is one wavelength (transformers would
      // compute 0/0 there, as here).
      bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      if (medium) {
        float smooth = (old / wavelen - lowFactor) / span;
        scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
      }
      f = scaled;
    }
    return inv;
  }
  case Kind::Yarn: {
    std::vector<float> pos = positionFrequencies(static_cast<float>(p.theta),
                                                 p.dim);
    auto correctionDim = [&](double rotations) {
      return (p.dim * std::log(p.originalMaxPosition /
                               (rotations * 2.0 * std::numbers::pi))) /
             (2.0 * std::log(p.theta));
    };
    double low = correctionDim(p.betaFast);
    double high = correctionDim(p.betaSlow);
    if (p.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(p.dim - 1));
    if (low == high)
      high += 0.001;
    std::vector<float> inv(pos.size());
    const float factor = static_cast<float>(p.factor);
    for (size_t m = 0; m < pos.size(); ++m) {
      float ramp = (static_cast<float>(m) - static_cast<float>(low)) /
                   static_cast<float>(high - low);
      ramp = std::clamp(ramp, 0.0f, 1.0f);
      float extrapolation = 1.0f - ramp;
      float interp = 1.0f / (factor * pos[m]);
      float extrap = 1.0f / pos[m];
      inv[m] = interp * (1.0f - extrapolation) + extrap * extrapolation;
    }
    return inv;
  }
  case Kind::LongRope: {
    const std::vector<double> &ext =
        seqLen > p.originalMaxPosition ? p.longFactor : p.shortFactor;
    std::vector<float> pos = positionFrequencies(static_cast<float>(p.theta),
                                                 p.dim);
    for (size_t m = 0; m < pos.size(); ++m)
      pos[m] = 1.0f / (static_cast<float>(ext[m]) * pos[m]);
    return pos;
  }
  }
  return {};
}

double yarnAttentionFactor(double factor, std::optional<double> mscale,
                           std::optional<double> mscaleAllDim) {
  if (mscale && mscaleAllDim && *mscale != 0.0 && *mscaleAllDim != 0.0)
    return yarnMscale(factor, *mscale) / yarnMscale(factor, *mscaleAllDim);
  return yarnMscale(factor, 1.0);
}

double longRopeAttentionFactor(double factor, int64_t originalMaxPosition) {
  if (factor <= 1.0)
    return 1.0;
  return std::sqrt(1.0 + std::log(factor) /
                             std::log(static_cast<double>(originalMaxPosition)));
}

} // namespace llmc::rope
