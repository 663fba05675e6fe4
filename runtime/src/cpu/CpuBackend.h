//===- CpuBackend.h - the reference interpreter of a plan -------*- C++ -*-===//
//
// Runs a program's ops one after the other, each in fp32 from inputs widened
// to fp32, rounding every output (and the intermediates Hugging Face
// transformers rounds) to its operand's dtype. Straightforward loops, split
// over output features, tokens or (token, head) pairs across a ThreadPool.
// Everything it indexes was checked by the plan verifier and the session.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CPU_CPUBACKEND_H
#define LLMC_RUNTIME_SRC_CPU_CPUBACKEND_H

#include "runtime/src/Backend.h"
#include "runtime/src/KvPages.h"
#include "runtime/src/PlanFile.h"
#include "runtime/src/cpu/ThreadPool.h"

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace llmc::runtime::cpu {

/// Uninitialized bytes at an alignment; freed on destruction.
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  /// Throws std::bad_alloc.
  AlignedBuffer(size_t size, size_t alignment);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer &&other) noexcept;
  AlignedBuffer &operator=(AlignedBuffer &&other) noexcept;

  uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
  size_t alignment_ = 0;
};

class CpuBackend final : public Backend {
public:
  /// Allocates the arena, the pages `kv` holds at first (kept by reference:
  /// it outlives the backend), the scratch buffers and `numThreads` (>= 1)
  /// threads.
  static Status create(const PlanFile &plan, const SessionShape &shape,
                       const KvPages &kv, int numThreads,
                       std::unique_ptr<CpuBackend> &out);

  Status run(const llmc::plan::Program &program,
             const StepInputs &inputs) override;
  Status readRows(const llmc::plan::Operand &operand, int64_t firstRow,
                  int64_t rows, float *out) override;
  Status growKvPages(size_t group, int64_t pages) override;
  uint64_t kvBytes() const override;
  Status copyKvPage(size_t group, int32_t to, int32_t from) override;

  /// The arena (Plan.memory.arena_bytes bytes, 64-byte aligned), so that
  /// tests can run single ops on inputs of their own.
  uint8_t *arena() { return arena_.data(); }
  /// Positions per sequence layer `layer`'s KV cache keeps.
  int64_t cacheCapacity(uint32_t layer) const {
    return kv_->groups()[caches_[layer].group].capacity;
  }
  int numThreads() const { return pool_->size(); }

private:
  /// One layer's keys and values in the pages of its group (KvPages):
  /// [pages, page_tokens, kv_heads, head_dim] each, keys first; an MLA
  /// layer's latent rows only ([pages, page_tokens, latent + rope]).
  struct Cache {
    AlignedBuffer data;
    size_t group = 0;
    size_t arrays = 2;   // keys and values, or (MLA) latent rows
    size_t rows = 0;     // pages held times page_tokens
    size_t rowElems = 0; // kv_heads * head_dim
    size_t kvHeads = 0;
    llmc::plan::DType dtype = llmc::plan::DType::F32;
    size_t valuesOffset = 0;
    /// F8E4M3 caches: one f32 scale per row and KV head, keys' then
    /// values' (at valueScalesOffset floats); empty otherwise.
    std::vector<float> scales;
    size_t valueScalesOffset = 0;
  };
  /// Per-thread scratch, sized at creation so that ops never allocate.
  struct Worker {
    std::vector<float> a, b, c;
    std::vector<float> scores;
    /// MLA's expanded keys and values of one head: [positions][nope + v],
    /// grown (run) to the step's positions.
    std::vector<float> expanded;
  };

  explicit CpuBackend(const PlanFile &plan) : plan_(plan) {}

  void execute(const llmc::plan::Op &op);
  void embedding(const llmc::plan::Op &op, const llmc::plan::Embedding &p);
  void rmsNorm(const llmc::plan::Op &op, const llmc::plan::RMSNorm &p);
  void addRmsNorm(const llmc::plan::Op &op, const llmc::plan::AddRMSNorm &p);
  /// fp8Activations: x quantized per token and 128 features first
  /// (plan.fbs, Linear).
  void linear(const llmc::plan::Operand &x, const llmc::plan::Operand &weight,
              const llmc::plan::Operand *bias, const llmc::plan::Operand &out,
              size_t inFeatures, size_t outFeatures,
              bool fp8Activations = false);
  void gatedLinear(const llmc::plan::Op &op, const llmc::plan::GatedLinear &p);
  void glu(const llmc::plan::Op &op, const llmc::plan::GLU &p);
  void add(const llmc::plan::Op &op, const llmc::plan::Add &p);
  void softcap(const llmc::plan::Op &op, const llmc::plan::Softcap &p);
  void scale(const llmc::plan::Op &op, const llmc::plan::Scale &p);
  void attnTemperature(const llmc::plan::Op &op,
                       const llmc::plan::AttnTemperature &p);
  void rope(const llmc::plan::Op &op, const llmc::plan::Rope &p);
  void kvCacheWrite(const llmc::plan::Op &op,
                    const llmc::plan::KVCacheWrite &p);
  void attention(const llmc::plan::Op &op, const llmc::plan::Attention &p);
  void moeRouter(const llmc::plan::Op &op, const llmc::plan::MoERouter &p);
  void moeExperts(const llmc::plan::Op &op, const llmc::plan::MoEExperts &p);
  void sigmoidGate(const llmc::plan::Op &op, const llmc::plan::SigmoidGate &p);
  void latentCacheWrite(const llmc::plan::Op &op,
                        const llmc::plan::LatentCacheWrite &p);
  void mlaAttention(const llmc::plan::Op &op,
                    const llmc::plan::MLAAttention &p);
  void mlaAbsorbQuery(const llmc::plan::Op &op,
                      const llmc::plan::MLAAbsorbQuery &p);
  void latentAttention(const llmc::plan::Op &op,
                       const llmc::plan::LatentAttention &p);
  void mlaAbsorbOutput(const llmc::plan::Op &op,
                       const llmc::plan::MLAAbsorbOutput &p);

  /// Widens the operand (the step's rows of an arena operand, or a whole
  /// weight) into this op's scratch.
  const float *load(const llmc::plan::Operand &operand);
  uint8_t *row(const llmc::plan::Operand &operand, int64_t token) const;
  const uint8_t *weight(const llmc::plan::Operand &operand) const {
    return plan_.weightData(operand.index());
  }
  const int32_t *input(const llmc::plan::Operand &operand) const;
  /// The row of `cache` holding position `pos` of sequence `slot`.
  size_t cacheRow(const Cache &cache, int32_t slot, int64_t pos) const {
    const KvPages::Group &g = kv_->groups()[cache.group];
    const int64_t r = pos % g.capacity;
    const int64_t page = g.table[size_t(slot) * size_t(g.tablePages) +
                                 size_t(r / g.pageTokens)];
    return size_t(page) * size_t(g.pageTokens) + size_t(r % g.pageTokens);
  }

  const PlanFile &plan_;
  const KvPages *kv_ = nullptr;
  SessionShape shape_;
  std::unique_ptr<ThreadPool> pool_;
  AlignedBuffer arena_;
  std::vector<Cache> caches_;
  std::vector<float> scratch_;
  size_t scratchUsed_ = 0;
  std::vector<Worker> workers_;
  /// Floats per position of MLA's expanded rows (Worker::expanded).
  size_t expandedPerPosition_ = 0;
  StepInputs step_;
  /// The step's token that row(operand, 0) is: logitsFrom while the LM
  /// head runs for the last rows only (run()), else 0.
  int64_t rowBase_ = 0;
};

} // namespace llmc::runtime::cpu

#endif // LLMC_RUNTIME_SRC_CPU_CPUBACKEND_H
