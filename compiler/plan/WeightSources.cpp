//===- WeightSources.cpp - checkpoint and random weights for a plan
//--------===//

#include "compiler/plan/PlanWriter.h"

#include "frontends/hf/safetensors/Safetensors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/xxhash.h"

#include <cmath>
#include <cstring>
#include <thread>

namespace llmc::plan_writer {
namespace {

hf::TensorDType toTensorDType(WeightDType d) {
  switch (d) {
  case WeightDType::F32:
    return hf::TensorDType::F32;
  case WeightDType::F16:
    return hf::TensorDType::F16;
  case WeightDType::BF16:
    return hf::TensorDType::BF16;
  }
  return hf::TensorDType::F32;
}

class SafetensorsSource : public WeightSource {
public:
  SafetensorsSource(const hf::SafetensorsArchive &archive, bool tied)
      : archive(archive), tied(tied) {}

  llvm::Error check(const WeightSpec &spec) override {
    std::string why;
    if (spec.name == "lm_head.weight" && !tied)
      why = "config.json has tie_word_embeddings = false";
    auto tensor = hf::requireTensor(archive, spec.name, spec.shape, why);
    if (!tensor)
      return tensor.takeError();
    if (!hf::isFloatingTensorDType((*tensor)->dtype))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: tensor \"%s\" has dtype %s, expected a floating-point type",
          (*tensor)->file.c_str(), spec.name.c_str(),
          hf::tensorDTypeName((*tensor)->dtype).str().c_str());
    return llvm::Error::success();
  }

  llvm::Error fill(const WeightSpec &spec,
                   llvm::MutableArrayRef<uint8_t> out) override {
    const hf::TensorView *tensor = archive.find(spec.name);
    return hf::convertTensor(*tensor, toTensorDType(spec.dtype), out);
  }

private:
  const hf::SafetensorsArchive &archive;
  bool tied;
};

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint16_t toBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1); // round to nearest even (values are finite)
  return uint16_t(u >> 16);
}

uint16_t toF16(float f) {
  // Values here are in (-1, 1) and well above f16's subnormal range or zero.
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  int32_t exp = int32_t((u >> 23) & 0xff) - 127 + 15;
  uint32_t mant = u & 0x7fffff;
  if (exp <= 0)
    return uint16_t(sign); // flush the rare tiny value to zero
  uint32_t h = (uint32_t(exp) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h;
  return uint16_t(sign | h);
}

class RandomSource : public WeightSource {
public:
  explicit RandomSource(uint64_t seed) : seed(seed) {}

  llvm::Error check(const WeightSpec &) override {
    return llvm::Error::success();
  }

  llvm::Error fill(const WeightSpec &spec,
                   llvm::MutableArrayRef<uint8_t> out) override {
    uint64_t n = 1;
    for (int64_t d : spec.shape)
      n *= uint64_t(d);
    llvm::StringRef name(spec.name);
    bool isNorm = spec.shape.size() == 1 && name.contains("norm");
    float bound =
        1.0f / std::sqrt(float(spec.shape.empty() ? 1 : spec.shape.back()));
    uint64_t stream =
        splitmix64(seed ^ llvm::xxh3_64bits(llvm::arrayRefFromStringRef(name)));
    unsigned threads =
        std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    auto work = [&](uint64_t begin, uint64_t end) {
      for (uint64_t i = begin; i < end; ++i) {
        float v = 1.0f;
        if (!isNorm) {
          double u = double(splitmix64(stream + i) >> 11) * 0x1.0p-53; // [0, 1)
          v = float((2.0 * u - 1.0) * bound);
        }
        switch (spec.dtype) {
        case WeightDType::F32:
          std::memcpy(out.data() + 4 * i, &v, 4);
          break;
        case WeightDType::BF16: {
          uint16_t h = toBF16(v);
          std::memcpy(out.data() + 2 * i, &h, 2);
          break;
        }
        case WeightDType::F16: {
          uint16_t h = toF16(v);
          std::memcpy(out.data() + 2 * i, &h, 2);
          break;
        }
        }
      }
    };
    std::vector<std::thread> pool;
    uint64_t chunk = (n + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      uint64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
      if (b < e)
        pool.emplace_back(work, b, e);
    }
    for (std::thread &t : pool)
      t.join();
    return llvm::Error::success();
  }

private:
  uint64_t seed;
};

} // namespace

std::unique_ptr<WeightSource>
makeSafetensorsSource(const hf::SafetensorsArchive &archive,
                      bool tieWordEmbeddings) {
  return std::make_unique<SafetensorsSource>(archive, tieWordEmbeddings);
}

std::unique_ptr<WeightSource> makeRandomSource(uint64_t seed) {
  return std::make_unique<RandomSource>(seed);
}

} // namespace llmc::plan_writer
