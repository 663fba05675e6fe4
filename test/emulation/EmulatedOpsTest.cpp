//===- EmulatedOpsTest.cpp - every generated kernel against the CPU -------===//
//
// test/codegen/all-ops.mlir (every op kind and variant) compiled by the
// real pipeline (kernel-lower, kernel-select, the CUDA emitter, the plan
// writer), run step by step by the CPU backend and by the CUDA backend on
// the emulating fake driver (README.md); after every step each op's output
// must agree. Prefill steps of 20 tokens (GEMM, flash attention with a
// chunk, a window and a softcap) and 5 tokens (GEMV) into two sequences,
// then decode steps of both (split-KV attention, CUDA graphs).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/PlanFile.h"
#include "runtime/src/Sampler.h"
#include "runtime/src/cpu/CpuBackend.h"
#include "runtime/src/cuda/CudaBackend.h"
#include "test/emulation/EmulatedPlan.h"
#include "test/support/TestModule.h"
#include "test/unit/runtime/TestPlan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>

namespace {

namespace P = llmc::plan;
using namespace llmc::runtime;
using namespace llmc::runtime::test;

/// The arena outputs of `program` whose bytes hold them at the end of the
/// step (no later kernel writes the same offset) and that a later kernel
/// reads (or the logits): what both backends must agree on. A value
/// private to its kernel (one launch) is left out, since the generated
/// kernels may never write it: the fused routed and shared experts of
/// decode do not write the routed sum alone.
std::vector<P::Operand> outputs(const P::Program &program) {
  const auto &kernels = *program.kernels();
  auto touchedAfter = [&](unsigned k, const P::Operand *o, bool asInput) {
    for (unsigned j = k + 1; j < kernels.size(); ++j)
      for (const P::Op *op : *kernels[j]->ops()) {
        const auto *list = asInput ? op->inputs() : op->outputs();
        if (list)
          for (const P::Operand *x : *list)
            if (x->kind() == P::OperandKind::Arena &&
                x->offset() == o->offset())
              return true;
      }
    return false;
  };
  std::vector<P::Operand> out;
  for (unsigned k = 0; k < kernels.size(); ++k)
    for (const P::Op *op : *kernels[k]->ops())
      if (op->outputs())
        for (const P::Operand *o : *op->outputs()) {
          bool seen = false;
          for (const P::Operand &p : out)
            seen |= p.offset() == o->offset();
          if (o->kind() == P::OperandKind::Arena && !seen &&
              !touchedAfter(k, o, false) &&
              (o->offset() == program.logits()->offset() ||
               touchedAfter(k, o, true)))
            out.push_back(*o);
        }
  return out;
}

class EmulatedOps : public ::testing::TestWithParam<P::DType> {};

TEST_P(EmulatedOps, EveryOpMatchesTheCpuBackend) {
  const P::DType dtype = GetParam();
  TempDir dir;
  const char *type = dtype == P::DType::F32 ? "f32" : "f16";
  auto lowered = llmc::test::lowerTestModule(llmc::test::allOpsSource(type),
                                             32, 64);
  ASSERT_TRUE(bool(lowered)) << llvm::toString(lowered.takeError());
  llmc::test::TestWeights weights(llmc::test::testValues);
  std::string path = dir.file("all.plan");
  auto program = writeEmulatedPlan(*lowered->module, weights, 64, path,
                                   dir.file("kernels"));
  ASSERT_TRUE(bool(program)) << llvm::toString(program.takeError());

  std::unique_ptr<PlanFile> plan;
  Status s = PlanFile::open(path, plan);
  ASSERT_TRUE(s.ok()) << s.message();
  SessionShape shape{2, 64};
  KvPages kv;
  s = KvPages::create(*plan, shape, 0, kv);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<cpu::CpuBackend> cpuBackend;
  s = cpu::CpuBackend::create(*plan, shape, kv, 1, cpuBackend);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<cuda::CudaBackend> cudaBackend;
  s = cuda::CudaBackend::create(*plan, shape, kv, 0, cudaBackend);
  ASSERT_TRUE(s.ok()) << s.message();
  // Both backends hold pages for every position of both sequences, in the
  // order a session would take them (sequence 1's pages after 0's).
  for (int32_t seq = 0; seq < 2; ++seq) {
    s = kv.reserve("test", seq, shape.maxSeqLen,
                   [&](size_t group, int64_t pages) -> Status {
                     LLMC_RETURN_IF_ERROR(cpuBackend->growKvPages(group, pages));
                     return cudaBackend->growKvPages(group, pages);
                   });
    ASSERT_TRUE(s.ok()) << s.message();
  }

  const double tolerance = dtype == P::DType::F32 ? 1e-4 : 2e-2;
  auto step = [&](const P::Program &prog, std::vector<int32_t> tokens,
                  std::vector<int32_t> positions, std::vector<int32_t> slots,
                  const std::string &what) {
    // Each step with greedy sampling of every row, as llmc_*_greedy run it:
    // on the CUDA side the generated argmax kernels, in the decode graph.
    const size_t T = tokens.size();
    StepInputs in{int64_t(T), tokens.data(), positions.data(), slots.data()};
    std::vector<int32_t> cpuTokens(T), cudaTokens(T);
    Status a = cpuBackend->runGreedy(prog, in, 0, int64_t(T), cpuTokens.data());
    Status b =
        cudaBackend->runGreedy(prog, in, 0, int64_t(T), cudaTokens.data());
    ASSERT_TRUE(a.ok()) << a.message();
    ASSERT_TRUE(b.ok()) << what << ": " << b.message();
    for (const P::Operand &o : outputs(prog)) {
      size_t n = tokens.size() * size_t(o.row_elems());
      std::vector<float> x(n), y(n);
      ASSERT_TRUE(cpuBackend->readRows(o, 0, int64_t(tokens.size()), x.data()).ok());
      ASSERT_TRUE(cudaBackend->readRows(o, 0, int64_t(tokens.size()), y.data()).ok());
      double scale = 0, worst = 0;
      size_t at = 0;
      for (size_t i = 0; i < n; ++i) {
        scale = std::max(scale, double(std::fabs(x[i])));
        double d = std::fabs(double(x[i]) - double(y[i]));
        if (!(d <= worst)) { // NaN counts as the worst
          worst = d;
          at = i;
        }
      }
      EXPECT_LE(worst, tolerance * std::max(scale, 1e-3))
          << what << ": arena offset " << o.offset() << " (" << o.row_elems()
          << " per token): cpu " << x[at] << " vs cuda " << y[at]
          << " at element " << at;
    }
    // Greedy sampling: the host's argmax of the CPU logits against the
    // generated argmax kernels on the CUDA logits; where the two differ the
    // CUDA logits must really tie within the tolerance.
    const int64_t vocab = int64_t(prog.logits()->row_elems());
    std::vector<float> logits(T * size_t(vocab));
    ASSERT_TRUE(cudaBackend->readRows(*prog.logits(), 0, int64_t(T), logits.data()).ok());
    for (size_t r = 0; r < T; ++r) {
      const float *row = logits.data() + r * size_t(vocab);
      // Exactly the host rule on the CUDA backend's own logits.
      EXPECT_EQ(cudaTokens[r], greedyToken(row, vocab)) << what << ", row " << r;
      if (cpuTokens[r] != cudaTokens[r]) {
        EXPECT_NEAR(row[cpuTokens[r]], row[cudaTokens[r]], tolerance * 4)
            << what << ", row " << r;
      }
    }
  };
  const P::Program &prefill = *plan->plan()->prefill();
  const P::Program &decode = *plan->plan()->decode();
  std::vector<int32_t> prompt(20), positions(20);
  for (int i = 0; i < 20; ++i) {
    prompt[size_t(i)] = (i * 37 + 11) % 80;
    positions[size_t(i)] = i;
  }
  step(prefill, prompt, positions, std::vector<int32_t>(20, 0),
       "prefill 20 tokens");
  step(prefill, {3, 1, 4, 1, 5}, {0, 1, 2, 3, 4}, {1, 1, 1, 1, 1},
       "prefill 5 tokens");
  for (int i = 0; i < 3; ++i)
    step(decode, {int32_t(7 + i), int32_t(9 + i)}, {20 + i, 5 + i}, {0, 1},
         "decode step " + std::to_string(i));
  EXPECT_EQ(cudaBackend->decodeGraphs(), 1u);
}

INSTANTIATE_TEST_SUITE_P(DTypes, EmulatedOps,
                         ::testing::Values(P::DType::F32, P::DType::F16),
                         [](const auto &info) {
                           return std::string(P::EnumNameDType(info.param));
                         });

} // namespace
