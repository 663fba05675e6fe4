//===- PlanCodeTest.cpp - the verifier on format 1.1's code section -------===//
//
// A plan with generated CUDA code (Plan.cuda and Kernel.launches, built by
// addFakeCudaCode) opens; each inconsistency is rejected with a message that
// names the file, the kernel, launch or entry, and what is wrong.
//
//===----------------------------------------------------------------------===//

#include "ApiHelpers.h"
#include "TestPlan.h"

#include "runtime/src/PlanFile.h"

#include <gtest/gtest.h>

namespace llmc::runtime::test {
namespace {

class PlanCodeTest : public ::testing::Test {
protected:
  static TestPlan validPlan() {
    TestPlan t = tinyLlama(4);
    addFakeCudaCode(t, {"sm_90a", "sm_80"});
    return t;
  }

  /// Opens `t`; expects LLMC_ERROR_INVALID_PLAN with a message that starts
  /// with the path and contains `fragment`.
  void expectRejected(const TestPlan &t, const std::string &fragment) {
    t.write(path_);
    std::unique_ptr<PlanFile> file;
    Status s = PlanFile::open(path_, file);
    EXPECT_EQ(s.code(), LLMC_ERROR_INVALID_PLAN) << s.message();
    EXPECT_EQ(s.message().rfind(path_ + ": ", 0), 0u) << s.message();
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
    EXPECT_EQ(file, nullptr);
  }

  /// Greedy launches for both programs (the head entry's shape; the
  /// verifier checks launches, not what their code computes) and `tokens`.
  static void addGreedy(TestPlan &t, const P::Operand &tokens) {
    t.prefillGreedy = {t.prefillLaunches[1][0]};
    t.decodeGreedy = {t.decodeLaunches[1][0]};
    t.greedyTokens = tokens;
  }

  TempDir dir_;
  std::string path_ = dir_.file("model.plan");
};

TEST_F(PlanCodeTest, GreedyLaunchesOpen) {
  TestPlan t = validPlan();
  addGreedy(t, P::Operand(P::OperandKind::Scratch, P::DType::I32, 0, 4080, 1));
  t.write(path_);
  std::unique_ptr<PlanFile> file;
  Status s = PlanFile::open(path_, file);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_NE(file->plan()->decode()->greedy(), nullptr);
  EXPECT_EQ(file->plan()->decode()->greedy()->size(), 1u);
  EXPECT_EQ(file->plan()->prefill()->greedy_tokens()->offset(), 4080u);
}

TEST_F(PlanCodeTest, OpensAPlanWithCudaCode) {
  validPlan().write(path_);
  std::unique_ptr<PlanFile> file;
  Status s = PlanFile::open(path_, file);
  ASSERT_TRUE(s.ok()) << s.message();
  const P::Plan &plan = *file->plan();
  EXPECT_EQ(plan.version()->minor(), kFormatMinor);
  ASSERT_NE(plan.cuda(), nullptr);
  EXPECT_EQ(plan.cuda()->targets()->size(), 2u);
  EXPECT_EQ(plan.cuda()->entries()->size(), 2u);
  EXPECT_EQ(plan.cuda()->scratch_bytes(), 4096u);
  EXPECT_EQ(plan.prefill()->kernels()->Get(1)->launches()->size(), 2u);
  EXPECT_TRUE(file->requireTarget("cpu").ok());
  EXPECT_TRUE(file->requireTarget("sm_90a").ok());
  // The CPU backend ignores the code section.
  llmc_status status;
  PlanPtr opened = openPlan(path_, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  SessionPtr session = createSession(opened.get(), 1, 1, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  int32_t tokens[] = {1, 2, 3};
  std::vector<float> logits(16);
  EXPECT_EQ(llmc_prefill(session.get(), 0, tokens, 3, nullptr, logits.data()),
            LLMC_OK)
      << llmc_last_error();
}

TEST_F(PlanCodeTest, LaunchesWithoutCodeOrMissingLaunchesAreFine) {
  // A kernel without launches is allowed (nothing of it runs on the GPU),
  // so is a code section no launch uses.
  TestPlan t = validPlan();
  t.prefillLaunches.clear();
  t.decodeLaunches.clear();
  t.write(path_);
  std::unique_ptr<PlanFile> file;
  Status s = PlanFile::open(path_, file);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST_F(PlanCodeTest, InconsistentCodeIsRejected) {
  struct Case {
    const char *name;
    std::function<void(TestPlan &)> damage;
    const char *fragment;
  };
  std::vector<Case> cases = {
      {"entry", [](TestPlan &t) { t.prefillLaunches[0][0].entry = 2; },
       "prefill kernel 0 \"kernel0\" launch 0: entry 2 is out of range (the "
       "plan has 2 CUDA entries)"},
      {"no grid", [](TestPlan &t) { t.prefillLaunches[0][0].grid = {}; },
       "launch 0: grid has 0 dimensions, expected 1 to 3"},
      {"4-d grid",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].grid = {1, 1, 1, 1};
       },
       "grid has 4 dimensions, expected 1 to 3"},
      {"zero grid",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].grid = {2, 0};
       },
       "launch 0: grid[1] is 0"},
      {"zero block", [](TestPlan &t) { t.prefillLaunches[1][0].block = 0; },
       "prefill kernel 1 \"kernel1\" launch 0: block 0 is not in [1, 1024]"},
      {"large block", [](TestPlan &t) { t.decodeLaunches[1][1].block = 1025; },
       "decode kernel 1 \"kernel1\" launch 1: block 1025 is not in [1, "
       "1024]"},
      {"token axis", [](TestPlan &t) { t.prefillLaunches[0][0].tokenAxis = 3; },
       "token_axis 3 is not 0, 1 or 2"},
      {"token range",
       [](TestPlan &t) {
         t.prefillLaunches[1][0].minTokens = 3;
         t.prefillLaunches[1][0].maxTokens = 2;
       },
       "prefill kernel 1 \"kernel1\" launch 0: min_tokens 3 exceeds "
       "max_tokens 2"},
      {"uncovered T", [](TestPlan &t) { t.decodeLaunches[1][1].minTokens = 3; },
       "decode kernel 1 \"kernel1\": no launch runs for steps of 2 tokens "
       "(max_tokens 4)"},
      {"uncovered large T",
       [](TestPlan &t) { t.prefillLaunches[1][1].maxTokens = 3; },
       "prefill kernel 1 \"kernel1\": no launch runs for steps of 4 tokens"},
      {"arena bounds",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[2] = P::Operand(
             P::OperandKind::Arena, P::DType::F32, 0, t.arenaBytes - 4, 8);
       },
       "arg 2 (arena offset"},
      {"arena alignment",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[2] =
             P::Operand(P::OperandKind::Arena, P::DType::F32, 0, 2, 8);
       },
       "arg 2 arena offset 2 is not a multiple of its element size"},
      {"arena rows",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[2] =
             P::Operand(P::OperandKind::Arena, P::DType::F32, 0, 0, 0);
       },
       "arg 2 has no elements per token"},
      {"weight index",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[1] =
             P::Operand(P::OperandKind::Weight, P::DType::F32, 99, 0, 0);
       },
       "arg 1: weight index 99 is out of range (the plan has 13 weights)"},
      {"weight dtype",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[1] =
             P::Operand(P::OperandKind::Weight, P::DType::BF16, 0, 0, 0);
       },
       "arg 1: weight 0 \"model.embed_tokens.weight\" is f32 but the operand "
       "says bf16"},
      {"cache index",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[3] =
             P::Operand(P::OperandKind::KVCache, P::DType::F32, 1, 0, 0);
       },
       "arg 3: KV cache 1 is out of range (the plan has 1)"},
      {"input index",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[0] = TestPlan::input(3);
       },
       "arg 0 is step input 3; there are 3 (tokens, positions, slots)"},
      {"input dtype",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[0] =
             P::Operand(P::OperandKind::Input, P::DType::F32, 0, 0, 1);
       },
       "arg 0 must be one i32 per token"},
      {"scratch bounds",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[4] =
             P::Operand(P::OperandKind::Scratch, P::DType::F32, 0, 4096, 0);
       },
       "arg 4 (scratch offset 4096) is outside the scratch of 4096 bytes"},
      {"operand kind",
       [](TestPlan &t) {
         t.prefillLaunches[0][0].args[4] =
             P::Operand(P::OperandKind(9), P::DType::F32, 0, 0, 0);
       },
       "arg 4 has unknown operand kind 9"},
      {"scratch in an op",
       [](TestPlan &t) {
         t.prefill[0][1].inputs[0] =
             P::Operand(P::OperandKind::Scratch, P::DType::F32, 0, 0, 8);
       },
       "x is a scratch operand, expected an arena operand"},
      {"launches without code", [](TestPlan &t) { t.cuda.reset(); },
       "prefill kernel 0 \"kernel0\": has launches, but the plan has no CUDA "
       "code"},
      {"no cuda targets", [](TestPlan &t) { t.cuda->targets.clear(); },
       "cuda.targets is empty"},
      {"unlisted target",
       [](TestPlan &t) {
         t.targets = {"cpu", "sm_90a"};
       },
       "CUDA target \"sm_80\" is not one of the plan's targets"},
      {"missing binary",
       [](TestPlan &t) { t.cuda->entries[1].binaries.pop_back(); },
       "CUDA entry 1 \"head\": no code for target sm_80"},
      {"empty cubin",
       [](TestPlan &t) { t.cuda->entries[0].binaries[0].cubin.clear(); },
       "CUDA entry 0 \"embed\": sm_90a code has no cubin"},
      {"empty ptx",
       [](TestPlan &t) { t.cuda->entries[0].binaries[1].ptx.clear(); },
       "CUDA entry 0 \"embed\": sm_80 code has no PTX"},
      {"ptx without NUL",
       [](TestPlan &t) { t.cuda->entries[0].binaries[1].ptx.pop_back(); },
       "sm_80 code has PTX that is not NUL-terminated"},
      {"no symbol",
       [](TestPlan &t) { t.cuda->entries[1].binaries[0].symbol.clear(); },
       "CUDA entry 1 \"head\": sm_90a code has no symbol"},
      {"greedy without tokens",
       [](TestPlan &t) { t.decodeGreedy = {t.decodeLaunches[1][0]}; },
       "decode program greedy sampling: has launches but no greedy_tokens "
       "operand"},
      {"greedy tokens without launches",
       [](TestPlan &t) {
         t.greedyTokens =
             P::Operand(P::OperandKind::Scratch, P::DType::I32, 0, 0, 1);
       },
       "prefill program greedy sampling: has a greedy_tokens operand but no "
       "launches"},
      {"greedy launch entry",
       [](TestPlan &t) {
         addGreedy(t, P::Operand(P::OperandKind::Scratch, P::DType::I32, 0,
                                 0, 1));
         t.decodeGreedy[0].entry = 5;
       },
       "decode program greedy launch 0: entry 5 is out of range"},
      {"greedy tokens in the arena",
       [](TestPlan &t) {
         addGreedy(t,
                   P::Operand(P::OperandKind::Arena, P::DType::I32, 0, 0, 1));
       },
       "prefill program greedy sampling: greedy_tokens must be a scratch "
       "operand of one i32 per token"},
      {"greedy tokens as floats",
       [](TestPlan &t) {
         addGreedy(t, P::Operand(P::OperandKind::Scratch, P::DType::F32, 0,
                                 0, 1));
       },
       "greedy_tokens must be a scratch operand of one i32 per token"},
      {"greedy tokens outside the scratch",
       [](TestPlan &t) {
         addGreedy(t, P::Operand(P::OperandKind::Scratch, P::DType::I32, 0,
                                 4088, 1));
       },
       "greedy_tokens (scratch offset 4088, 4 tokens) is misaligned or "
       "outside the scratch of 4096 bytes"},
      {"greedy tokens misaligned",
       [](TestPlan &t) {
         addGreedy(t, P::Operand(P::OperandKind::Scratch, P::DType::I32, 0, 2,
                                 1));
       },
       "greedy_tokens (scratch offset 2, 4 tokens) is misaligned"},
  };
  for (Case &c : cases) {
    SCOPED_TRACE(c.name);
    TestPlan t = validPlan();
    c.damage(t);
    expectRejected(t, c.fragment);
  }
}

} // namespace
} // namespace llmc::runtime::test
