//===- TestPlan.h - build small plan files for the runtime tests -*- C++
//-*-===//
//
// TestPlan describes a plan in plain C++ (weights as float values, ops as
// operand lists) and writes it exactly as plan.fbs lays a file out: the
// size-prefixed flatbuffer, its XXH3 checksum, padding, the weight section.
// Op helpers build the OpSpecs of plan.fbs's op tables; tinyLlama() is a
// complete one-layer model.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_RUNTIME_TESTPLAN_H
#define LLMC_TEST_UNIT_RUNTIME_TESTPLAN_H

#include "runtime/schema/plan_generated.h"
#include "runtime/schema/PlanFormat.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace llmc::runtime::test {

namespace P = llmc::plan;

struct WeightSpec {
  std::string name;
  P::DType dtype = P::DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> values; // rounded to dtype when written
  /// A quantized weight (F8E4M3): its block and the index of its scales;
  /// values must then be exact E4M3 values.
  std::vector<int64_t> block = {};
  uint32_t scales = 0;
  /// The index of its zero points (I8), -1: none.
  int64_t zeros = -1;
};

struct OpSpec {
  std::string name;
  P::OpParams type = P::OpParams::NONE;
  std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder &)>
      params;
  std::vector<P::Operand> inputs, outputs;
};

struct KVCacheSpec {
  int64_t kvHeads = 1, headDim = 4;
  P::DType dtype = P::DType::F32;
  int64_t window = 0;
  int64_t latentDim = 0; // > 0: an MLA latent cache
};

/// One Launch of a kernel (format 1.1).
struct LaunchSpec {
  uint32_t entry = 0;
  std::vector<P::Operand> args;
  std::vector<uint32_t> grid{1};
  uint32_t block = 32;
  uint32_t dynamicSharedBytes = 0;
  uint32_t tokensPerBlock = 0;
  uint8_t tokenAxis = 0;
  uint32_t minTokens = 0, maxTokens = 0;
};

/// One CodeBinary; `withResources` writes its KernelResources table.
struct CodeBinarySpec {
  std::string target;
  std::vector<uint8_t> cubin, ptx;
  std::string symbol;
  bool withResources = true;
  uint32_t staticSharedBytes = 0;
};

struct CodeEntrySpec {
  std::string name;
  std::vector<CodeBinarySpec> binaries;
};

/// Plan.cuda.
struct CudaSpec {
  std::vector<std::string> targets;
  std::vector<CodeEntrySpec> entries;
  uint64_t scratchBytes = 0;
};

/// `text` and its NUL, as plan.fbs stores PTX.
std::vector<uint8_t> nulTerminated(const std::string &text);

class TestPlan {
public:
  std::string modelType = "llama";
  int64_t vocab = 16, hidden = 8, numLayers = 0, maxSeqLen = 64;
  /// Set before any arena() call: arena regions hold maxTokens rows.
  int64_t maxTokens = 8;
  /// MemoryPlan.kv_page_tokens: 0 writes a plan from before the paged KV
  /// cache (format 1.9), one page per sequence.
  int64_t kvPageTokens = 0;
  P::DType dtype = P::DType::F32;
  std::vector<std::string> targets{"cpu"};
  uint16_t major = kFormatMajor, minor = kFormatMinor;
  uint32_t weightAlignment = 256;
  uint32_t memoryAlignment = 64;
  uint64_t arenaBytes = 0; // grown by arena()
  std::vector<KVCacheSpec> kvCaches;
  std::vector<WeightSpec> weights;
  /// Kernels of each program; tests mostly use one op per kernel.
  std::vector<std::vector<OpSpec>> prefill, decode;
  P::Operand prefillLogits, decodeLogits;
  /// Format 1.1: the launches of each program's kernels, by kernel index
  /// (kernels beyond the list have none), and the code section.
  std::vector<std::vector<LaunchSpec>> prefillLaunches, decodeLaunches;
  /// Program.greedy of each program and the shared greedy_tokens operand.
  std::vector<LaunchSpec> prefillGreedy, decodeGreedy;
  std::optional<P::Operand> greedyTokens;
  std::optional<CudaSpec> cuda;
  /// Optional flatbuffer fields left out of the file (the verifier must
  /// refuse or the readers cope): "producer", "targets", "kv_caches",
  /// "weights", "kernel.name", "kernel.ops", "op.name", "op.inputs",
  /// "op.outputs", "weight.name", "weight.shape", "cuda.targets",
  /// "cuda.entries", "cuda.nvrtc_version", "entry.name", "entry.source",
  /// "entry.binaries", "binary.target", "binary.cubin", "binary.ptx",
  /// "binary.symbol", "launch.args", "launch.grid", "program.kernels",
  /// "program.logits", "model.model_type", "version", "model", "memory",
  /// "prefill", "decode".
  std::set<std::string> omit;
  static const std::vector<std::string> &omittableFields();

  /// A fresh, 64-byte aligned arena region of maxTokens rows.
  P::Operand arena(uint64_t rowElems, P::DType type = P::DType::F32);
  /// Adds a weight; returns its operand.
  P::Operand weight(const std::string &name, std::vector<int64_t> shape,
                    std::vector<float> values, P::DType type = P::DType::F32);
  static P::Operand input(uint32_t index) {
    return P::Operand(P::OperandKind::Input, P::DType::I32, index, 0, 1);
  }
  P::Operand cache(uint32_t layer) const {
    return P::Operand(P::OperandKind::KVCache, kvCaches[layer].dtype, layer, 0,
                      0);
  }
  /// Adds a quantized weight: `values` (each an exact E4M3 value, or an
  /// integer in -8..7 for I4) with `block`, and its scales as the next
  /// weight ("<name>_scale_inv", shape ceil(shape / block)); returns the
  /// values' operand.
  P::Operand quantizedWeight(const std::string &name,
                             std::vector<int64_t> shape,
                             std::vector<float> values,
                             std::vector<int64_t> block,
                             std::vector<float> scales,
                             P::DType valueType = P::DType::F8E4M3,
                             P::DType scaleType = P::DType::F32);
  /// Gives the last quantized weight (added just before, by
  /// quantizedWeight) zero points: `zeros` (integers) as the next weight.
  void addZeroPoints(std::vector<float> zeros) {
    WeightSpec &values = weights[weights.size() - 2];
    values.zeros = int64_t(weights.size());
    std::vector<int64_t> shape = weights.back().shape;
    weight(values.name + "_zero_point", std::move(shape), std::move(zeros),
           P::DType::I8);
  }
  /// Both programs run the same single-kernel op list.
  void setOps(const std::vector<OpSpec> &ops, const P::Operand &logits) {
    prefill = decode = {ops};
    prefillLogits = decodeLogits = logits;
  }

  /// The file's bytes.
  std::vector<uint8_t> serialize() const;
  /// Writes serialize() to `path`; returns `path`.
  std::string write(const std::string &path) const;

private:
  std::vector<uint8_t> flatbuffer(uint64_t weightsOffset,
                                  const std::vector<uint64_t> &offsets,
                                  const std::vector<uint64_t> &checksums,
                                  uint64_t weightsSize) const;
  std::vector<uint8_t> weightBytes(const WeightSpec &w) const;
};

/// Writes `bytes` to `path`.
void writeFile(const std::string &path, const std::vector<uint8_t> &bytes);
/// The whole file; throws if it cannot be read.
std::vector<uint8_t> readFile(const std::string &path);

/// A directory removed with its contents on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

/// Deterministic values in [-scale, scale).
std::vector<float> randomValues(size_t n, uint64_t seed, float scale = 0.5f);

//===----------------------------------------------------------------------===//
// Op specs, one per table of plan.fbs (operands in its documented order)
//===----------------------------------------------------------------------===//

OpSpec embeddingOp(int64_t vocab, int64_t hidden, double scale,
                   P::Operand table, P::Operand out);
OpSpec rmsNormOp(int64_t size, P::RMSNormVariant variant, double eps,
                 P::Operand x, const P::Operand *weight, P::Operand out);
OpSpec addRmsNormOp(int64_t size, P::RMSNormVariant variant, double eps,
                    P::Operand x, P::Operand residual, const P::Operand *weight,
                    P::Operand normed, P::Operand sum);
OpSpec linearOp(int64_t in, int64_t out, P::Operand x, P::Operand weight,
                const P::Operand *bias, P::Operand y);
OpSpec gatedLinearOp(int64_t in, int64_t out, P::Activation activation,
                     P::Operand x, P::Operand gate, P::Operand up,
                     P::Operand y);
OpSpec gluOp(int64_t size, P::Activation activation, P::Operand gate,
             P::Operand up, P::Operand y);
OpSpec addOp(int64_t size, P::Operand a, P::Operand b, P::Operand y);
OpSpec softcapOp(int64_t size, double cap, P::Operand x, P::Operand y);
/// in: x, positions; out: x times Llama 4's per-position temperature.
OpSpec attnTemperatureOp(int64_t size, double floorScale, double scale,
                         P::Operand x, P::Operand y);
OpSpec ropeOp(int64_t heads, int64_t headDim, int64_t rotaryDim,
              P::RopeLayout layout, double attentionScaling,
              std::vector<float> invFreq, P::Operand x, P::Operand y);
OpSpec kvCacheWriteOp(uint32_t layer, P::Operand key, P::Operand value,
                      P::Operand cache);
struct AttentionParams {
  uint32_t layer = 0;
  int64_t heads = 2, kvHeads = 1, headDim = 4;
  double scale = 0.5;
  int64_t window = 0, chunk = 0;
  double softcap = 0;
  /// One sink logit per head (gpt-oss); empty for none.
  std::vector<float> sinks;
};
/// in: query, cache, slots, positions [, sinks]; out: the attention output.
OpSpec attentionOp(const AttentionParams &p, P::Operand query, P::Operand cache,
                   P::Operand out, const P::Operand *sinks = nullptr);
OpSpec lmHeadOp(int64_t hidden, int64_t vocab, P::Operand x, P::Operand weight,
                P::Operand logits);
struct MoERouterParams {
  int64_t hidden = 8, experts = 6, topK = 2;
  P::RouterScoring scoring = P::RouterScoring::Softmax;
  bool logitsInFp32 = false;
  int64_t groups = 1, topGroups = 1;
  P::RouterGroupScore groupScore = P::RouterGroupScore::SumOfTop2;
  bool normalize = false;
  double epsilon = 0.0, scaling = 1.0;
};
/// in: x, gate [, correction bias]; out: weights, expert ids (I32).
OpSpec moeRouterOp(const MoERouterParams &p, P::Operand x, P::Operand gate,
                   const P::Operand *bias, P::Operand weights, P::Operand ids);
OpSpec moeExpertsOp(int64_t hidden, int64_t intermediate, int64_t experts,
                    int64_t topK, P::Activation activation, P::Operand x,
                    P::Operand weights, P::Operand ids, P::Operand gateUp,
                    P::Operand down, P::Operand y);

OpSpec sigmoidGateOp(int64_t hidden, int64_t size, P::Operand x,
                     P::Operand weight, P::Operand value, P::Operand y);

/// The inverse frequencies of default RoPE: base^(-2i / dim).
std::vector<float> ropeInvFreq(int64_t rotaryDim, double base);

//===----------------------------------------------------------------------===//
// A complete model
//===----------------------------------------------------------------------===//

/// The one-layer llama-like model: embedding, rms_norm, q/k/v linear, rope,
/// kv_cache_write, attention, o linear, add_rms_norm, gated MLP (gate/up
/// GatedLinear, down Linear), add, rms_norm, lm_head. hidden 8, 2 heads of
/// 4, 1 KV head, intermediate 16, vocab 16. Weight values are random but
/// fixed; the same for every maxTokens. `window` > 0: a sliding window
/// (its cache a ring of window + maxTokens - 1 positions).
struct TinyLlama {
  static constexpr int64_t kVocab = 16, kHidden = 8, kHeads = 2, kKVHeads = 1,
                           kHeadDim = 4, kIntermediate = 16;
  static constexpr double kEps = 1e-5, kRopeBase = 10000.0;
};
TestPlan tinyLlama(int64_t maxTokens, int64_t maxSeqLen = 64,
                   int64_t window = 0);

/// Gives a tinyLlama plan a valid code section for `targets` ("sm_90a",
/// "sm_80", ...; added to Plan.targets) whose binaries are the fake images of
/// test/unit/cuda/FakeCudaControl.h, and launches for both programs:
///   kernel 0: entry 0 "embed" (ipppkppp: T, tokens, embedding table, h0,
///             KV cache 0, scratch + 256, positions, slots), grid {2, 3},
///             block 128, 16 tokens per block on axis 1, 64 KiB of dynamic
///             shared memory;
///   kernel 1: entry 1 "head" (ippp: T, final norm output, lm_head weight,
///             logits), grid {16} block 32 for T = 1, grid {4} block 64 with
///             2 tokens per block on axis 0 for T >= 2.
/// Scratch is 4096 bytes.
void addFakeCudaCode(TestPlan &plan, const std::vector<std::string> &targets);

/// Weight values of tinyLlama by name, for reference implementations.
const WeightSpec &findWeight(const TestPlan &plan, const std::string &name);

} // namespace llmc::runtime::test

#endif // LLMC_TEST_UNIT_RUNTIME_TESTPLAN_H
