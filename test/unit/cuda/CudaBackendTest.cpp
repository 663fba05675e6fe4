//===- CudaBackendTest.cpp - the CUDA backend on fake drivers -------------===//
//
// Without a GPU: creation against no driver, a fake without devices, and
// the fake H100 (FakeCudaGpu.cpp), which simulates memory in host memory and
// logs launches. Checks the code choice, the device layout and weight
// upload, the kernel parameters and grids of prefill and decode steps, the
// decode graphs, reading rows back, and that every failure while creating a
// backend releases everything acquired before it.
//
//===----------------------------------------------------------------------===//

#include "CudaTestSupport.h"
#include "TestPlan.h"

#include "runtime/src/cpu/Numerics.h"
#include "runtime/src/cuda/CudaBackend.h"

#include "../runtime/ApiHelpers.h"

#include <gtest/gtest.h>

#include <cstring>

namespace llmc::runtime::cuda::test {
namespace {

namespace P = llmc::plan;
using runtime::test::addFakeCudaCode;
using runtime::test::PlanPtr;
using runtime::test::SessionPtr;
using runtime::test::TempDir;
using runtime::test::TestPlan;
using runtime::test::tinyLlama;

constexpr uint64_t kMemory = uint64_t(1) << 30;

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

template <typename T> const T *hostView(CUdeviceptr pointer) {
  // The fake's device memory is host memory.
  return reinterpret_cast<const T *>(uintptr_t(pointer));
}

class CudaBackendTest : public ::testing::Test {
protected:
  /// tinyLlama (max_tokens 4) with fake code for `targets`.
  static TestPlan plan(const std::vector<std::string> &targets = {"sm_90a",
                                                                  "sm_80"}) {
    TestPlan t = tinyLlama(4, 16);
    if (!targets.empty())
      addFakeCudaCode(t, targets);
    return t;
  }

  /// Writes and opens `t` (kept in file_), then creates a backend.
  Status create(const TestPlan &t, std::unique_ptr<CudaBackend> &backend,
                SessionShape shape = {2, 16}, int device = 0) {
    t.write(path_);
    file_.reset();
    Status opened = PlanFile::open(path_, file_);
    EXPECT_TRUE(opened.ok()) << opened.message();
    if (!opened.ok())
      return opened;
    if (Status s = KvPages::create(*file_, shape, 0, kv_); !s.ok())
      return s;
    return CudaBackend::create(*file_, shape, kv_, device, backend);
  }

  /// The launches logged from `first` on.
  std::vector<LLMCFakeCudaLaunch> launchesFrom(int first) const {
    std::vector<LLMCFakeCudaLaunch> out;
    for (int i = first; i < fake_.counts().launches; ++i)
      out.push_back(fake_.launch(i));
    return out;
  }

  ScopedDriverPath env_{LLMC_FAKE_CUDA_H100_PATH};
  FakeGpu fake_{kMemory};
  TempDir dir_;
  std::string path_ = dir_.file("model.plan");
  std::unique_ptr<PlanFile> file_;
  KvPages kv_;
};

//===----------------------------------------------------------------------===//
// Refusals
//===----------------------------------------------------------------------===//

TEST_F(CudaBackendTest, NoDriverIsNoDevice) {
  ScopedDriverPath none("/nonexistent/libcuda.so.1");
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_TRUE(startsWith(
      s.message(), "no CUDA driver: cannot load /nonexistent/libcuda.so.1 ("))
      << s.message();
  EXPECT_EQ(backend, nullptr);
}

TEST_F(CudaBackendTest, DriverWithoutDeviceIsNoDevice) {
  ScopedDriverPath noDevice(LLMC_FAKE_CUDA_NO_DEVICE_PATH);
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_EQ(s.message(), "cuInit failed: CUDA_ERROR_NO_DEVICE (no "
                         "CUDA-capable device is detected)");
}

TEST_F(CudaBackendTest, NoSuchDeviceOrdinal) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend, {1, 16}, 1);
  EXPECT_EQ(s.code(), LLMC_ERROR_NO_DEVICE);
  EXPECT_EQ(s.message(), "no CUDA device 1: the driver sees 1 (0 .. 0)");
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, PlanWithoutCudaCode) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan({}), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_UNSUPPORTED);
  EXPECT_EQ(s.message(), path_ + ": plan has no CUDA code; recompile with "
                                 "--target sm_90a");
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, PlanWithoutCodeForTheDevice) {
  // An sm_100 cubin does not run on 9.0, nor does compute_100 PTX.
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan({"sm_100"}), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_UNSUPPORTED);
  EXPECT_EQ(s.message(),
            path_ + ": plan has no code for sm_90; recompile with --target "
                    "sm_90a (the plan's targets: sm_100, compute_100)");
  EXPECT_EQ(backend, nullptr);
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, SharedMemoryBeyondTheDevice) {
  TestPlan t = plan();
  t.prefillLaunches[0][0].dynamicSharedBytes = 200 * 1024;
  // Static shared memory counts too: 200 + 28 KiB > 227 KiB.
  t.cuda->entries[0].binaries[0].staticSharedBytes = 28 * 1024;
  std::unique_ptr<CudaBackend> backend;
  Status s = create(t, backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_UNSUPPORTED);
  EXPECT_EQ(s.message(),
            path_ + ": CUDA entry 0 \"embed\" needs 233472 bytes of shared "
                    "memory per block; Fake H100 has 232448; recompile with "
                    "--target sm_90a");
  fake_.expectAllReleased();
}

//===----------------------------------------------------------------------===//
// Out of memory and other failures
//===----------------------------------------------------------------------===//

TEST_F(CudaBackendTest, OutOfDeviceMemoryReleasesEverything) {
  fake_.reset(0); // every cuMemAlloc fails
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_OUT_OF_MEMORY);
  EXPECT_TRUE(startsWith(s.message(), path_ + ": cuMemAlloc of "))
      << s.message();
  EXPECT_TRUE(contains(s.message(), " bytes on Fake H100 (weights "))
      << s.message();
  EXPECT_TRUE(contains(s.message(), ") failed: CUDA_ERROR_OUT_OF_MEMORY "
                                    "(out of memory)"))
      << s.message();
  EXPECT_EQ(backend, nullptr);
  LLMCFakeCudaCounts c = fake_.counts();
  // What came before the allocation was acquired, then released.
  EXPECT_EQ(c.cubinLoads, 2);
  EXPECT_EQ(c.totalHostAllocations, 1);
  fake_.expectAllReleased();

  // Through the C API: the status stays LLMC_ERROR_OUT_OF_MEMORY.
  llmc_status status;
  PlanPtr opened = runtime::test::openPlan(path_, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  llmc_session_options options = llmc_session_options_default();
  options.backend = LLMC_BACKEND_CUDA;
  llmc_session *session = nullptr;
  EXPECT_EQ(llmc_session_create(opened.get(), &options, &session),
            LLMC_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(session, nullptr);
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, TooLittleDeviceMemory) {
  fake_.reset(4096);
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_OUT_OF_MEMORY) << s.message();
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, EveryFailingCallReleasesEverything) {
  // Each driver call creation makes, failing at each of its first calls: the
  // status says so (out of memory stays out of memory) and nothing leaks.
  const char *apis[] = {"cuDevicePrimaryCtxRetain",
                        "cuCtxPushCurrent",
                        "cuStreamCreate",
                        "cuModuleLoadData",
                        "cuModuleGetFunction",
                        "cuFuncSetAttribute",
                        "cuMemAllocHost",
                        "cuMemAlloc",
                        "cuMemsetD8",
                        "cuEventCreate",
                        "cuMemcpyHtoDAsync",
                        "cuEventRecord",
                        "cuStreamSynchronize"};
  TestPlan t = plan();
  for (const char *api : apis) {
    int failures = 0;
    for (int nth = 0;; ++nth) {
      SCOPED_TRACE(std::string(api) + " call " + std::to_string(nth));
      fake_.reset(kMemory);
      fake_.fail(api, nth, ::CUDA_ERROR_OUT_OF_MEMORY);
      std::unique_ptr<CudaBackend> backend;
      Status s = create(t, backend);
      if (s.ok()) {
        // Fewer calls than nth + 1. Disarm the failure before the backend is
        // destroyed: its destructor makes some of the same calls.
        fake_.fail(api, 1 << 30, ::CUDA_SUCCESS);
        backend.reset();
        fake_.expectAllReleased();
        break;
      }
      ++failures;
      EXPECT_EQ(s.code(), LLMC_ERROR_OUT_OF_MEMORY) << s.message();
      EXPECT_TRUE(contains(s.message(), "CUDA_ERROR_OUT_OF_MEMORY"))
          << s.message();
      EXPECT_EQ(backend, nullptr);
      fake_.expectAllReleased();
      ASSERT_LT(nth, 20);
    }
    EXPECT_GT(failures, 0) << api << " was never called";
    fake_.reset(kMemory);
  }
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

TEST_F(CudaBackendTest, CreatesTheDeviceState) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(backend->device().name, "Fake H100");
  EXPECT_EQ(backend->code(), "sm_90a");
  LLMCFakeCudaCounts c = fake_.counts();
  EXPECT_EQ(c.primaryRetains, 1);
  EXPECT_EQ(c.contextDepth, 0); // current only inside calls
  EXPECT_EQ(c.streams, 1);
  EXPECT_EQ(c.modules, 2);
  EXPECT_EQ(c.cubinLoads, 2);
  EXPECT_EQ(c.ptxLoads, 0);
  // One opt-in for embed's 64 KiB, used by both programs.
  EXPECT_EQ(c.sharedOptIns, 1);
  // One device allocation and one of KV pages (a plan before format 1.9:
  // every sequence's page from the start); only the step inputs and the
  // greedy tokens' landing stay pinned, max_tokens (4) int32 each.
  EXPECT_EQ(c.deviceAllocations, 2);
  EXPECT_EQ(c.deviceBytes, backend->deviceBytes() + backend->kvBytes());
  EXPECT_EQ(c.hostAllocations, 1);
  EXPECT_EQ(c.hostBytes, 4u * 4 * sizeof(int32_t));
  EXPECT_EQ(c.events, 0);

  const P::Plan &p = *file_->plan();
  // The weight section, as in the file.
  EXPECT_EQ(c.hostToDeviceBytes, p.weights_size());
  EXPECT_EQ(std::memcmp(hostView<uint8_t>(backend->weights()),
                        file_->data() + p.weights_offset(),
                        size_t(p.weights_size())),
            0);
  for (CUdeviceptr region :
       {backend->weights(), backend->arena(), backend->scratch()})
    EXPECT_EQ(region % 256, 0u);
  // The arena and KV caches start zeroed (the fake's memory starts as
  // garbage).
  const uint8_t *arena = hostView<uint8_t>(backend->arena());
  for (uint64_t i = 0; i < p.memory()->arena_bytes(); ++i)
    ASSERT_EQ(arena[i], 0) << i;
  LLMCKvArg cache = backend->cache(0);
  EXPECT_EQ(cache.capacity, 16);
  const size_t half = 2 * 16 * 1 * 4 * sizeof(float);
  const auto *keys = static_cast<const uint8_t *>(cache.keys);
  const auto *values = static_cast<const uint8_t *>(cache.values);
  EXPECT_GE(values, keys + half);
  EXPECT_EQ(uintptr_t(keys) % 256, 0u);
  EXPECT_EQ(uintptr_t(values) % 256, 0u);
  for (size_t i = 0; i < half; ++i)
    ASSERT_TRUE(keys[i] == 0 && values[i] == 0) << i;

  backend.reset();
  fake_.expectAllReleased();
}

// Format 1.8: an FP8 cache's codes take a byte each, and its key and value
// scales (one f32 per row and KV head) get regions of their own, passed in
// the kernel argument; other caches pass null scales (CreatesTheDeviceState).
TEST_F(CudaBackendTest, PlacesTheScalesOfAnFp8Cache) {
  TestPlan t = plan();
  t.kvCaches[0].dtype = P::DType::F8E4M3;
  auto retype = [](P::Operand &o) {
    if (o.kind() == P::OperandKind::KVCache)
      o = P::Operand(o.kind(), P::DType::F8E4M3, o.index(), o.offset(),
                     o.row_elems());
  };
  for (auto *program : {&t.prefill, &t.decode})
    for (auto &kernel : *program)
      for (runtime::test::OpSpec &op : kernel) {
        for (P::Operand &o : op.inputs)
          retype(o);
        for (P::Operand &o : op.outputs)
          retype(o);
      }
  for (auto *launches : {&t.prefillLaunches, &t.decodeLaunches})
    for (auto &kernel : *launches)
      for (runtime::test::LaunchSpec &l : kernel)
        for (P::Operand &o : l.args)
          retype(o);
  std::unique_ptr<CudaBackend> backend;
  Status s = create(t, backend);
  ASSERT_TRUE(s.ok()) << s.message();
  LLMCKvArg cache = backend->cache(0);
  // max_batch 2 x capacity 16 rows of 1 head x 4 codes; 2 x 16 scales.
  const auto *keys = static_cast<const uint8_t *>(cache.keys);
  const auto *values = static_cast<const uint8_t *>(cache.values);
  const auto *keyScales = reinterpret_cast<const uint8_t *>(cache.key_scales);
  const auto *valueScales =
      reinterpret_cast<const uint8_t *>(cache.value_scales);
  ASSERT_NE(cache.key_scales, nullptr);
  ASSERT_NE(cache.value_scales, nullptr);
  EXPECT_GE(values, keys + 2 * 16 * 4);
  EXPECT_GE(keyScales, values + 2 * 16 * 4);
  EXPECT_GE(valueScales, keyScales + 2 * 16 * sizeof(float));
  // Inside the allocation of KV pages, which starts with the keys.
  EXPECT_LE(uint64_t(uintptr_t(valueScales)) + 2 * 16 * sizeof(float),
            uint64_t(uintptr_t(keys)) + backend->kvBytes());
  EXPECT_EQ(uintptr_t(keyScales) % 256, 0u);
  backend.reset();
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, PtxWhenNoCubinFitsTheDevice) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan({"sm_80"}), backend);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(backend->code(), "compute_80");
  EXPECT_EQ(fake_.counts().ptxLoads, 2);
  EXPECT_EQ(fake_.counts().cubinLoads, 0);
  int32_t tokens[] = {1}, positions[] = {0}, slots[] = {0};
  ASSERT_TRUE(
      backend->run(*file_->plan()->prefill(), {1, tokens, positions, slots})
          .ok());
  LLMCFakeCudaLaunch launch = fake_.launch(0);
  EXPECT_STREQ(launch.target, "sm_80");
  EXPECT_EQ(launch.jit, 1);
}

TEST_F(CudaBackendTest, JitFailureShowsTheLog) {
  fake_.fail("cuModuleLoadDataEx", 1, CUDA_ERROR_INVALID_PTX);
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan({"sm_80"}), backend);
  EXPECT_EQ(s.code(), LLMC_ERROR_INTERNAL);
  EXPECT_EQ(s.message(), path_ + ": CUDA entry 1 \"head\" (compute_80 PTX): "
                                 "cuModuleLoadDataEx failed: "
                                 "CUDA_ERROR_INVALID_PTX (a PTX JIT "
                                 "compilation failed):\nptxas fatal: fake "
                                 "JIT failure");
  fake_.expectAllReleased();
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

TEST_F(CudaBackendTest, LaunchesPrefillWithItsParameters) {
  TestPlan t = plan();
  std::unique_ptr<CudaBackend> backend;
  Status s = create(t, backend);
  ASSERT_TRUE(s.ok()) << s.message();
  const P::Plan &p = *file_->plan();
  int32_t tokens[] = {5, 6, 7}, positions[] = {4, 5, 6}, slots[] = {1, 1, 1};
  s = backend->run(*p.prefill(), {3, tokens, positions, slots});
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<LLMCFakeCudaLaunch> launches = launchesFrom(0);
  ASSERT_EQ(launches.size(), 2u); // embed, then head's T >= 2 variant
  EXPECT_EQ(fake_.counts().captures, 0);
  EXPECT_EQ(fake_.counts().contextDepth, 0);

  const LLMCFakeCudaLaunch &embed = launches[0];
  EXPECT_STREQ(embed.symbol, "embed");
  EXPECT_STREQ(embed.target, "sm_90a");
  EXPECT_EQ(embed.jit, 0);
  EXPECT_EQ(embed.fromGraph, 0);
  // grid {2, 3}: axis 1 times ceil(3 / 16).
  EXPECT_EQ(embed.grid[0], 2u);
  EXPECT_EQ(embed.grid[1], 3u);
  EXPECT_EQ(embed.grid[2], 1u);
  EXPECT_EQ(embed.block[0], 128u);
  EXPECT_EQ(embed.block[1], 1u);
  EXPECT_EQ(embed.sharedBytes, 64u * 1024);
  ASSERT_EQ(embed.numParams, 15);
  EXPECT_EQ(embed.params[0], 3u); // T
  // Inputs: the step's tokens, positions and slots in device arrays.
  const int32_t *deviceTokens = hostView<int32_t>(embed.params[1]);
  const int32_t *devicePositions = hostView<int32_t>(embed.params[13]);
  const int32_t *deviceSlots = hostView<int32_t>(embed.params[14]);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(deviceTokens[i], tokens[i]);
    EXPECT_EQ(devicePositions[i], positions[i]);
    EXPECT_EQ(deviceSlots[i], slots[i]);
  }
  // The embedding table, its output row 0, the cache, scratch + 256.
  EXPECT_EQ(embed.params[2],
            backend->weights() + p.weights()->Get(0)->offset());
  const P::Operand &h0 = t.prefill[0][0].outputs[0];
  EXPECT_EQ(embed.params[3], backend->arena() + h0.offset());
  LLMCKvArg cache = backend->cache(0);
  EXPECT_EQ(embed.params[4], uint64_t(uintptr_t(cache.keys)));
  EXPECT_EQ(embed.params[5], uint64_t(uintptr_t(cache.values)));
  EXPECT_EQ(embed.params[6], 16u);
  // An f32 cache has no scales.
  EXPECT_EQ(embed.params[7], 0u);
  EXPECT_EQ(embed.params[8], 0u);
  // The page table (one page per sequence before format 1.9: page s of
  // sequence s), uploaded before the step.
  const int32_t *table = hostView<int32_t>(embed.params[9]);
  EXPECT_EQ(table[0], 0);
  EXPECT_EQ(table[1], 1);
  EXPECT_EQ(embed.params[10], 1u); // table_pages
  EXPECT_EQ(embed.params[11], 0u); // page_shift (unused before 1.9)
  EXPECT_EQ(embed.params[12], backend->scratch() + 256);

  const LLMCFakeCudaLaunch &head = launches[1];
  EXPECT_STREQ(head.symbol, "head");
  EXPECT_EQ(head.grid[0], 4u * 2); // ceil(3 / 2) blocks of tokens
  EXPECT_EQ(head.block[0], 64u);
  EXPECT_EQ(head.sharedBytes, 0u);
  ASSERT_EQ(head.numParams, 4);
  EXPECT_EQ(head.params[0], 3u);
  const runtime::test::OpSpec &lmHead = t.prefill[1].back();
  EXPECT_EQ(head.params[1], backend->arena() + lmHead.inputs[0].offset());
  EXPECT_EQ(head.params[2],
            backend->weights() + p.weights()->Get(12)->offset());
  EXPECT_EQ(head.params[3], backend->arena() + lmHead.outputs[0].offset());

  // One token: head's small variant.
  s = backend->run(*p.prefill(), {1, tokens, positions, slots});
  ASSERT_TRUE(s.ok()) << s.message();
  launches = launchesFrom(2);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].grid[1], 3u);
  EXPECT_EQ(launches[1].grid[0], 16u);
  EXPECT_EQ(launches[1].block[0], 32u);
  EXPECT_EQ(fake_.counts().captures, 0);
}

// StepInputs::logitsFrom: the LM head's kernel (alone in its kernel, as the
// compiler cuts a step) launches for the rows asked for only: their count
// as T, so the variant for that count, and its row pointers moved to the
// first of them; none when no row is asked for. Other kernels keep the
// step's T.
TEST_F(CudaBackendTest, TheLMHeadLaunchesForTheRowsAskedFor) {
  TestPlan t = plan();
  for (auto *program : {&t.prefill, &t.decode}) {
    runtime::test::OpSpec head = (*program)[1].back();
    (*program)[1].pop_back();
    program->push_back({head});
  }
  for (auto *launches : {&t.prefillLaunches, &t.decodeLaunches})
    *launches = {(*launches)[0], {}, (*launches)[1]};
  std::unique_ptr<CudaBackend> backend;
  Status s = create(t, backend);
  ASSERT_TRUE(s.ok()) << s.message();
  const P::Plan &p = *file_->plan();
  const runtime::test::OpSpec &lmHead = t.prefill[2][0];
  const uint64_t x = backend->arena() + lmHead.inputs[0].offset();
  const uint64_t y = backend->arena() + lmHead.outputs[0].offset();
  const uint64_t xRow = lmHead.inputs[0].row_elems() * 4;
  const uint64_t yRow = lmHead.outputs[0].row_elems() * 4;
  int32_t tokens[] = {5, 6, 7}, positions[] = {0, 1, 2}, slots[] = {0, 0, 0};

  // The last row: head's one-token variant at row 2.
  s = backend->run(*p.prefill(), {3, tokens, positions, slots, 2});
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<LLMCFakeCudaLaunch> launches = launchesFrom(0);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_STREQ(launches[0].symbol, "embed");
  EXPECT_EQ(launches[0].params[0], 3u);
  EXPECT_STREQ(launches[1].symbol, "head");
  EXPECT_EQ(launches[1].grid[0], 16u); // the T = 1 variant
  EXPECT_EQ(launches[1].params[0], 1u);
  EXPECT_EQ(launches[1].params[1], x + 2 * xRow);
  EXPECT_EQ(launches[1].params[3], y + 2 * yRow);

  // Two rows of three: the T >= 2 variant over rows 1 and 2.
  s = backend->run(*p.prefill(), {3, tokens, positions, slots, 1});
  ASSERT_TRUE(s.ok()) << s.message();
  launches = launchesFrom(2);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[1].grid[0], 4u); // ceil(2 / 2) blocks of tokens
  EXPECT_EQ(launches[1].params[0], 2u);
  EXPECT_EQ(launches[1].params[1], x + xRow);
  EXPECT_EQ(launches[1].params[3], y + yRow);

  // No row: no head. All rows: as before.
  s = backend->run(*p.prefill(), {3, tokens, positions, slots, 3});
  ASSERT_TRUE(s.ok()) << s.message();
  launches = launchesFrom(4);
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_STREQ(launches[0].symbol, "embed");
  s = backend->run(*p.prefill(), {3, tokens, positions, slots, 0});
  ASSERT_TRUE(s.ok()) << s.message();
  launches = launchesFrom(5);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[1].params[0], 3u);
  EXPECT_EQ(launches[1].params[1], x);
}

// Format 1.9's paged cache: no pages until the session asks; growing
// keeps what the pages hold at their new addresses, rewrites the launches'
// llmc_kv arguments and drops the decode graphs (they hold the old ones);
// the page table reaches the device before the next step.
TEST_F(CudaBackendTest, GrowingKvPagesMovesTheCachesAndRecapturesDecode) {
  TestPlan t = plan();
  t.kvPageTokens = 4;
  std::unique_ptr<CudaBackend> backend;
  Status s = create(t, backend);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(backend->kvBytes(), 0u);
  EXPECT_EQ(fake_.counts().deviceAllocations, 1);
  auto grow = [&](size_t group, int64_t pages) {
    return backend->growKvPages(group, pages);
  };
  // Sequence 1: positions 0..5 take 2 pages of 4.
  ASSERT_TRUE(kv_.reserve("test", 1, 6, grow).ok());
  ASSERT_EQ(kv_.groups().size(), 1u);
  EXPECT_EQ(kv_.groups()[0].pages, 2);
  LLMCKvArg before = backend->cache(0);
  EXPECT_EQ(before.capacity, 16);
  EXPECT_EQ(before.table_pages, 4);
  EXPECT_EQ(before.page_shift, 2);
  // Row 5 of sequence 1 (page table[1][1], row 1): a marker.
  const int32_t page = kv_.groups()[0].table[4 + 1];
  float *keys = static_cast<float *>(before.keys);
  keys[(size_t(page) * 4 + 1) * 4] = 42.0f;

  const P::Program &decode = *file_->plan()->decode();
  int32_t tokens[] = {3}, positions[] = {5}, slots[] = {1};
  ASSERT_TRUE(backend->run(decode, {1, tokens, positions, slots}).ok());
  EXPECT_EQ(backend->decodeGraphs(), 1u);
  // The table was uploaded: the launch's page table maps sequence 1.
  std::vector<LLMCFakeCudaLaunch> launches = launchesFrom(0);
  const int32_t *table = hostView<int32_t>(launches[0].params[9]);
  EXPECT_EQ(table[4 + 1], page);

  // Sequence 0 needs 3 more: the group doubles past them.
  ASSERT_TRUE(kv_.reserve("test", 0, 12, grow).ok());
  EXPECT_EQ(kv_.groups()[0].pages, 5);
  LLMCKvArg after = backend->cache(0);
  EXPECT_NE(after.keys, before.keys);
  EXPECT_EQ(static_cast<const float *>(after.keys)[(size_t(page) * 4 + 1) * 4],
            42.0f);
  EXPECT_EQ(backend->decodeGraphs(), 0u);
  EXPECT_EQ(fake_.counts().deviceAllocations, 2); // the old pages freed
  const int captures = fake_.counts().captures;
  ASSERT_TRUE(backend->run(decode, {1, tokens, positions, slots}).ok());
  EXPECT_EQ(fake_.counts().captures, captures + 1);
  launches = launchesFrom(0);
  EXPECT_EQ(launches.back().fromGraph, 1);
  const LLMCFakeCudaLaunch &embed = launches[launches.size() - 2];
  EXPECT_EQ(embed.params[4], uint64_t(uintptr_t(after.keys)));

  // More pages than the device holds: out of memory, the pages as they were.
  s = backend->growKvPages(0, int64_t(1) << 32);
  EXPECT_EQ(s.code(), LLMC_ERROR_OUT_OF_MEMORY) << s.message();
  EXPECT_TRUE(contains(s.message(), "cannot allocate 4294967296 KV pages of 4 "
                                    "tokens"))
      << s.message();
  EXPECT_EQ(backend->cache(0).keys, after.keys);
  EXPECT_EQ(static_cast<const float *>(after.keys)[(size_t(page) * 4 + 1) * 4],
            42.0f);
  backend.reset();
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, DecodeIsCapturedOncePerBatchSize) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  ASSERT_TRUE(s.ok()) << s.message();
  const P::Program &decode = *file_->plan()->decode();
  int32_t tokens[] = {3, 9}, positions[] = {7, 2}, slots[] = {0, 1};
  ASSERT_TRUE(backend->run(decode, {1, tokens, positions, slots}).ok());
  EXPECT_EQ(fake_.counts().captures, 1);
  EXPECT_EQ(fake_.counts().graphLaunches, 1);
  EXPECT_EQ(backend->decodeGraphs(), 1u);
  std::vector<LLMCFakeCudaLaunch> launches = launchesFrom(0);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].fromGraph, 1);
  EXPECT_EQ(launches[0].params[0], 1u);
  EXPECT_EQ(launches[1].grid[0], 16u); // the T = 1 variant
  const int32_t *deviceTokens = hostView<int32_t>(launches[0].params[1]);
  EXPECT_EQ(deviceTokens[0], 3);

  // The same T replays the graph, on this step's inputs.
  tokens[0] = 11;
  positions[0] = 8;
  ASSERT_TRUE(backend->run(decode, {1, tokens, positions, slots}).ok());
  EXPECT_EQ(fake_.counts().captures, 1);
  EXPECT_EQ(fake_.counts().graphLaunches, 2);
  EXPECT_EQ(deviceTokens[0], 11);
  EXPECT_EQ(hostView<int32_t>(launches[0].params[13])[0], 8);
  launches = launchesFrom(2);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].params[0], 1u);

  // Another T: another graph.
  ASSERT_TRUE(backend->run(decode, {2, tokens, positions, slots}).ok());
  EXPECT_EQ(fake_.counts().captures, 2);
  EXPECT_EQ(backend->decodeGraphs(), 2u);
  launches = launchesFrom(4);
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].params[0], 2u);
  EXPECT_EQ(launches[1].grid[0], 4u); // T >= 2 variant, ceil(2 / 2) blocks
  EXPECT_EQ(deviceTokens[1], 9);
  EXPECT_EQ(fake_.counts().graphExecs, 2);
  EXPECT_EQ(fake_.counts().graphs, 0); // destroyed once instantiated

  backend.reset();
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, GreedyStepsCaptureTheGreedyLaunchesAndCopyOnlyTokens) {
  // Greedy launches on the "head" entry's shape (the fake runs no code) and
  // tokens at scratch offset 1024.
  TestPlan t = plan();
  llmc::runtime::test::LaunchSpec greedy = t.decodeLaunches[1][0];
  greedy.minTokens = 1;
  greedy.maxTokens = 0; // every T
  t.prefillGreedy = t.decodeGreedy = {greedy};
  t.greedyTokens =
      P::Operand(P::OperandKind::Scratch, P::DType::I32, 0, 1024, 1);
  std::unique_ptr<CudaBackend> backend;
  Status s = create(t, backend);
  ASSERT_TRUE(s.ok()) << s.message();
  // What "the kernels" left in the scratch: the fake's memory is the host's.
  int32_t *scratchTokens =
      reinterpret_cast<int32_t *>(uintptr_t(backend->scratch() + 1024));
  scratchTokens[0] = 7;
  scratchTokens[1] = 5;
  const P::Program &decode = *file_->plan()->decode();
  int32_t tokens[] = {3, 9}, positions[] = {7, 2}, slots[] = {0, 1};
  int32_t out[2] = {-9, -9};
  s = backend->runGreedy(decode, {2, tokens, positions, slots}, 0, 2, out);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(out[0], 7);
  EXPECT_EQ(out[1], 5);
  // One graph: the program's 2 launches, then the greedy one.
  EXPECT_EQ(fake_.counts().captures, 1);
  EXPECT_EQ(backend->decodeGraphs(), 1u);
  std::vector<LLMCFakeCudaLaunch> launches = launchesFrom(0);
  ASSERT_EQ(launches.size(), 3u);
  EXPECT_EQ(launches[2].fromGraph, 1);
  // The same T without greedy tokens is another graph, without the launch.
  ASSERT_TRUE(backend->run(decode, {2, tokens, positions, slots}).ok());
  EXPECT_EQ(backend->decodeGraphs(), 2u);
  EXPECT_EQ(launchesFrom(3).size(), 2u);
  // A prefill step's last row only, launched directly.
  int32_t prompt[] = {1, 2, 3}, at[] = {0, 1, 2}, seq[] = {0, 0, 0};
  scratchTokens[2] = 11;
  int32_t last = -9;
  s = backend->runGreedy(*file_->plan()->prefill(), {3, prompt, at, seq}, 2,
                         1, &last);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(last, 11);
  EXPECT_EQ(launchesFrom(5).size(), 3u);
  EXPECT_EQ(launchesFrom(5)[2].fromGraph, 0);
  // Rows outside the step are our bug, reported as such.
  s = backend->runGreedy(decode, {1, tokens, positions, slots}, 0, 2, out);
  EXPECT_EQ(s.code(), LLMC_ERROR_INTERNAL) << s.message();
  backend.reset();
  fake_.expectAllReleased();
}

TEST_F(CudaBackendTest, FailedCaptureLeavesTheStreamUsable) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  ASSERT_TRUE(s.ok()) << s.message();
  const P::Program &decode = *file_->plan()->decode();
  int32_t tokens[] = {3}, positions[] = {0}, slots[] = {0};
  fake_.fail("cuLaunchKernel", 1, CUDA_ERROR_INVALID_VALUE);
  s = backend->run(decode, {1, tokens, positions, slots});
  EXPECT_EQ(s.code(), LLMC_ERROR_INTERNAL);
  EXPECT_TRUE(startsWith(s.message(), "cuLaunchKernel (grid 16x1x1, block 32, "
                                      "0 bytes of shared memory) failed: "
                                      "CUDA_ERROR_INVALID_VALUE"))
      << s.message();
  EXPECT_EQ(backend->decodeGraphs(), 0u);
  EXPECT_EQ(fake_.counts().graphs, 0);
  // The capture ended: the next step captures again and runs.
  s = backend->run(decode, {1, tokens, positions, slots});
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(fake_.counts().captures, 2);
  EXPECT_EQ(backend->decodeGraphs(), 1u);
}

TEST_F(CudaBackendTest, PrefillMustBeOneSequenceAtConsecutivePositions) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  ASSERT_TRUE(s.ok()) << s.message();
  const P::Program &prefill = *file_->plan()->prefill();
  int32_t tokens[] = {1, 2}, positions[] = {3, 5}, slots[] = {0, 0};
  s = backend->run(prefill, {2, tokens, positions, slots});
  EXPECT_EQ(s.code(), LLMC_ERROR_INTERNAL);
  EXPECT_EQ(s.message(), "internal error: prefill token 1 is not of the "
                         "first token's sequence at the next position");
  positions[1] = 4;
  slots[1] = 1;
  EXPECT_EQ(backend->run(prefill, {2, tokens, positions, slots}).code(),
            LLMC_ERROR_INTERNAL);
  slots[1] = 0;
  EXPECT_TRUE(backend->run(prefill, {2, tokens, positions, slots}).ok());
  EXPECT_EQ(fake_.counts().launches, 2);
}

TEST_F(CudaBackendTest, ReadsRowsBackAsFloats) {
  std::unique_ptr<CudaBackend> backend;
  Status s = create(plan(), backend);
  ASSERT_TRUE(s.ok()) << s.message();
  // Rows of 3 elements at arena offset 512, written behind the backend's
  // back (the fake's device memory is host memory).
  auto *arena = reinterpret_cast<uint8_t *>(uintptr_t(backend->arena()));
  const float values[] = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -5.5f};
  uint16_t bf16[6];
  for (int i = 0; i < 6; ++i)
    bf16[i] = cpu::floatToBf16(values[i]);
  std::memcpy(arena + 512, bf16, sizeof bf16);
  std::memcpy(arena + 1024, values, sizeof values);
  float out[3] = {};
  P::Operand half(P::OperandKind::Arena, P::DType::BF16, 0, 512, 3);
  ASSERT_TRUE(backend->readRows(half, 1, 1, out).ok());
  EXPECT_EQ(out[0], 3.0f);
  EXPECT_EQ(out[1], 4.0f);
  EXPECT_EQ(out[2], -5.5f);
  float all[6] = {};
  P::Operand full(P::OperandKind::Arena, P::DType::F32, 0, 1024, 3);
  ASSERT_TRUE(backend->readRows(full, 0, 2, all).ok());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(all[i], values[i]);
  EXPECT_EQ(fake_.counts().contextDepth, 0);
}

TEST_F(CudaBackendTest, SessionsThroughTheCApi) {
  TestPlan t = plan();
  t.write(path_);
  llmc_status status;
  PlanPtr opened = runtime::test::openPlan(path_, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  llmc_session_options options = llmc_session_options_default();
  options.backend = LLMC_BACKEND_CUDA;
  options.max_batch = 2;
  llmc_session *created = nullptr;
  ASSERT_EQ(llmc_session_create(opened.get(), &options, &created), LLMC_OK)
      << llmc_last_error();
  SessionPtr session(created);
  // The fake runs no kernel: the logits are the zeroed arena's.
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6};
  std::vector<float> logits(6 * 16, 1.0f), last(16, 1.0f);
  ASSERT_EQ(llmc_prefill(session.get(), 0, prompt.data(), 6, logits.data(),
                         last.data()),
            LLMC_OK)
      << llmc_last_error();
  for (float v : logits)
    EXPECT_EQ(v, 0.0f);
  // Two chunks of at most max_tokens 4: 4 + 2 tokens, two launches each.
  EXPECT_EQ(fake_.counts().launches, 4);
  int32_t seqs[] = {0, 1}, next[] = {7, 8};
  ASSERT_EQ(llmc_decode(session.get(), 2, seqs, next, logits.data()), LLMC_OK)
      << llmc_last_error();
  ASSERT_EQ(llmc_decode(session.get(), 2, seqs, next, logits.data()), LLMC_OK)
      << llmc_last_error();
  EXPECT_EQ(fake_.counts().captures, 1);
  EXPECT_EQ(fake_.counts().graphLaunches, 2);
  int32_t length = 0;
  ASSERT_EQ(llmc_sequence_length(session.get(), 0, &length), LLMC_OK);
  EXPECT_EQ(length, 8);
  session.reset();
  fake_.expectAllReleased();
}

} // namespace
} // namespace llmc::runtime::cuda::test
