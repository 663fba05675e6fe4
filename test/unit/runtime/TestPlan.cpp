//===- TestPlan.cpp - build small plan files for the runtime tests --------===//

#include "TestPlan.h"

#include "runtime/src/cpu/Numerics.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace llmc::runtime::test {

P::Operand TestPlan::arena(uint64_t rowElems, P::DType type) {
  uint64_t offset = alignTo(arenaBytes, 64);
  arenaBytes = offset + uint64_t(maxTokens) * rowElems * dtypeSize(type);
  return P::Operand(P::OperandKind::Arena, type, 0, offset, rowElems);
}

P::Operand TestPlan::weight(const std::string &name, std::vector<int64_t> shape,
                            std::vector<float> values, P::DType type) {
  uint32_t index = uint32_t(weights.size());
  weights.push_back({name, type, std::move(shape), std::move(values)});
  return P::Operand(P::OperandKind::Weight, type, index, 0, 0);
}

P::Operand TestPlan::quantizedWeight(const std::string &name,
                                     std::vector<int64_t> shape,
                                     std::vector<float> values,
                                     std::vector<int64_t> block,
                                     std::vector<float> scales,
                                     P::DType valueType, P::DType scaleType) {
  std::vector<int64_t> scaleShape;
  for (size_t d = 0; d < shape.size(); ++d)
    scaleShape.push_back((shape[d] + block[d] - 1) / block[d]);
  P::Operand op = weight(name, std::move(shape), std::move(values), valueType);
  weights.back().block = std::move(block);
  weights.back().scales = uint32_t(weights.size());
  weight(name + "_scale_inv", std::move(scaleShape), std::move(scales),
         scaleType);
  return op;
}

std::vector<uint8_t> TestPlan::weightBytes(const WeightSpec &w) const {
  std::vector<uint8_t> bytes(size_t(packedBytes(w.dtype, w.values.size())));
  for (size_t i = 0; i < w.values.size(); ++i) {
    float v = w.values[i];
    if (w.dtype == P::DType::I8) {
      if (v != std::nearbyint(v) || v < -128.0f || v > 127.0f)
        throw std::runtime_error("not an int8 value: " + std::to_string(v));
      bytes[i] = uint8_t(int8_t(v));
    } else if (w.dtype == P::DType::I4) {
      // Integers -8..7, two per byte, element 2j in the low nibble.
      if (v != std::nearbyint(v) || v < -8.0f || v > 7.0f)
        throw std::runtime_error("not an int4 value: " + std::to_string(v));
      bytes[i / 2] |= uint8_t((unsigned(int(v)) & 0xfu) << (4 * (i % 2)));
    } else if (w.dtype == P::DType::F8E4M3) {
      // The code whose value is exactly v (tests pick E4M3 values).
      int code = 0;
      while (code < 256 && !(cpu::f8e4m3ToFloat(uint8_t(code)) == v &&
                             std::signbit(cpu::f8e4m3ToFloat(uint8_t(code))) ==
                                 std::signbit(v)))
        ++code;
      if (code == 256)
        throw std::runtime_error("not an E4M3 value: " + std::to_string(v));
      bytes[i] = uint8_t(code);
    } else if (w.dtype == P::DType::F4E2M1) {
      // The e2m1 code whose value is exactly v, two per byte.
      unsigned code = 0;
      while (code < 16 && !(cpu::f4e2m1ToFloat(uint8_t(code)) == v &&
                            std::signbit(cpu::f4e2m1ToFloat(uint8_t(code))) ==
                                std::signbit(v)))
        ++code;
      if (code == 16)
        throw std::runtime_error("not an E2M1 value: " + std::to_string(v));
      bytes[i / 2] |= uint8_t(code << (4 * (i % 2)));
    } else if (w.dtype == P::DType::E8M0) {
      // A power of two 2^(b - 127).
      int e = 0;
      if (std::frexp(v, &e) != 0.5f || e - 1 < -127 || e - 1 > 127)
        throw std::runtime_error("not an E8M0 value: " + std::to_string(v));
      bytes[i] = uint8_t(e - 1 + 127);
    } else if (w.dtype == P::DType::F32) {
      std::memcpy(&bytes[i * 4], &v, 4);
    } else {
      uint16_t h =
          w.dtype == P::DType::BF16 ? cpu::floatToBf16(v) : cpu::floatToF16(v);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

const std::vector<std::string> &TestPlan::omittableFields() {
  static const std::vector<std::string> fields = {
      "producer",       "targets",        "kv_caches",      "weights",
      "kernel.name",    "kernel.ops",     "op.name",        "op.inputs",
      "op.outputs",     "weight.name",    "weight.shape",   "cuda.targets",
      "cuda.entries",   "cuda.nvrtc_version", "entry.name", "entry.source",
      "entry.binaries", "binary.target",  "binary.cubin",   "binary.ptx",
      "binary.symbol",  "launch.args",    "launch.grid",    "program.kernels",
      "program.logits", "model.model_type", "version",      "model",
      "memory",         "prefill",        "decode"};
  return fields;
}

std::vector<uint8_t> TestPlan::flatbuffer(
    uint64_t weightsOffset, const std::vector<uint64_t> &offsets,
    const std::vector<uint64_t> &checksums, uint64_t weightsSize) const {
  flatbuffers::FlatBufferBuilder fbb;
  auto has = [&](const char *field) { return !omit.count(field); };
  std::vector<flatbuffers::Offset<P::Weight>> weightTables;
  for (size_t i = 0; i < weights.size(); ++i) {
    const WeightSpec &w = weights[i];
    flatbuffers::Offset<P::WeightQuant> quant;
    if (!w.block.empty())
      quant = P::CreateWeightQuantDirect(fbb, &w.block, w.scales, w.zeros);
    weightTables.push_back(P::CreateWeightDirect(
        fbb, has("weight.name") ? w.name.c_str() : nullptr, w.dtype,
        has("weight.shape") ? &w.shape : nullptr, P::WeightLayout::RowMajor,
        offsets[i], packedBytes(w.dtype, w.values.size()), checksums[i],
        quant));
  }
  auto launchTables = [&](const std::vector<LaunchSpec> &specs) {
    std::vector<flatbuffers::Offset<P::Launch>> launches;
    for (const LaunchSpec &l : specs)
      launches.push_back(P::CreateLaunchDirect(
          fbb, l.entry, has("launch.args") ? &l.args : nullptr,
          has("launch.grid") ? &l.grid : nullptr, l.block,
          l.dynamicSharedBytes, l.tokensPerBlock, l.tokenAxis, l.minTokens,
          l.maxTokens));
    return launches;
  };
  auto program = [&](const std::vector<std::vector<OpSpec>> &kernels,
                     const std::vector<std::vector<LaunchSpec>> &launchLists,
                     const std::vector<LaunchSpec> &greedyLaunches,
                     P::Step step, const P::Operand &logits) {
    std::vector<flatbuffers::Offset<P::Kernel>> kernelTables;
    for (size_t k = 0; k < kernels.size(); ++k) {
      std::vector<flatbuffers::Offset<P::Op>> ops;
      for (const OpSpec &op : kernels[k]) {
        auto name = has("op.name") ? fbb.CreateString(op.name) : 0;
        flatbuffers::Offset<void> params = op.params ? op.params(fbb) : 0;
        auto inputs =
            has("op.inputs") ? fbb.CreateVectorOfStructs(op.inputs) : 0;
        auto outputs =
            has("op.outputs") ? fbb.CreateVectorOfStructs(op.outputs) : 0;
        ops.push_back(P::CreateOp(fbb, name, op.type, params, inputs, outputs));
      }
      std::vector<flatbuffers::Offset<P::Launch>> launches;
      if (k < launchLists.size())
        launches = launchTables(launchLists[k]);
      std::string kernelName = "kernel" + std::to_string(k);
      kernelTables.push_back(P::CreateKernelDirect(
          fbb, has("kernel.name") ? kernelName.c_str() : nullptr,
          has("kernel.ops") ? &ops : nullptr,
          launches.empty() ? nullptr : &launches));
    }
    std::vector<flatbuffers::Offset<P::Launch>> greedy =
        launchTables(greedyLaunches);
    return P::CreateProgramDirect(
        fbb, step, has("program.kernels") ? &kernelTables : nullptr,
        has("program.logits") ? &logits : nullptr,
        greedy.empty() ? nullptr : &greedy,
        greedyTokens ? &*greedyTokens : nullptr);
  };
  auto prefillProgram = program(prefill, prefillLaunches, prefillGreedy,
                                P::Step::Prefill, prefillLogits);
  auto decodeProgram = program(decode, decodeLaunches, decodeGreedy,
                               P::Step::Decode, decodeLogits);
  flatbuffers::Offset<P::CudaCode> cudaCode = 0;
  if (cuda) {
    std::vector<flatbuffers::Offset<P::CodeEntry>> entries;
    for (const CodeEntrySpec &e : cuda->entries) {
      std::vector<flatbuffers::Offset<P::CodeBinary>> binaries;
      for (const CodeBinarySpec &b : e.binaries) {
        flatbuffers::Offset<P::KernelResources> resources = 0;
        if (b.withResources)
          resources =
              P::CreateKernelResources(fbb, 32, 0, 0, b.staticSharedBytes, 0);
        binaries.push_back(P::CreateCodeBinaryDirect(
            fbb, has("binary.target") ? b.target.c_str() : nullptr,
            has("binary.cubin") ? &b.cubin : nullptr,
            has("binary.ptx") ? &b.ptx : nullptr,
            has("binary.symbol") ? b.symbol.c_str() : nullptr, resources));
      }
      std::string source = "// " + e.name;
      entries.push_back(P::CreateCodeEntryDirect(
          fbb, has("entry.name") ? e.name.c_str() : nullptr,
          has("entry.source") ? source.c_str() : nullptr,
          has("entry.binaries") ? &binaries : nullptr));
    }
    auto cudaTargets =
        has("cuda.targets") ? fbb.CreateVectorOfStrings(cuda->targets) : 0;
    auto entryVector = has("cuda.entries") ? fbb.CreateVector(entries) : 0;
    cudaCode = P::CreateCudaCode(
        fbb, cudaTargets, entryVector, cuda->scratchBytes,
        has("cuda.nvrtc_version") ? fbb.CreateString("13.0") : 0);
  }
  std::vector<flatbuffers::Offset<P::KVCacheLayout>> layouts;
  for (const KVCacheSpec &c : kvCaches)
    layouts.push_back(
        P::CreateKVCacheLayout(fbb, c.kvHeads, c.headDim, c.dtype, c.window,
                               c.latentDim));
  auto model = has("model")
                   ? P::CreateModelDirect(
                         fbb, has("model.model_type") ? modelType.c_str()
                                                      : nullptr,
                         vocab, hidden, numLayers, maxSeqLen, dtype)
                   : 0;
  auto memory =
      has("memory")
          ? P::CreateMemoryPlan(fbb, arenaBytes, maxTokens, memoryAlignment,
                                kvPageTokens)
          : 0;
  auto targetList = has("targets") ? fbb.CreateVectorOfStrings(targets) : 0;
  auto weightVector = has("weights") ? fbb.CreateVector(weightTables) : 0;
  auto layoutVector = has("kv_caches") ? fbb.CreateVector(layouts) : 0;
  auto producer = has("producer") ? fbb.CreateString("llmc test") : 0;
  P::FormatVersion version(major, minor);
  auto root = P::CreatePlan(
      fbb, has("version") ? &version : nullptr, producer, targetList, model,
      memory, layoutVector, has("prefill") ? prefillProgram : 0,
      has("decode") ? decodeProgram : 0, weightVector, weightsOffset,
      weightsSize, weightAlignment, cudaCode);
  P::FinishSizePrefixedPlanBuffer(fbb, root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(),
                              fbb.GetBufferPointer() + fbb.GetSize());
}

std::vector<uint8_t> TestPlan::serialize() const {
  // The weight section: each tensor at a multiple of weightAlignment.
  std::vector<uint8_t> section;
  std::vector<uint64_t> offsets, checksums;
  for (const WeightSpec &w : weights) {
    section.resize(size_t(alignTo(section.size(), weightAlignment)));
    offsets.push_back(section.size());
    std::vector<uint8_t> bytes = weightBytes(w);
    checksums.push_back(checksum(bytes.data(), bytes.size()));
    section.insert(section.end(), bytes.begin(), bytes.end());
  }
  // weights_offset depends on the flatbuffer's size, which depends on
  // weights_offset: grow it until the section starts after the header.
  uint64_t weightsOffset = 0;
  std::vector<uint8_t> fb;
  for (;;) {
    fb = flatbuffer(weightsOffset, offsets, checksums, section.size());
    uint64_t headerEnd = headerChecksumOffset(uint32_t(fb.size() - 4)) + 8;
    uint64_t needed = alignTo(headerEnd, kWeightSectionAlignment);
    if (needed <= weightsOffset)
      break;
    weightsOffset = needed;
  }
  std::vector<uint8_t> file = fb;
  uint64_t checksumOffset = headerChecksumOffset(uint32_t(fb.size() - 4));
  file.resize(size_t(checksumOffset), 0);
  uint64_t sum = checksum(fb.data(), fb.size());
  for (int i = 0; i < 8; ++i)
    file.push_back(uint8_t(sum >> (8 * i)));
  file.resize(size_t(weightsOffset), 0);
  file.insert(file.end(), section.begin(), section.end());
  return file;
}

std::string TestPlan::write(const std::string &path) const {
  writeFile(path, serialize());
  return path;
}

std::vector<uint8_t> nulTerminated(const std::string &text) {
  std::vector<uint8_t> bytes(text.begin(), text.end());
  bytes.push_back(0);
  return bytes;
}

void writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    throw std::runtime_error("cannot read " + path);
  return bytes;
}

TempDir::TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "llmc-runtime-XXXXXX").string();
  if (!mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::vector<float> randomValues(size_t n, uint64_t seed, float scale) {
  std::vector<float> values(n);
  uint64_t state = seed;
  for (float &v : values) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    v = scale * float(double(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
  return values;
}

//===----------------------------------------------------------------------===//
// Op specs
//===----------------------------------------------------------------------===//

OpSpec embeddingOp(int64_t vocab, int64_t hidden, double scale,
                   P::Operand table, P::Operand out) {
  return {"model.embed_tokens",
          P::OpParams::Embedding,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateEmbedding(fbb, vocab, hidden, scale).Union();
          },
          {TestPlan::input(0), table},
          {out}};
}

OpSpec rmsNormOp(int64_t size, P::RMSNormVariant variant, double eps,
                 P::Operand x, const P::Operand *weight, P::Operand out) {
  OpSpec op{"norm",
            P::OpParams::RMSNorm,
            [=](flatbuffers::FlatBufferBuilder &fbb) {
              return P::CreateRMSNorm(fbb, size, variant, eps).Union();
            },
            {x},
            {out}};
  if (weight)
    op.inputs.push_back(*weight);
  return op;
}

OpSpec addRmsNormOp(int64_t size, P::RMSNormVariant variant, double eps,
                    P::Operand x, P::Operand residual, const P::Operand *weight,
                    P::Operand normed, P::Operand sum) {
  OpSpec op{"add_norm",
            P::OpParams::AddRMSNorm,
            [=](flatbuffers::FlatBufferBuilder &fbb) {
              return P::CreateAddRMSNorm(fbb, size, variant, eps).Union();
            },
            {x, residual},
            {normed, sum}};
  if (weight)
    op.inputs.push_back(*weight);
  return op;
}

OpSpec linearOp(int64_t in, int64_t out, P::Operand x, P::Operand weight,
                const P::Operand *bias, P::Operand y) {
  bool hasBias = bias != nullptr;
  OpSpec op{"linear",
            P::OpParams::Linear,
            [=](flatbuffers::FlatBufferBuilder &fbb) {
              return P::CreateLinear(fbb, in, out, hasBias).Union();
            },
            {x, weight},
            {y}};
  if (bias)
    op.inputs.push_back(*bias);
  return op;
}

OpSpec gatedLinearOp(int64_t in, int64_t out, P::Activation activation,
                     P::Operand x, P::Operand gate, P::Operand up,
                     P::Operand y) {
  return {"mlp",
          P::OpParams::GatedLinear,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateGatedLinear(fbb, in, out, activation).Union();
          },
          {x, gate, up},
          {y}};
}

OpSpec gluOp(int64_t size, P::Activation activation, P::Operand gate,
             P::Operand up, P::Operand y) {
  return {"glu",
          P::OpParams::GLU,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateGLU(fbb, size, activation).Union();
          },
          {gate, up},
          {y}};
}

OpSpec addOp(int64_t size, P::Operand a, P::Operand b, P::Operand y) {
  return {"add",
          P::OpParams::Add,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateAdd(fbb, size).Union();
          },
          {a, b},
          {y}};
}

OpSpec softcapOp(int64_t size, double cap, P::Operand x, P::Operand y) {
  return {"softcap",
          P::OpParams::Softcap,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateSoftcap(fbb, size, cap).Union();
          },
          {x},
          {y}};
}

OpSpec attnTemperatureOp(int64_t size, double floorScale, double scale,
                         P::Operand x, P::Operand y) {
  return {"attn_temperature",
          P::OpParams::AttnTemperature,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateAttnTemperature(fbb, size, floorScale, scale)
                .Union();
          },
          {x, TestPlan::input(1)},
          {y}};
}

OpSpec ropeOp(int64_t heads, int64_t headDim, int64_t rotaryDim,
              P::RopeLayout layout, double attentionScaling,
              std::vector<float> invFreq, P::Operand x, P::Operand y) {
  return {"rope",
          P::OpParams::Rope,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateRopeDirect(fbb, heads, headDim, rotaryDim, layout,
                                       attentionScaling, &invFreq)
                .Union();
          },
          {x, TestPlan::input(1)},
          {y}};
}

OpSpec kvCacheWriteOp(uint32_t layer, P::Operand key, P::Operand value,
                      P::Operand cache) {
  return {"kv_cache_write",
          P::OpParams::KVCacheWrite,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateKVCacheWrite(fbb, layer).Union();
          },
          {key, value, cache, TestPlan::input(2), TestPlan::input(1)},
          {}};
}

OpSpec attentionOp(const AttentionParams &p, P::Operand query, P::Operand cache,
                   P::Operand out, const P::Operand *sinks) {
  std::vector<P::Operand> ins = {query, cache, TestPlan::input(2),
                                 TestPlan::input(1)};
  if (sinks)
    ins.push_back(*sinks);
  const bool hasSinks = sinks != nullptr;
  return {"attention",
          P::OpParams::Attention,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateAttention(fbb, p.layer, p.heads, p.kvHeads,
                                      p.headDim, p.scale, p.window, p.chunk,
                                      p.softcap, hasSinks)
                .Union();
          },
          ins,
          {out}};
}

OpSpec lmHeadOp(int64_t hidden, int64_t vocab, P::Operand x, P::Operand weight,
                P::Operand logits) {
  return {"lm_head",
          P::OpParams::LMHead,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateLMHead(fbb, hidden, vocab).Union();
          },
          {x, weight},
          {logits}};
}

OpSpec moeRouterOp(const MoERouterParams &p, P::Operand x, P::Operand gate,
                   const P::Operand *bias, P::Operand weights, P::Operand ids) {
  const bool hasBias = bias != nullptr;
  OpSpec op{"mlp.gate",
            P::OpParams::MoERouter,
            [=](flatbuffers::FlatBufferBuilder &fbb) {
              return P::CreateMoERouter(fbb, p.hidden, p.experts, p.topK,
                                        p.scoring, p.logitsInFp32, hasBias,
                                        p.groups, p.topGroups, p.groupScore,
                                        p.normalize, p.epsilon, p.scaling)
                  .Union();
            },
            {x, gate},
            {weights, ids}};
  if (bias)
    op.inputs.push_back(*bias);
  return op;
}

OpSpec moeExpertsOp(int64_t hidden, int64_t intermediate, int64_t experts,
                    int64_t topK, P::Activation activation, P::Operand x,
                    P::Operand weights, P::Operand ids, P::Operand gateUp,
                    P::Operand down, P::Operand y) {
  return {"mlp.experts",
          P::OpParams::MoEExperts,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateMoEExperts(fbb, hidden, intermediate, experts, topK,
                                       activation)
                .Union();
          },
          {x, weights, ids, gateUp, down},
          {y}};
}

OpSpec sigmoidGateOp(int64_t hidden, int64_t size, P::Operand x,
                     P::Operand weight, P::Operand value, P::Operand y) {
  return {"mlp.shared_expert_gate",
          P::OpParams::SigmoidGate,
          [=](flatbuffers::FlatBufferBuilder &fbb) {
            return P::CreateSigmoidGate(fbb, hidden, size).Union();
          },
          {x, weight, value},
          {y}};
}

std::vector<float> ropeInvFreq(int64_t rotaryDim, double base) {
  std::vector<float> invFreq;
  for (int64_t i = 0; i < rotaryDim / 2; ++i)
    invFreq.push_back(float(1.0 / std::pow(base, double(2 * i) / rotaryDim)));
  return invFreq;
}

//===----------------------------------------------------------------------===//
// tinyLlama
//===----------------------------------------------------------------------===//

TestPlan tinyLlama(int64_t maxTokens, int64_t maxSeqLen, int64_t window) {
  using M = TinyLlama;
  TestPlan t;
  t.vocab = M::kVocab;
  t.hidden = M::kHidden;
  t.numLayers = 1;
  t.maxTokens = maxTokens;
  t.maxSeqLen = maxSeqLen;
  t.kvCaches = {{M::kKVHeads, M::kHeadDim, P::DType::F32, window}};
  const int64_t h = M::kHidden, qDim = M::kHeads * M::kHeadDim,
                kvDim = M::kKVHeads * M::kHeadDim, ff = M::kIntermediate;
  auto norm = [](uint64_t seed) {
    std::vector<float> v = randomValues(M::kHidden, seed, 0.2f);
    for (float &x : v)
      x += 1.0f;
    return v;
  };
  P::Operand embed = t.weight("model.embed_tokens.weight", {M::kVocab, h},
                              randomValues(M::kVocab * h, 1, 1.0f));
  P::Operand inNorm =
      t.weight("model.layers.0.input_layernorm.weight", {h}, norm(2));
  P::Operand wq = t.weight("model.layers.0.self_attn.q_proj.weight", {qDim, h},
                           randomValues(qDim * h, 3));
  P::Operand bq = t.weight("model.layers.0.self_attn.q_proj.bias", {qDim},
                           randomValues(qDim, 4, 0.1f));
  P::Operand wk = t.weight("model.layers.0.self_attn.k_proj.weight", {kvDim, h},
                           randomValues(kvDim * h, 5));
  P::Operand wv = t.weight("model.layers.0.self_attn.v_proj.weight", {kvDim, h},
                           randomValues(kvDim * h, 6));
  P::Operand wo = t.weight("model.layers.0.self_attn.o_proj.weight", {h, qDim},
                           randomValues(h * qDim, 7));
  P::Operand postNorm =
      t.weight("model.layers.0.post_attention_layernorm.weight", {h}, norm(8));
  P::Operand wg = t.weight("model.layers.0.mlp.gate_proj.weight", {ff, h},
                           randomValues(ff * h, 9));
  P::Operand wu = t.weight("model.layers.0.mlp.up_proj.weight", {ff, h},
                           randomValues(ff * h, 10));
  P::Operand wd = t.weight("model.layers.0.mlp.down_proj.weight", {h, ff},
                           randomValues(h * ff, 11));
  P::Operand finalNorm = t.weight("model.norm.weight", {h}, norm(12));
  P::Operand lm = t.weight("lm_head.weight", {M::kVocab, h},
                           randomValues(M::kVocab * h, 13));

  P::Operand h0 = t.arena(h), x = t.arena(h), q = t.arena(qDim),
             k = t.arena(kvDim), v = t.arena(kvDim), kr = t.arena(kvDim),
             attn = t.arena(qDim), o = t.arena(h), normed = t.arena(h),
             sum = t.arena(h), mlp = t.arena(ff), down = t.arena(h),
             f = t.arena(h), logits = t.arena(M::kVocab);
  std::vector<float> invFreq = ropeInvFreq(M::kHeadDim, M::kRopeBase);
  auto cast = P::RMSNormVariant::CastBeforeWeight;
  AttentionParams ap;
  ap.heads = M::kHeads;
  ap.kvHeads = M::kKVHeads;
  ap.headDim = M::kHeadDim;
  ap.scale = 1.0 / std::sqrt(double(M::kHeadDim));
  ap.window = window;
  std::vector<OpSpec> ops = {
      embeddingOp(M::kVocab, h, 1.0, embed, h0),
      rmsNormOp(h, cast, M::kEps, h0, &inNorm, x),
      linearOp(h, qDim, x, wq, &bq, q),
      linearOp(h, kvDim, x, wk, nullptr, k),
      linearOp(h, kvDim, x, wv, nullptr, v),
      // In place, as a memory planner may do.
      ropeOp(M::kHeads, M::kHeadDim, M::kHeadDim, P::RopeLayout::HalfSplit, 1.0,
             invFreq, q, q),
      ropeOp(M::kKVHeads, M::kHeadDim, M::kHeadDim, P::RopeLayout::HalfSplit,
             1.0, invFreq, k, kr),
      kvCacheWriteOp(0, kr, v, t.cache(0)),
      attentionOp(ap, q, t.cache(0), attn),
      linearOp(qDim, h, attn, wo, nullptr, o),
      addRmsNormOp(h, cast, M::kEps, o, h0, &postNorm, normed, sum),
      gatedLinearOp(h, ff, P::Activation::Silu, normed, wg, wu, mlp),
      linearOp(ff, h, mlp, wd, nullptr, down),
      // In place again: the residual stream.
      addOp(h, down, sum, sum),
      rmsNormOp(h, cast, M::kEps, sum, &finalNorm, f),
      lmHeadOp(h, M::kVocab, f, lm, logits),
  };
  // Split over a few kernels, as the compiler's fusion would.
  t.prefill = {std::vector<OpSpec>(ops.begin(), ops.begin() + 8),
               std::vector<OpSpec>(ops.begin() + 8, ops.end())};
  t.decode = t.prefill;
  t.prefillLogits = t.decodeLogits = logits;
  return t;
}

void addFakeCudaCode(TestPlan &t, const std::vector<std::string> &targets) {
  CudaSpec cuda;
  cuda.targets = targets;
  cuda.scratchBytes = 4096;
  const std::pair<const char *, const char *> entries[] = {
      {"embed", "ipppkppp"}, {"head", "ippp"}};
  for (const auto &[name, signature] : entries) {
    CodeEntrySpec entry;
    entry.name = name;
    for (const std::string &target : targets) {
      std::string tail = " " + target + " " + name + " " + signature;
      entry.binaries.push_back({target, nulTerminated("FAKECUBIN" + tail),
                                nulTerminated("FAKEPTX" + tail), name});
    }
    cuda.entries.push_back(std::move(entry));
  }
  t.cuda = std::move(cuda);
  for (const std::string &target : targets)
    t.targets.push_back(target);

  const OpSpec &embedding = t.prefill[0][0];
  const OpSpec &lmHead = t.prefill[1].back();
  P::Operand scratch(P::OperandKind::Scratch, P::DType::F32, 0, 256, 0);
  LaunchSpec embed;
  embed.entry = 0;
  embed.args = {TestPlan::input(0),
                embedding.inputs[1],
                embedding.outputs[0],
                t.cache(0),
                scratch,
                TestPlan::input(1),
                TestPlan::input(2)};
  embed.grid = {2, 3};
  embed.block = 128;
  embed.dynamicSharedBytes = 64 * 1024;
  embed.tokensPerBlock = 16;
  embed.tokenAxis = 1;
  LaunchSpec small;
  small.entry = 1;
  small.args = {lmHead.inputs[0], lmHead.inputs[1], lmHead.outputs[0]};
  small.grid = {16};
  small.block = 32;
  small.minTokens = 1;
  small.maxTokens = 1;
  LaunchSpec large = small;
  large.grid = {4};
  large.block = 64;
  large.tokensPerBlock = 2;
  large.minTokens = 2;
  large.maxTokens = 0;
  t.prefillLaunches = {{embed}, {small, large}};
  t.decodeLaunches = t.prefillLaunches;
}

const WeightSpec &findWeight(const TestPlan &plan, const std::string &name) {
  for (const WeightSpec &w : plan.weights)
    if (w.name == name)
      return w;
  throw std::runtime_error("no weight " + name);
}

} // namespace llmc::runtime::test
