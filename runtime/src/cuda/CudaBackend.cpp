//===- CudaBackend.cpp - runs a plan's generated CUDA kernels -------------===//
//
// Creation in the order the resources depend on each other: driver, device,
// code choice, primary context, stream, modules, the device allocation, the
// weight upload, the prepared launches. Each step stores what it acquired in
// a member before it can fail, so that the destructor releases exactly what
// exists.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cuda/CudaBackend.h"

#include "runtime/src/Checked.h"
#include "runtime/src/Log.h"
#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <string_view>

namespace llmc::runtime::cuda {

namespace P = llmc::plan;

namespace {

/// Every region of the device allocation starts at a multiple of this.
constexpr uint64_t kRegionAlignment = 256;
/// Each of the two pinned buffers the weights are uploaded through.
constexpr uint64_t kStagingBytes = uint64_t(32) << 20;
/// Dynamic shared memory a kernel may use without opting in.
constexpr uint32_t kDefaultSharedBytes = 48 * 1024;
/// Bytes of the driver JIT's error log kept for a message.
constexpr size_t kJitLogBytes = 8192;

/// Makes a context current on this thread for the scope, restoring the
/// previous one after (so that a caller's own CUDA context is undisturbed).
class ContextScope {
public:
  ContextScope(const Driver &driver, CUcontext context) : driver_(driver) {
    status_ = driver.toStatus(driver.cuCtxPushCurrent(context),
                              "cuCtxPushCurrent of the primary context");
  }
  ~ContextScope() {
    if (status_.ok()) {
      CUcontext popped = nullptr;
      (void)driver_.cuCtxPopCurrent(&popped);
    }
  }
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;

  const Status &status() const { return status_; }

private:
  const Driver &driver_;
  Status status_;
};

/// "sm_90a" for "compute_90a": the CodeBinary whose PTX a compute_ target
/// names.
std::string binaryTargetOf(const std::string &code) {
  constexpr std::string_view kCompute = "compute_";
  if (code.compare(0, kCompute.size(), kCompute) == 0)
    return "sm_" + code.substr(kCompute.size());
  return code;
}

const P::CodeBinary *findBinary(const P::CodeEntry &entry,
                                const std::string &target) {
  if (const auto *binaries = entry.binaries())
    for (const P::CodeBinary *binary : *binaries)
      if (binary->target() && binary->target()->string_view() == target)
        return binary;
  return nullptr;
}

std::string entryName(const P::CodeEntry &entry, uint32_t index) {
  return "CUDA entry " + std::to_string(index) +
         (entry.name() ? " \"" + entry.name()->str() + "\"" : "");
}

/// `offset` bytes into a region of `bytes` bytes; false on overflow. Advances
/// `end` to the next region's aligned start.
bool placeRegion(uint64_t bytes, uint64_t &end, uint64_t &offset) {
  offset = end;
  uint64_t stop;
  if (!checkedAdd(offset, bytes, stop) ||
      stop > std::numeric_limits<uint64_t>::max() - kRegionAlignment)
    return false;
  end = alignTo(stop, kRegionAlignment);
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// Creation and destruction
//===----------------------------------------------------------------------===//

Status CudaBackend::create(const PlanFile &plan, const SessionShape &shape,
                           const KvPages &kv, int deviceOrdinal,
                           std::unique_ptr<CudaBackend> &out) {
  std::unique_ptr<CudaBackend> backend(new CudaBackend(plan, shape));
  backend->kv_ = &kv;
  backend->maxTokens_ = plan.plan()->memory()->max_tokens();
  LLMC_RETURN_IF_ERROR(backend->open(deviceOrdinal));
  {
    ContextScope scope(*backend->driver_, backend->context_);
    LLMC_RETURN_IF_ERROR(scope.status());
    LLMC_RETURN_IF_ERROR(backend->loadModules());
    LLMC_RETURN_IF_ERROR(backend->planMemory());
    LLMC_RETURN_IF_ERROR(backend->allocate());
    LLMC_RETURN_IF_ERROR(backend->uploadWeights());
    LLMC_RETURN_IF_ERROR(backend->prepare(*plan.plan()->prefill(),
                                          backend->prefill_,
                                          backend->prefillGreedy_));
    LLMC_RETURN_IF_ERROR(backend->prepare(
        *plan.plan()->decode(), backend->decode_, backend->decodeGreedy_));
  }
  // The pages the session holds at first (a plan before format 1.9: all).
  for (size_t g = 0; g < kv.groups().size(); ++g)
    if (kv.groups()[g].pages > 0)
      LLMC_RETURN_IF_ERROR(backend->growKvPages(g, kv.groups()[g].pages));
  out = std::move(backend);
  return Status::success();
}

Status CudaBackend::open(int deviceOrdinal) {
  const std::string &path = plan_.path();
  LLMC_RETURN_IF_ERROR(Driver::load(driver_));
  const Driver &d = *driver_;
  std::vector<DeviceInfo> devices;
  LLMC_RETURN_IF_ERROR(queryDevices(d, devices));
  if (devices.empty())
    return Status(LLMC_ERROR_NO_DEVICE,
                  "no CUDA device: the driver (" + d.path() + ") sees none");
  if (deviceOrdinal < 0 || size_t(deviceOrdinal) >= devices.size())
    return Status(LLMC_ERROR_NO_DEVICE,
                  "no CUDA device " + std::to_string(deviceOrdinal) +
                      ": the driver sees " + std::to_string(devices.size()) +
                      " (0 .. " + std::to_string(devices.size() - 1) + ")");
  device_ = devices[size_t(deviceOrdinal)];

  // The code the device runs: an exact cubin, else the newest PTX it can
  // JIT (every CodeBinary carries the PTX of its target).
  const P::CudaCode *cuda = plan_.plan()->cuda();
  if (!cuda)
    return Status(LLMC_ERROR_UNSUPPORTED,
                  path + ": plan has no CUDA code; recompile with --target " +
                      targetName(device_));
  std::vector<std::string> candidates;
  for (const auto *target : *cuda->targets()) {
    candidates.push_back(target->str());
    if (target->string_view().starts_with("sm_"))
      candidates.push_back("compute_" + target->str().substr(3));
  }
  if (Status s = pickCode(device_, candidates, code_); !s.ok())
    return Status(s.code(), path + ": " + s.message());
  binaryTarget_ = binaryTargetOf(code_);
  if (logEnabled(LLMC_LOG_INFO))
    log(LLMC_LOG_INFO,
        path + ": CUDA device " + std::to_string(deviceOrdinal) + " (" +
            device_.name + ", " + targetName(device_) + ") runs " +
            (code_ == binaryTarget_
                 ? "the " + code_ + " cubins"
                 : "the PTX of " + binaryTarget_ +
                       ", JIT-compiled by the driver (no cubin for the "
                       "device: compile with --target " +
                       targetName(device_) + " to skip the JIT)"));

  LLMC_CU_RETURN_IF_ERROR(d, cuDeviceGet(&cuDevice_, deviceOrdinal),
                          "cuDeviceGet of device " +
                              std::to_string(deviceOrdinal));
  LLMC_CU_RETURN_IF_ERROR(d, cuDevicePrimaryCtxRetain(&context_, cuDevice_),
                          "cuDevicePrimaryCtxRetain of device " +
                              std::to_string(deviceOrdinal) + " (" +
                              device_.name + ")");
  ContextScope scope(d, context_);
  LLMC_RETURN_IF_ERROR(scope.status());
  // Non-blocking: graph capture must not be disturbed by other threads'
  // work on the legacy default stream.
  LLMC_CU_RETURN_IF_ERROR(d, cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING),
                          "cuStreamCreate");
  return Status::success();
}

CudaBackend::~CudaBackend() {
  if (!driver_ || !context_)
    return;
  const Driver &d = *driver_;
  {
    ContextScope scope(d, context_);
    if (scope.status().ok()) {
      // Errors are ignored: there is no one to report them to, and each
      // release is independent of the others.
      if (stream_)
        (void)d.cuStreamSynchronize(stream_);
      for (auto &[tokens, graph] : graphs_)
        (void)d.cuGraphExecDestroy(graph);
      releaseStaging();
      for (CUmodule module : modules_)
        (void)d.cuModuleUnload(module);
      if (base_)
        (void)d.cuMemFree(base_);
      for (const KvPool &pool : pools_)
        if (pool.base)
          (void)d.cuMemFree(pool.base);
      if (inputsHost_)
        (void)d.cuMemFreeHost(inputsHost_);
      if (stream_)
        (void)d.cuStreamDestroy(stream_);
    }
  }
  (void)d.cuDevicePrimaryCtxRelease(cuDevice_);
}

Status CudaBackend::loadModules() {
  const Driver &d = *driver_;
  const std::string &path = plan_.path();
  const auto &entries = *plan_.plan()->cuda()->entries();
  const bool jit = code_ != binaryTarget_;
  std::vector<uint64_t> aligned;
  for (uint32_t i = 0; i < entries.size(); ++i) {
    const P::CodeEntry &entry = *entries.Get(i);
    // The verifier made sure every entry has a binary for every target.
    const P::CodeBinary &binary = *findBinary(entry, binaryTarget_);
    const std::string what = path + ": " + entryName(entry, i) + " (" + code_ +
                             (jit ? " PTX" : " cubin") + ")";
    CUmodule module = nullptr;
    if (!jit) {
      // Flatbuffers aligns byte vectors to 4 only; give the ELF parser the
      // 8-byte alignment of its own headers.
      const auto &cubin = *binary.cubin();
      aligned.assign((cubin.size() + 7) / 8, 0);
      std::memcpy(aligned.data(), cubin.data(), cubin.size());
      LLMC_CU_RETURN_IF_ERROR(d, cuModuleLoadData(&module, aligned.data()),
                              what + ": cuModuleLoadData");
    } else {
      // The verifier made sure the PTX is NUL-terminated.
      std::string log(kJitLogBytes, '\0');
      CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                                CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
      void *values[] = {log.data(), reinterpret_cast<void *>(log.size())};
      if (CUresult result = d.cuModuleLoadDataEx(&module, binary.ptx()->data(),
                                                 2, options, values);
          result != CUDA_SUCCESS) {
        Status s = d.toStatus(result, what + ": cuModuleLoadDataEx");
        log.resize(std::strlen(log.c_str()));
        return Status(s.code(),
                      log.empty() ? s.message() : s.message() + ":\n" + log);
      }
    }
    modules_.push_back(module);
    CUfunction function = nullptr;
    LLMC_CU_RETURN_IF_ERROR(
        d, cuModuleGetFunction(&function, module, binary.symbol()->c_str()),
        what + ": cuModuleGetFunction(\"" + binary.symbol()->str() + "\")");
    functions_.push_back(function);
    sharedOptIn_.push_back(kDefaultSharedBytes);
  }
  return Status::success();
}

Status CudaBackend::planMemory() {
  const P::Plan &p = *plan_.plan();
  const std::string &path = plan_.path();
  Layout &l = layout_;
  uint64_t end = 0;
  bool ok = placeRegion(p.weights_size(), end, l.weights) &&
            placeRegion(p.memory()->arena_bytes(), end, l.arena) &&
            placeRegion(p.cuda()->scratch_bytes(), end, l.scratch);
  for (const KvPages::Group &g : kv_->groups())
    ok = ok && placeRegion(g.table.size() * sizeof(int32_t), end,
                           l.pageTables.emplace_back());
  pools_.resize(kv_->groups().size());
  tableVersions_.assign(kv_->groups().size(), 0);
  caches_.resize(p.kv_caches() ? p.kv_caches()->size() : 0);
  uint64_t inputBytes = uint64_t(maxTokens_) * sizeof(int32_t);
  for (uint64_t &input : l.inputs)
    ok = ok && placeRegion(inputBytes, end, input);
  l.total = end;
  if (!ok)
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  path + ": the device memory for max_batch " +
                      std::to_string(shape_.maxBatch) + " and max_seq_len " +
                      std::to_string(shape_.maxSeqLen) +
                      " would exceed the address space");
  return Status::success();
}

Status CudaBackend::allocate() {
  const Driver &d = *driver_;
  const P::Plan &p = *plan_.plan();
  const std::string &path = plan_.path();
  uint64_t inputBytes = uint64_t(maxTokens_) * sizeof(int32_t);
  LLMC_CU_RETURN_IF_ERROR(
      d,
      cuMemAllocHost(reinterpret_cast<void **>(&inputsHost_), 4 * inputBytes),
      path + ": cuMemAllocHost of " + std::to_string(4 * inputBytes) +
          " bytes for the step inputs");
  const Layout &l = layout_;
  LLMC_CU_RETURN_IF_ERROR(
      d, cuMemAlloc(&base_, size_t(l.total)),
      path + ": cuMemAlloc of " + std::to_string(l.total) + " bytes on " +
          device_.name + " (weights " + std::to_string(p.weights_size()) +
          ", arena " + std::to_string(p.memory()->arena_bytes()) +
          ", scratch " + std::to_string(p.cuda()->scratch_bytes()) + ")");
  // A plan reading a row before writing it reads zeros, as on the CPU
  // backend; the caches start empty.
  if (uint64_t arenaBytes = p.memory()->arena_bytes())
    LLMC_CU_RETURN_IF_ERROR(d, cuMemsetD8(arena(), 0, size_t(arenaBytes)),
                            "cuMemsetD8 of the arena");
  return Status::success();
}

Status CudaBackend::uploadWeights() {
  const Driver &d = *driver_;
  const P::Plan &p = *plan_.plan();
  const uint64_t size = p.weights_size();
  if (size == 0)
    return Status::success();
  const uint8_t *source = plan_.data() + p.weights_offset();
  const uint64_t chunk = std::min(kStagingBytes, alignTo(size, 4096));
  for (size_t b = 0; b < staging_.size(); ++b) {
    LLMC_CU_RETURN_IF_ERROR(d, cuMemAllocHost(&staging_[b], size_t(chunk)),
                            plan_.path() + ": cuMemAllocHost of " +
                                std::to_string(chunk) +
                                " bytes for the weight upload");
    LLMC_CU_RETURN_IF_ERROR(
        d, cuEventCreate(&stagingDone_[b], CU_EVENT_DISABLE_TIMING),
        "cuEventCreate");
  }
  // Double-buffered: the file is copied into one buffer while the other
  // one's copy to the device runs.
  for (uint64_t offset = 0, i = 0; offset < size; offset += chunk, ++i) {
    size_t b = size_t(i % 2);
    uint64_t bytes = std::min(chunk, size - offset);
    if (i >= 2)
      LLMC_CU_RETURN_IF_ERROR(d, cuEventSynchronize(stagingDone_[b]),
                              "cuEventSynchronize of the weight upload");
    std::memcpy(staging_[b], source + offset, size_t(bytes));
    LLMC_CU_RETURN_IF_ERROR(d,
                            cuMemcpyHtoDAsync(weights() + offset, staging_[b],
                                              size_t(bytes), stream_),
                            "cuMemcpyHtoDAsync of " + std::to_string(bytes) +
                                " weight bytes");
    LLMC_CU_RETURN_IF_ERROR(d, cuEventRecord(stagingDone_[b], stream_),
                            "cuEventRecord");
  }
  LLMC_CU_RETURN_IF_ERROR(d, cuStreamSynchronize(stream_),
                          "cuStreamSynchronize after the weight upload");
  releaseStaging();
  return Status::success();
}

void CudaBackend::releaseStaging() {
  const Driver &d = *driver_;
  for (size_t b = 0; b < staging_.size(); ++b) {
    if (stagingDone_[b])
      (void)d.cuEventDestroy(stagingDone_[b]);
    if (staging_[b])
      (void)d.cuMemFreeHost(staging_[b]);
    stagingDone_[b] = nullptr;
    staging_[b] = nullptr;
  }
}

LLMCKvArg CudaBackend::cache(uint32_t layer) const {
  const CacheAddress &c = caches_[layer];
  const size_t group = kv_->groupOf(layer);
  const KvPages::Group &g = kv_->groups()[group];
  LLMCKvArg arg;
  arg.keys = reinterpret_cast<void *>(c.keys);
  arg.values = reinterpret_cast<void *>(c.values);
  arg.capacity = int32_t(g.capacity);
  arg.key_scales = reinterpret_cast<float *>(c.keyScales);
  arg.value_scales = reinterpret_cast<float *>(c.valueScales);
  arg.page_table =
      reinterpret_cast<const int32_t *>(base_ + layout_.pageTables[group]);
  arg.table_pages = int32_t(g.tablePages);
  arg.page_shift = g.pageShift;
  return arg;
}

bool CudaBackend::poolLayout(size_t group, int64_t pages, CUdeviceptr base,
                             std::vector<CacheAddress> *addresses,
                             uint64_t &bytes) const {
  const P::Plan &p = *plan_.plan();
  const uint64_t rows =
      uint64_t(pages) * uint64_t(kv_->groups()[group].pageTokens);
  uint64_t end = 0;
  bool ok = true;
  for (uint32_t layer = 0; ok && layer < caches_.size(); ++layer) {
    if (kv_->groupOf(layer) != group)
      continue;
    const P::KVCacheLayout &layout = *p.kv_caches()->Get(layer);
    const bool scaled = kvCacheScaled(layout);
    uint64_t half = 0, scales = 0;
    uint64_t keys = 0, values = 0, keyScales = 0, valueScales = 0;
    ok = checkedProduct({rows, uint64_t(layout.kv_heads()),
                         uint64_t(layout.head_dim()),
                         dtypeSize(layout.dtype())},
                        half) &&
         checkedProduct({rows, uint64_t(layout.kv_heads()), sizeof(float)},
                        scales) &&
         placeRegion(half, end, keys) &&
         placeRegion(kvCacheArrays(layout) == 2 ? half : 0, end, values) &&
         placeRegion(scaled ? scales : 0, end, keyScales) &&
         placeRegion(scaled ? scales : 0, end, valueScales);
    if (ok && addresses) {
      CacheAddress &a = (*addresses)[layer];
      a.keys = base + keys;
      a.values = kvCacheArrays(layout) == 2 ? base + values : 0;
      a.keyScales = scaled ? base + keyScales : 0;
      a.valueScales = scaled ? base + valueScales : 0;
    }
  }
  bytes = end;
  return ok;
}

Status CudaBackend::growKvPages(size_t group, int64_t pages) {
  const Driver &d = *driver_;
  const KvPages::Group &g = kv_->groups()[group];
  KvPool &pool = pools_[group];
  uint64_t bytes = 0;
  if (!poolLayout(group, pages, 0, nullptr, bytes))
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  plan_.path() + ": " + std::to_string(pages) +
                      " KV pages would exceed the address space");
  ContextScope scope(d, context_);
  LLMC_RETURN_IF_ERROR(scope.status());
  // No step is running: each one synchronizes before it returns.
  CUdeviceptr base = 0;
  if (CUresult r = d.cuMemAlloc(&base, size_t(bytes)); r != CUDA_SUCCESS) {
    Status s = d.toStatus(r, "cuMemAlloc");
    return Status(s.code(),
                  plan_.path() + ": cannot allocate " + std::to_string(pages) +
                      " KV pages of " + std::to_string(g.pageTokens) +
                      " tokens (" + std::to_string(bytes) + " bytes) on " +
                      device_.name + ": " + s.message());
  }
  std::vector<CacheAddress> grown = caches_;
  (void)poolLayout(group, pages, base, &grown, bytes);
  // The new pages start zeroed; the old ones keep what they hold.
  Status copied = d.toStatus(d.cuMemsetD8(base, 0, size_t(bytes)),
                             "cuMemsetD8 of the KV pages");
  const uint64_t oldRows = uint64_t(pool.pages) * uint64_t(g.pageTokens);
  for (uint32_t layer = 0; copied.ok() && oldRows > 0 && layer < caches_.size();
       ++layer)
    if (kv_->groupOf(layer) == group)
      copied = copyRows(layer, grown[layer], 0, caches_[layer], 0, oldRows);
  if (!copied.ok()) {
    (void)d.cuMemFree(base);
    return copied;
  }
  if (pool.base)
    (void)d.cuMemFree(pool.base);
  pool = KvPool{base, bytes, pages};
  caches_ = std::move(grown);
  // The launches take the new addresses; graphs hold the old ones.
  for (auto *launches :
       {&prefill_, &decode_, &prefillGreedy_, &decodeGreedy_})
    for (PreparedLaunch &launch : *launches)
      for (auto [arg, layer] : launch.kvArgs) {
        const LLMCKvArg kv = cache(layer);
        std::memcpy(launch.args[arg].data(), &kv, sizeof kv);
      }
  dropGraphs();
  return Status::success();
}

Status CudaBackend::copyRows(uint32_t layer, const CacheAddress &to,
                             uint64_t toRow, const CacheAddress &from,
                             uint64_t fromRow, uint64_t rows) {
  const Driver &d = *driver_;
  const P::KVCacheLayout &layout = *plan_.plan()->kv_caches()->Get(layer);
  // Bytes per row of the codes and of the scales.
  const uint64_t codes = uint64_t(layout.kv_heads()) *
                         uint64_t(layout.head_dim()) * dtypeSize(layout.dtype());
  const uint64_t scales = uint64_t(layout.kv_heads()) * sizeof(float);
  const struct {
    CUdeviceptr to, from;
    uint64_t rowBytes;
  } arrays[] = {{to.keys, from.keys, codes},
                {to.values, from.values, codes},
                {to.keyScales, from.keyScales, scales},
                {to.valueScales, from.valueScales, scales}};
  for (const auto &a : arrays)
    if (a.from)
      LLMC_CU_RETURN_IF_ERROR(
          d,
          cuMemcpyDtoD(a.to + toRow * a.rowBytes, a.from + fromRow * a.rowBytes,
                       size_t(rows * a.rowBytes)),
          "cuMemcpyDtoD of KV rows");
  return Status::success();
}

Status CudaBackend::copyKvPage(size_t group, int32_t to, int32_t from) {
  const uint64_t rows = uint64_t(kv_->groups()[group].pageTokens);
  ContextScope scope(*driver_, context_);
  LLMC_RETURN_IF_ERROR(scope.status());
  // No step is running: each one synchronizes before it returns.
  for (uint32_t layer = 0; layer < caches_.size(); ++layer)
    if (kv_->groupOf(layer) == group)
      LLMC_RETURN_IF_ERROR(copyRows(layer, caches_[layer], uint64_t(to) * rows,
                                    caches_[layer], uint64_t(from) * rows,
                                    rows));
  return Status::success();
}

uint64_t CudaBackend::kvBytes() const {
  uint64_t bytes = 0;
  for (const KvPool &pool : pools_)
    bytes += pool.bytes;
  return bytes;
}

void CudaBackend::dropGraphs() {
  for (auto &[key, graph] : graphs_)
    (void)driver_->cuGraphExecDestroy(graph);
  graphs_.clear();
}

Status CudaBackend::uploadPageTables() {
  const Driver &d = *driver_;
  for (size_t g = 0; g < kv_->groups().size(); ++g) {
    const KvPages::Group &group = kv_->groups()[g];
    if (tableVersions_[g] == group.version)
      continue;
    // Pageable memory: the driver has copied it when the call returns.
    LLMC_CU_RETURN_IF_ERROR(
        d,
        cuMemcpyHtoDAsync(base_ + layout_.pageTables[g], group.table.data(),
                          group.table.size() * sizeof(int32_t), stream_),
        "cuMemcpyHtoDAsync of the KV page tables");
    tableVersions_[g] = group.version;
  }
  return Status::success();
}

Status CudaBackend::prepare(const P::Program &program,
                            std::vector<PreparedLaunch> &out,
                            std::vector<PreparedLaunch> &greedy) {
  for (const P::Kernel *kernel : *program.kernels())
    if (kernel->launches())
      for (const P::Launch *launch : *kernel->launches()) {
        LLMC_RETURN_IF_ERROR(prepareLaunch(*launch, out));
        if (logitsKernel(*kernel)) {
          PreparedLaunch &prepared = out.back();
          prepared.logits = true;
          for (size_t i = 0; i < launch->args()->size(); ++i) {
            const P::Operand *arg = launch->args()->Get(uint32_t(i));
            if (arg->kind() == P::OperandKind::Arena)
              prepared.rowArgs.emplace_back(
                  i, arg->row_elems() * dtypeSize(arg->dtype()));
          }
        }
      }
  if (program.greedy())
    for (const P::Launch *launch : *program.greedy())
      LLMC_RETURN_IF_ERROR(prepareLaunch(*launch, greedy));
  // Now that the vectors no longer move: the parameter pointers.
  for (auto *launches : {&out, &greedy})
    for (PreparedLaunch &launch : *launches) {
      launch.params.push_back(&numTokens_);
      for (PreparedLaunch::ArgSlot &arg : launch.args)
        launch.params.push_back(arg.data());
    }
  return Status::success();
}

Status CudaBackend::prepareLaunch(const P::Launch &launch,
                                  std::vector<PreparedLaunch> &out) {
  const Driver &d = *driver_;
  const P::Plan &p = *plan_.plan();
  const auto &entries = *p.cuda()->entries();
  PreparedLaunch prepared;
  uint32_t e = launch.entry();
  prepared.function = functions_[e];
  for (uint32_t axis = 0; axis < launch.grid()->size(); ++axis)
    prepared.grid[axis] = launch.grid()->Get(axis);
  prepared.block = launch.block();
  prepared.sharedBytes = launch.dynamic_shared_bytes();
  prepared.tokensPerBlock = launch.tokens_per_block();
  prepared.tokenAxis = launch.token_axis();
  prepared.minTokens = launch.min_tokens();
  prepared.maxTokens = launch.max_tokens();

  // Shared memory beyond what the device offers would fail every step:
  // say so now, with what to do about it.
  const P::CodeEntry &entry = *entries.Get(e);
  const P::CodeBinary &binary = *findBinary(entry, binaryTarget_);
  uint64_t staticBytes =
      binary.resources() ? binary.resources()->static_shared_bytes() : 0;
  if (staticBytes + prepared.sharedBytes >
      uint64_t(device_.maxSharedPerBlockOptin))
    return Status(LLMC_ERROR_UNSUPPORTED,
                  plan_.path() + ": " + entryName(entry, e) + " needs " +
                      std::to_string(staticBytes + prepared.sharedBytes) +
                      " bytes of shared memory per block; " + device_.name +
                      " has " +
                      std::to_string(device_.maxSharedPerBlockOptin) +
                      "; recompile with --target " + targetName(device_));
  if (prepared.sharedBytes > sharedOptIn_[e]) {
    LLMC_CU_RETURN_IF_ERROR(
        d,
        cuFuncSetAttribute(prepared.function,
                           CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                           int(prepared.sharedBytes)),
        plan_.path() + ": " + entryName(entry, e) +
            ": cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, " +
            std::to_string(prepared.sharedBytes) + ")");
    sharedOptIn_[e] = prepared.sharedBytes;
  }

  if (const auto *args = launch.args()) {
    for (const P::Operand *arg : *args) {
      PreparedLaunch::ArgSlot slot{};
      CUdeviceptr pointer = 0;
      switch (arg->kind()) {
      case P::OperandKind::Arena:
        pointer = arena() + arg->offset();
        break;
      case P::OperandKind::Weight:
        pointer = weights() + p.weights()->Get(arg->index())->offset();
        break;
      case P::OperandKind::Scratch:
        pointer = scratch() + arg->offset();
        break;
      case P::OperandKind::Input:
        pointer = base_ + layout_.inputs[arg->index()];
        break;
      case P::OperandKind::KVCache: {
        LLMCKvArg kv = cache(arg->index());
        std::memcpy(slot.data(), &kv, sizeof kv);
        prepared.kvArgs.emplace_back(prepared.args.size(), arg->index());
        break;
      }
      }
      if (arg->kind() != P::OperandKind::KVCache)
        std::memcpy(slot.data(), &pointer, sizeof pointer);
      prepared.args.push_back(slot);
    }
  }
  out.push_back(std::move(prepared));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Running a program
//===----------------------------------------------------------------------===//

Status CudaBackend::run(const P::Program &program, const StepInputs &inputs) {
  return step(program, inputs, nullptr);
}

Status CudaBackend::runGreedy(const P::Program &program,
                              const StepInputs &inputs, int64_t firstRow,
                              int64_t rows, int32_t *out) {
  const bool prefill = program.step() == P::Step::Prefill;
  if ((prefill ? prefillGreedy_ : decodeGreedy_).empty())
    return Backend::runGreedy(program, inputs, firstRow, rows, out);
  if (firstRow < 0 || rows < 0 || firstRow + rows > inputs.numTokens)
    return Status(LLMC_ERROR_INTERNAL,
                  "internal error: greedy tokens of rows " +
                      std::to_string(firstRow) + " + " + std::to_string(rows) +
                      " of a step of " + std::to_string(inputs.numTokens) +
                      " tokens");
  GreedyRequest request{firstRow, rows, out};
  return step(program, inputs, &request);
}

Status CudaBackend::step(const P::Program &program, const StepInputs &inputs,
                         const GreedyRequest *greedy) {
  const Driver &d = *driver_;
  const int64_t T = inputs.numTokens;
  const bool prefill = program.step() == P::Step::Prefill;
  // Generated prefill attention relies on plan.fbs's promise: one sequence
  // at consecutive positions. The session keeps it; this guards our bugs.
  if (prefill)
    for (int64_t i = 1; i < T; ++i)
      if (inputs.slots[i] != inputs.slots[0] ||
          inputs.positions[i] != inputs.positions[0] + i)
        return Status(LLMC_ERROR_INTERNAL,
                      "internal error: prefill token " + std::to_string(i) +
                          " is not of the first token's sequence at the next "
                          "position");

  ContextScope scope(d, context_);
  LLMC_RETURN_IF_ERROR(scope.status());
  // The pinned copies are free: the previous step synchronized.
  const size_t bytes = size_t(T) * sizeof(int32_t);
  const int32_t *sources[3] = {inputs.tokens, inputs.positions, inputs.slots};
  for (size_t i = 0; i < 3; ++i) {
    int32_t *host = inputsHost_ + i * size_t(maxTokens_);
    std::memcpy(host, sources[i], bytes);
    LLMC_CU_RETURN_IF_ERROR(
        d, cuMemcpyHtoDAsync(base_ + layout_.inputs[i], host, bytes, stream_),
        "cuMemcpyHtoDAsync of the step inputs");
  }
  LLMC_RETURN_IF_ERROR(uploadPageTables());
  numTokens_ = int32_t(T);
  Status launched;
  if (prefill) {
    launched = launchAll(prefill_, T, inputs.logitsFrom);
    if (launched.ok() && greedy)
      launched = launchAll(prefillGreedy_, T);
  } else {
    launched = launchDecodeGraph(T, greedy != nullptr);
  }
  // The tokens land in the pinned buffer after the inputs, copied before
  // the one synchronization.
  int32_t *tokensHost = inputsHost_ + 3 * size_t(maxTokens_);
  if (launched.ok() && greedy) {
    const P::Operand &tokens = *program.greedy_tokens();
    launched = d.toStatus(
        d.cuMemcpyDtoHAsync(tokensHost,
                            scratch() + tokens.offset() +
                                uint64_t(greedy->firstRow) * sizeof(int32_t),
                            size_t(greedy->rows) * sizeof(int32_t), stream_),
        "cuMemcpyDtoHAsync of " + std::to_string(greedy->rows) +
            " greedy tokens");
  }
  // Also after a failed launch: the next step reuses the pinned inputs.
  CUresult synced = d.cuStreamSynchronize(stream_);
  LLMC_RETURN_IF_ERROR(launched);
  LLMC_RETURN_IF_ERROR(d.toStatus(
      synced, std::string("cuStreamSynchronize after the ") +
                  (prefill ? "prefill" : "decode") + " step of " +
                  std::to_string(T) + " tokens"));
  if (greedy)
    std::memcpy(greedy->out, tokensHost,
                size_t(greedy->rows) * sizeof(int32_t));
  return Status::success();
}

Status CudaBackend::launchAll(const std::vector<PreparedLaunch> &launches,
                              int64_t stepTokens, int64_t logitsFrom) {
  const Driver &d = *driver_;
  // The LM head's launches for the last rows only: their own T, and their
  // row pointers moved to the first of them (StepInputs::logitsFrom).
  int32_t logitsTokens = int32_t(stepTokens - logitsFrom);
  std::vector<PreparedLaunch::ArgSlot> movedArgs;
  std::vector<void *> movedParams;
  for (const PreparedLaunch &launch : launches) {
    const bool rows = logitsFrom > 0 && launch.logits;
    const int64_t T = rows ? stepTokens - logitsFrom : stepTokens;
    if (T == 0 || uint64_t(T) < launch.minTokens ||
        (launch.maxTokens != 0 && uint64_t(T) > launch.maxTokens))
      continue;
    void *const *params = launch.params.data();
    if (rows) {
      movedArgs = launch.args;
      for (auto [index, rowBytes] : launch.rowArgs) {
        CUdeviceptr pointer;
        std::memcpy(&pointer, movedArgs[index].data(), sizeof pointer);
        pointer += CUdeviceptr(uint64_t(logitsFrom) * rowBytes);
        std::memcpy(movedArgs[index].data(), &pointer, sizeof pointer);
      }
      movedParams.assign(1, &logitsTokens);
      for (PreparedLaunch::ArgSlot &arg : movedArgs)
        movedParams.push_back(arg.data());
      params = movedParams.data();
    }
    std::array<uint64_t, 3> grid{launch.grid[0], launch.grid[1],
                                 launch.grid[2]};
    if (launch.tokensPerBlock > 0)
      grid[launch.tokenAxis] *=
          (uint64_t(T) + launch.tokensPerBlock - 1) / launch.tokensPerBlock;
    if (grid[launch.tokenAxis] > std::numeric_limits<uint32_t>::max())
      return Status(LLMC_ERROR_INTERNAL,
                    "internal error: grid dimension " +
                        std::to_string(grid[launch.tokenAxis]) +
                        " overflows for " + std::to_string(T) + " tokens");
    LLMC_CU_RETURN_IF_ERROR(
        d,
        cuLaunchKernel(launch.function, unsigned(grid[0]), unsigned(grid[1]),
                       unsigned(grid[2]), launch.block, 1, 1,
                       launch.sharedBytes, stream_,
                       const_cast<void **>(params), nullptr),
        "cuLaunchKernel (grid " + std::to_string(grid[0]) + "x" +
            std::to_string(grid[1]) + "x" + std::to_string(grid[2]) +
            ", block " + std::to_string(launch.block) + ", " +
            std::to_string(launch.sharedBytes) + " bytes of shared memory)");
  }
  return Status::success();
}

Status CudaBackend::launchDecodeGraph(int64_t T, bool greedy) {
  const Driver &d = *driver_;
  auto found = graphs_.find({T, greedy});
  if (found == graphs_.end()) {
    // The launches read the step inputs from fixed device arrays, and T is
    // baked into the parameters: one graph per T stays valid for the
    // session's lifetime.
    LLMC_CU_RETURN_IF_ERROR(
        d, cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
        "cuStreamBeginCapture");
    Status launched = launchAll(decode_, T);
    if (launched.ok() && greedy)
      launched = launchAll(decodeGreedy_, T);
    CUgraph graph = nullptr;
    CUresult ended = d.cuStreamEndCapture(stream_, &graph);
    if (!launched.ok() || ended != CUDA_SUCCESS) {
      if (graph)
        (void)d.cuGraphDestroy(graph);
      if (!launched.ok())
        return launched;
      return d.toStatus(ended, "cuStreamEndCapture of the decode step");
    }
    CUgraphExec exec = nullptr;
    CUresult instantiated = d.cuGraphInstantiateWithFlags(&exec, graph, 0);
    (void)d.cuGraphDestroy(graph);
    if (instantiated != CUDA_SUCCESS)
      return d.toStatus(instantiated,
                        "cuGraphInstantiateWithFlags of the decode step of " +
                            std::to_string(T) + " tokens");
    found = graphs_.emplace(std::make_pair(T, greedy), exec).first;
  }
  LLMC_CU_RETURN_IF_ERROR(d, cuGraphLaunch(found->second, stream_),
                          "cuGraphLaunch of the decode step");
  return Status::success();
}

Status CudaBackend::readRows(const P::Operand &operand, int64_t firstRow,
                             int64_t rows, float *out) {
  const Driver &d = *driver_;
  const size_t elems = size_t(rows) * size_t(operand.row_elems());
  const size_t elemSize = size_t(dtypeSize(operand.dtype()));
  const CUdeviceptr source =
      arena() + operand.offset() +
      size_t(firstRow) * size_t(operand.row_elems()) * elemSize;
  void *landing = out;
  if (operand.dtype() != P::DType::F32) {
    try {
      if (rowsHost_.size() < elems * elemSize)
        rowsHost_.resize(elems * elemSize);
    } catch (const std::bad_alloc &) {
      return Status(LLMC_ERROR_OUT_OF_MEMORY,
                    "cannot allocate " + std::to_string(elems * elemSize) +
                        " bytes to read rows back");
    }
    landing = rowsHost_.data();
  }
  ContextScope scope(d, context_);
  LLMC_RETURN_IF_ERROR(scope.status());
  LLMC_CU_RETURN_IF_ERROR(
      d, cuMemcpyDtoHAsync(landing, source, elems * elemSize, stream_),
      "cuMemcpyDtoHAsync of " + std::to_string(rows) + " rows");
  LLMC_CU_RETURN_IF_ERROR(d, cuStreamSynchronize(stream_),
                          "cuStreamSynchronize after reading rows");
  if (landing != out)
    cpu::widen(landing, operand.dtype(), out, elems);
  return Status::success();
}

} // namespace llmc::runtime::cuda
