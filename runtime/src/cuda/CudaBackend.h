//===- CudaBackend.h - runs a plan's generated CUDA kernels -----*- C++ -*-===//
//
// The CUDA backend of a session: loads the driver (Driver.h), picks the code
// the device runs among Plan.cuda's targets (Device.h), loads one module per
// CodeEntry, and holds the session's device state in one allocation:
//
//   [weights | arena | scratch | page tables | tokens | positions | slots]
//
// each region 256-byte aligned: the plan's weight section as in the file
// (uploaded once through pinned staging buffers), the arena
// (memory.arena_bytes, zeroed), the scratch of Scratch operands
// (cuda.scratch_bytes), the KV page tables of each page group (KvPages.h)
// and the three int32 step inputs of max_tokens each. The KV pages are one
// more allocation per page group, [K0 | V0 | K1 | V1 | ...] for its layers
// (plan.fbs's KVCacheLayout, zeroed), replaced by a larger one with the
// same contents when the session needs more pages (growKvPages: the
// prepared launches then take the new addresses and the decode graphs are
// captured again).
//
// run() copies the step inputs and the page tables that changed, then
// launches each kernel's Launches whose
// token range holds T (KernelABI.h gives the parameters). A prefill step is
// launched directly; a decode step is captured as a CUDA graph the first
// time its T is seen and replayed after that. runGreedy() does the same with
// the program's greedy-sampling launches at the end (in the graph, for
// decode: one graph per T with them) and copies back only the int32 tokens
// (a plan without them: the host's pick, Backend.h). Every call
// makes the primary context current for its duration only (push/pop), and
// synchronizes the stream before it returns.
//
// Every resource is released by the destructor, also that of a backend whose
// creation failed half-way.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_CUDA_CUDABACKEND_H
#define LLMC_RUNTIME_SRC_CUDA_CUDABACKEND_H

#include "runtime/src/Backend.h"
#include "runtime/src/KvPages.h"
#include "runtime/src/PlanFile.h"
#include "runtime/src/cuda/Device.h"
#include "runtime/src/cuda/Driver.h"
#include "runtime/schema/KernelABI.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llmc::runtime::cuda {

class CudaBackend final : public Backend {
public:
  /// Loads the driver and creates the backend on device `deviceOrdinal` for
  /// `shape`. Fails with LLMC_ERROR_NO_DEVICE without a driver or device,
  /// LLMC_ERROR_UNSUPPORTED when the plan has no code the device runs,
  /// LLMC_ERROR_OUT_OF_MEMORY when device or pinned memory runs out; nothing
  /// allocated is then left behind.
  static Status create(const PlanFile &plan, const SessionShape &shape,
                       const KvPages &kv, int deviceOrdinal,
                       std::unique_ptr<CudaBackend> &out);

  ~CudaBackend() override;
  CudaBackend(const CudaBackend &) = delete;
  CudaBackend &operator=(const CudaBackend &) = delete;

  Status run(const llmc::plan::Program &program,
             const StepInputs &inputs) override;
  Status readRows(const llmc::plan::Operand &operand, int64_t firstRow,
                  int64_t rows, float *out) override;
  Status growKvPages(size_t group, int64_t pages) override;
  uint64_t kvBytes() const override;
  Status copyKvPage(size_t group, int32_t to, int32_t from) override;
  /// The step and its greedy launches in one go (decode: one graph per T
  /// with them), the tokens copied back before the one synchronization.
  Status runGreedy(const llmc::plan::Program &program,
                   const StepInputs &inputs, int64_t firstRow, int64_t rows,
                   int32_t *out) override;

  // For tests and tools.

  const DeviceInfo &device() const { return device_; }
  /// The code chosen: a cuda.targets name ("sm_90a": its cubins) or
  /// "compute_XY[a]" (the PTX of target sm_XY[a], JIT-compiled).
  const std::string &code() const { return code_; }
  /// Device addresses of the regions.
  CUdeviceptr weights() const { return base_ + layout_.weights; }
  CUdeviceptr arena() const { return base_ + layout_.arena; }
  CUdeviceptr scratch() const { return base_ + layout_.scratch; }
  /// Layer `layer`'s KV cache as kernels receive it.
  LLMCKvArg cache(uint32_t layer) const;
  /// The main device allocation's size in bytes (the KV pages: kvBytes).
  uint64_t deviceBytes() const { return layout_.total; }
  /// Decode graphs instantiated so far (one per distinct T, and per T
  /// with the greedy launches when runGreedy was used).
  size_t decodeGraphs() const { return graphs_.size(); }

private:
  /// Byte offsets of the regions inside the one device allocation.
  struct Layout {
    uint64_t weights = 0, arena = 0, scratch = 0;
    std::vector<uint64_t> pageTables; // one per page group
    std::array<uint64_t, 3> inputs{}; // tokens, positions, slots
    uint64_t total = 0;
  };
  /// One cuLaunchKernel, its parameters resolved to device addresses at
  /// creation; only num_tokens and the grid's token axis vary per step.
  struct PreparedLaunch {
    CUfunction function = nullptr;
    std::array<uint32_t, 3> grid{1, 1, 1};
    uint32_t block = 1;
    uint32_t sharedBytes = 0;
    uint32_t tokensPerBlock = 0;
    uint8_t tokenAxis = 0;
    uint32_t minTokens = 0, maxTokens = 0;
    /// Parameter values after num_tokens: a CUdeviceptr or an LLMCKvArg
    /// each, in a slot large and aligned enough for either.
    using ArgSlot = std::array<uint64_t, 7>;
    static_assert(sizeof(LLMCKvArg) <= sizeof(ArgSlot) &&
                  alignof(LLMCKvArg) <= alignof(ArgSlot));
    std::vector<ArgSlot> args;
    /// (index into args, layer) of each KVCache parameter.
    std::vector<std::pair<size_t, uint32_t>> kvArgs;
    /// &num_tokens, then one pointer into `args` per parameter.
    std::vector<void *> params;
    /// A launch of the LM head's kernel (logitsKernel): (index into args,
    /// bytes of a token's row) of each arena parameter, moved to the first
    /// row asked for when a step wants the last rows' logits only.
    bool logits = false;
    std::vector<std::pair<size_t, uint64_t>> rowArgs;
  };
  /// Where a layer's KV cache lives in its page group's allocation.
  struct CacheAddress {
    CUdeviceptr keys = 0, values = 0;
    /// F8E4M3 caches: the f32 scales (plan.fbs, KVCacheLayout).
    CUdeviceptr keyScales = 0, valueScales = 0;
  };
  /// One page group's pages.
  struct KvPool {
    CUdeviceptr base = 0;
    uint64_t bytes = 0;
    int64_t pages = 0;
  };

  CudaBackend(const PlanFile &plan, const SessionShape &shape)
      : plan_(plan), shape_(shape) {}

  Status open(int deviceOrdinal);
  Status loadModules();
  Status planMemory();
  Status allocate();
  Status uploadWeights();
  void releaseStaging();
  /// The program's kernel launches into `out`, its greedy ones into
  /// `greedy`.
  Status prepare(const llmc::plan::Program &program,
                 std::vector<PreparedLaunch> &out,
                 std::vector<PreparedLaunch> &greedy);
  Status prepareLaunch(const llmc::plan::Launch &launch,
                       std::vector<PreparedLaunch> &out);
  /// Rows [firstRow, firstRow + rows) of a step's greedy tokens, and where
  /// they go.
  struct GreedyRequest {
    int64_t firstRow = 0, rows = 0;
    int32_t *out = nullptr;
  };
  /// run() and runGreedy(): the step, with its greedy launches and the
  /// tokens' copy when `greedy` is not null.
  Status step(const llmc::plan::Program &program, const StepInputs &inputs,
              const GreedyRequest *greedy);
  /// Launches the kernels of `launches` that run for T tokens on stream_.
  /// Launches those of `launches` that run for a step of T tokens; with
  /// logitsFrom > 0 the LM head's for tokens [logitsFrom, T) only.
  Status launchAll(const std::vector<PreparedLaunch> &launches, int64_t T,
                   int64_t logitsFrom = 0);
  /// Replays (capturing first if needed) the decode graph of T tokens, with
  /// the greedy launches at its end when `greedy`.
  Status launchDecodeGraph(int64_t T, bool greedy);
  /// The addresses of group `group`'s caches in an allocation at `base` of
  /// `pages` pages, and its size; false on overflow.
  bool poolLayout(size_t group, int64_t pages, CUdeviceptr base,
                  std::vector<CacheAddress> *addresses, uint64_t &bytes) const;
  /// Copies `rows` rows of layer `layer`'s cache arrays (codes and scales)
  /// from row `fromRow` of `from` to row `toRow` of `to`.
  Status copyRows(uint32_t layer, const CacheAddress &to, uint64_t toRow,
                  const CacheAddress &from, uint64_t fromRow, uint64_t rows);
  /// Copies the page tables that changed since the last step.
  Status uploadPageTables();
  /// Drops the decode graphs (their parameters are out of date).
  void dropGraphs();

  const PlanFile &plan_;
  SessionShape shape_;
  const KvPages *kv_ = nullptr;
  int64_t maxTokens_ = 0;

  std::unique_ptr<Driver> driver_;
  DeviceInfo device_;
  CUdevice cuDevice_ = 0;
  CUcontext context_ = nullptr; // the retained primary context
  CUstream stream_ = nullptr;
  std::string code_;
  std::string binaryTarget_;      // the CodeBinary.target whose code runs
  std::vector<CUmodule> modules_; // one per CodeEntry
  std::vector<CUfunction> functions_;
  /// Per function: the dynamic shared memory it may use (opted in).
  std::vector<uint32_t> sharedOptIn_;

  Layout layout_;
  CUdeviceptr base_ = 0;
  std::vector<KvPool> pools_;          // per page group
  std::vector<CacheAddress> caches_;   // per layer
  std::vector<uint64_t> tableVersions_; // per group: the version copied
  /// Pinned copies of the step inputs (3 x max_tokens int32), the source of
  /// the input uploads, then max_tokens int32 where runGreedy's tokens land.
  int32_t *inputsHost_ = nullptr;
  /// Weight upload only: two pinned staging buffers and their events.
  std::array<void *, 2> staging_{};
  std::array<CUevent, 2> stagingDone_{};

  std::vector<PreparedLaunch> prefill_, decode_;
  std::vector<PreparedLaunch> prefillGreedy_, decodeGreedy_;

  /// What params[0] of every launch points at.
  int32_t numTokens_ = 0;
  /// Decode graphs by (T, with the greedy launches).
  std::map<std::pair<int64_t, bool>, CUgraphExec> graphs_;
  /// readRows' landing buffer for 16-bit operands.
  std::vector<uint8_t> rowsHost_;
};

} // namespace llmc::runtime::cuda

#endif // LLMC_RUNTIME_SRC_CUDA_CUDABACKEND_H
