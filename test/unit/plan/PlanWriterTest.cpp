//===- PlanWriterTest.cpp - the weight section and code written together --===//

#include "compiler/plan/PlanWriter.h"
#include "compiler/plan/WeightStream.h"
#include "compiler/support/OutputFile.h"
#include "dialects/kernel/IR/KernelOps.h"
#include "runtime/schema/PlanFormat.h"
#include "test/support/TestModule.h"

#include "llmc/llmc.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/xxhash.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>

namespace {

namespace pw = llmc::plan_writer;
namespace pl = llmc::plan;

/// Byte i of weight `name` is a function of both, so a chunk filled from
/// the wrong offset shows.
uint8_t byteAt(const std::string &name, uint64_t i) {
  return uint8_t(llvm::xxh3_64bits(llvm::arrayRefFromStringRef(name)) + i * 7 +
                 (i >> 13));
}

class PatternWeights : public pw::WeightSource {
public:
  llvm::Error check(const pw::WeightSpec &) override {
    return llvm::Error::success();
  }
  llvm::Error fill(const pw::WeightSpec &spec, uint64_t offset,
                   llvm::MutableArrayRef<uint8_t> out) override {
    uint64_t &next = nextOffset[spec.name];
    if (offset != next)
      return llvm::createStringError("\"" + spec.name + "\" filled at " +
                                     std::to_string(offset) + ", expected " +
                                     std::to_string(next));
    next = offset + out.size();
    if (failAt && spec.name == failName && offset + out.size() > *failAt)
      return llvm::createStringError("disk on fire reading " + spec.name);
    if (onFill)
      onFill();
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = byteAt(spec.name, offset + i);
    return llvm::Error::success();
  }
  std::map<std::string, uint64_t> nextOffset;
  std::string failName;
  std::optional<uint64_t> failAt;
  std::function<void()> onFill;
};

/// The directories tempPath made, removed when the tests end.
struct TempDirs {
  std::vector<std::string> dirs;
  ~TempDirs() {
    for (const std::string &d : dirs)
      llvm::sys::fs::remove_directories(d);
  }
} tempDirs;

std::string tempPath(const std::string &name) {
  llvm::SmallString<256> dir;
  EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-plan-writer", dir));
  tempDirs.dirs.push_back(std::string(dir));
  return std::string(dir) + "/" + name;
}

std::vector<pw::WeightSpec> specsOf(std::vector<int64_t> counts) {
  std::vector<pw::WeightSpec> specs;
  for (size_t i = 0; i < counts.size(); ++i)
    specs.push_back({"w" + std::to_string(i), {counts[i]}, pl::DType::F32});
  return specs;
}

TEST(WeightStream, EveryByteAtItsOffsetAcrossChunks) {
  // Around and across the 8 MiB chunk boundaries, with odd sizes between.
  const uint64_t chunkFloats = pw::kStreamChunkBytes / 4;
  auto specs = specsOf({5, int64_t(3 * chunkFloats / 2), 7,
                        int64_t(chunkFloats + 3), 1, 64});
  pw::WeightLayout layout = pw::layoutWeights(specs);
  ASSERT_EQ(layout.offsets.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i)
    EXPECT_EQ(layout.offsets[i] % 256, 0u);
  EXPECT_EQ(layout.size % 256, 0u);
  EXPECT_GT(layout.size, 2 * pw::kStreamChunkBytes);

  std::string path = tempPath("section.bin");
  auto file = llmc::support::OutputFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  PatternWeights source;
  std::vector<uint64_t> progress;
  pw::StreamHooks hooks;
  hooks.progress = [&](uint64_t done) { progress.push_back(done); };
  const uint64_t base = 4096;
  auto sums = pw::streamWeights(source, specs, layout, **file, base, hooks);
  ASSERT_TRUE(bool(sums)) << llvm::toString(sums.takeError());
  ASSERT_FALSE((*file)->commit());

  auto buffer = llvm::MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(buffer));
  llvm::StringRef bytes = (*buffer)->getBuffer();
  ASSERT_EQ(bytes.size(), base + layout.size);
  std::vector<bool> covered(layout.size, false);
  for (size_t w = 0; w < specs.size(); ++w) {
    const uint64_t at = layout.offsets[w], n = specs[w].bytes();
    std::vector<uint8_t> expected(n);
    for (uint64_t i = 0; i < n; ++i) {
      expected[i] = byteAt(specs[w].name, i);
      covered[at + i] = true;
    }
    ASSERT_EQ(std::memcmp(bytes.data() + base + at, expected.data(), n), 0)
        << specs[w].name;
    EXPECT_EQ((*sums)[w], llmc::runtime::checksum(expected.data(), n))
        << specs[w].name;
    EXPECT_EQ(source.nextOffset[specs[w].name], n) << "filled completely";
  }
  for (uint64_t i = 0; i < layout.size; ++i)
    if (!covered[i])
      ASSERT_EQ(bytes[base + i], 0) << "padding at " << i;
  // Progress after every chunk, ending at the whole section.
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), layout.size);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
}

TEST(WeightStream, AFillErrorStopsTheStream) {
  auto specs = specsOf({int64_t(pw::kStreamChunkBytes), 16, 16});
  pw::WeightLayout layout = pw::layoutWeights(specs);
  std::string path = tempPath("section.bin");
  auto file = llmc::support::OutputFile::open(path);
  ASSERT_TRUE(bool(file));
  PatternWeights source;
  source.failName = "w0";
  source.failAt = 2 * pw::kStreamChunkBytes; // in its second chunk
  auto sums = pw::streamWeights(source, specs, layout, **file, 0, {});
  ASSERT_FALSE(bool(sums));
  EXPECT_EQ(llvm::toString(sums.takeError()), "disk on fire reading w0");
  EXPECT_EQ(source.nextOffset.count("w2"), 0u) << "nothing after the error";
  file->reset(); // not committed: nothing at the path
  EXPECT_FALSE(llvm::sys::fs::exists(path));
}

TEST(WeightStream, CancelStopsBetweenChunks) {
  auto specs = specsOf({int64_t(pw::kStreamChunkBytes)}); // 4 chunks
  pw::WeightLayout layout = pw::layoutWeights(specs);
  auto file = llmc::support::OutputFile::open(tempPath("section.bin"));
  ASSERT_TRUE(bool(file));
  std::atomic<bool> cancel{false};
  PatternWeights source;
  source.onFill = [&] { cancel = true; }; // after the first chunk's fill
  pw::StreamHooks hooks;
  hooks.cancel = &cancel;
  auto sums = pw::streamWeights(source, specs, layout, **file, 0, hooks);
  ASSERT_FALSE(bool(sums));
  EXPECT_EQ(llvm::toString(sums.takeError()), "stopped");
  EXPECT_LT(source.nextOffset["w0"], specs[0].bytes());
}

/// The all-ops test model, lowered, with deterministic weights.
struct TestPlanInputs {
  llmc::test::TestModule lowered;
  pw::PlanOptions options;
};

TestPlanInputs inputs() {
  TestPlanInputs in;
  auto lowered =
      llmc::test::lowerTestModule(llmc::test::allOpsSource("f32"), 8, 32);
  if (!lowered) {
    ADD_FAILURE() << llvm::toString(lowered.takeError());
    return in;
  }
  in.lowered = std::move(*lowered);
  in.options.targets = {"cpu", "sm_90a"};
  in.options.maxSeqLen = 32;
  return in;
}

/// Code for `module`'s entries (names from kernel.call ops), with binaries
/// of `cubinBytes` each: not runnable, but the header holds them.
pw::PendingCode fakeCode(mlir::ModuleOp module, size_t cubinBytes,
                         std::string failWith = "") {
  pw::PendingCode pending;
  pending.code.targets = {"sm_90a"};
  pending.code.nvrtcVersion = "test";
  std::set<std::string> names;
  module.walk([&](llmc::kernel::CallOp call) {
    names.insert(call.getEntry().str());
  });
  for (const std::string &name : names) {
    pw::CodeEntry &e = pending.code.entries.emplace_back();
    e.name = name;
    e.source = "// " + name;
  }
  size_t count = names.size();
  pending.compile = [count, cubinBytes, failWith]()
      -> llvm::Expected<std::vector<std::vector<pw::CodeBinary>>> {
    if (!failWith.empty())
      return llvm::createStringError(failWith);
    std::vector<std::vector<pw::CodeBinary>> out(count);
    for (size_t i = 0; i < count; ++i) {
      pw::CodeBinary b;
      b.target = "sm_90a";
      b.cubin.assign(cubinBytes, uint8_t(i));
      b.ptx = "ptx";
      b.symbol = "k" + std::to_string(i);
      out[i].push_back(std::move(b));
    }
    return out;
  };
  return pending;
}

/// The plan opens (every checksum verified) and its weight section.
std::string weightSection(const std::string &path, uint64_t *offset) {
  llmc_plan *plan = nullptr;
  EXPECT_EQ(llmc_plan_open(path.c_str(), &plan), LLMC_OK) << llmc_last_error();
  llmc_plan_close(plan);
  auto buffer = llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(buffer));
  const auto *p = pl::GetSizePrefixedPlan((*buffer)->getBufferStart());
  *offset = p->weights_offset();
  return (*buffer)->getBuffer().substr(p->weights_offset()).str();
}

TEST(PendingCode, CodeCompiledBesideTheWeightsLandsInThePlan) {
  TestPlanInputs in = inputs();
  llmc::test::TestWeights weights(llmc::test::testValues);
  // The same plan with the code known first, as the reference.
  pw::PendingCode reference = fakeCode(*in.lowered.module, 1000);
  auto binaries = reference.compile();
  ASSERT_TRUE(bool(binaries));
  for (size_t i = 0; i < binaries->size(); ++i)
    reference.code.entries[i].binaries = (*binaries)[i];
  std::string knownPath = tempPath("known.plan");
  ASSERT_FALSE(pw::writePlan(*in.lowered.module, weights, in.options,
                             knownPath, &reference.code));
  uint64_t knownOffset;
  std::string known = weightSection(knownPath, &knownOffset);

  // Room for the code: the weights stay where they were first written,
  // after zeros.
  in.options.codeReserveBytes = uint64_t(1) << 20;
  std::string roomyPath = tempPath("roomy.plan");
  ASSERT_FALSE(pw::writePlan(*in.lowered.module, weights, in.options,
                             roomyPath, fakeCode(*in.lowered.module, 1000)));
  uint64_t roomyOffset;
  EXPECT_EQ(weightSection(roomyPath, &roomyOffset), known);
  EXPECT_GE(roomyOffset, uint64_t(1) << 20);
  EXPECT_GT(roomyOffset, knownOffset);

  // No room, and code larger than the header guessed: the weights are
  // written again after it, and the plan is as whole.
  in.options.codeReserveBytes = 0;
  std::string movedPath = tempPath("moved.plan");
  ASSERT_FALSE(pw::writePlan(*in.lowered.module, weights, in.options,
                             movedPath, fakeCode(*in.lowered.module, 1000)));
  uint64_t movedOffset;
  EXPECT_EQ(weightSection(movedPath, &movedOffset), known);
  // Where the code known first puts them: the same plan, byte for byte.
  EXPECT_EQ(movedOffset, knownOffset);
  auto a = llvm::MemoryBuffer::getFile(knownPath);
  auto b = llvm::MemoryBuffer::getFile(movedPath);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE((*a)->getBuffer() == (*b)->getBuffer());
}

TEST(PendingCode, ACompileErrorStopsTheWeightsAndLeavesNoFile) {
  TestPlanInputs in = inputs();
  llmc::test::TestWeights weights(llmc::test::testValues);
  in.options.codeReserveBytes = 0;
  std::string path = tempPath("failed.plan");
  llvm::Error e =
      pw::writePlan(*in.lowered.module, weights, in.options, path,
                    fakeCode(*in.lowered.module, 10, "NVRTC said no"));
  ASSERT_TRUE(bool(e));
  EXPECT_EQ(llvm::toString(std::move(e)), "NVRTC said no");
  EXPECT_FALSE(llvm::sys::fs::exists(path));
}

} // namespace
