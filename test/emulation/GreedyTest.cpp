//===- GreedyTest.cpp - llmc_*_greedy on the CPU and emulated CUDA --------===//
//
// A plan whose logits are rows of its embedding table (vocab 2100 = hidden:
// the argmax kernel's two vocabulary slices, the second partial), so that
// each token id selects logits written here: ties inside one slice and
// across slices, -0 against +0, all -inf, +inf twice, the maximum in the
// last element, a NaN. Both backends must pick exactly the documented
// token, through the public C API; a NaN row fails the call and leaves the
// sequence as it was.
//
//===----------------------------------------------------------------------===//

#include "llmc/llmc.h"
#include "test/emulation/EmulatedPlan.h"
#include "test/unit/runtime/ApiHelpers.h"
#include "test/unit/runtime/TestPlan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

namespace {

namespace P = llmc::plan;
using namespace llmc::runtime::test;

constexpr int64_t kVocab = 2100;
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Row {
  const char *what;
  std::vector<std::pair<int64_t, float>> values; // over a base of -1
  float base;
  int32_t expected; // -1: the call fails (NaN)
};

const std::vector<Row> &rows() {
  static const std::vector<Row> r = {
      {"all equal", {}, 1.0f, 0},
      {"tie across slices", {{1500, 3.0f}, {2099, 3.0f}, {2000, 3.0f}}, -1.0f,
       1500},
      {"tie inside a slice", {{700, 2.0f}, {9, 2.0f}, {1999, 1.5f}}, -1.0f, 9},
      {"-0 equals +0", {{5, -0.0f}, {3, 0.0f}}, -1.0f, 3},
      {"all -inf", {}, -kInf, 0},
      {"+inf twice", {{2050, kInf}, {1025, kInf}}, 0.5f, 1025},
      {"maximum last", {{2099, 7.0f}, {0, 6.5f}}, -3.0f, 2099},
      {"NaN", {{1200, std::nanf("")}, {4, 9.0f}}, 0.0f, -1},
  };
  return r;
}

/// Token t's embedding row is rows()[t]; the logits are that row.
TestPlan greedyPlan() {
  TestPlan t;
  t.vocab = kVocab;
  t.hidden = kVocab;
  t.maxTokens = 8;
  std::vector<float> table(size_t(kVocab * kVocab), 0.0f);
  for (size_t id = 0; id < rows().size(); ++id) {
    float *row = table.data() + id * size_t(kVocab);
    std::fill(row, row + kVocab, rows()[id].base);
    for (auto [i, v] : rows()[id].values)
      row[i] = v;
  }
  P::Operand embed = t.weight("embed", {kVocab, kVocab}, std::move(table));
  P::Operand logits = t.arena(uint64_t(kVocab));
  t.setOps({embeddingOp(kVocab, kVocab, 1.0, embed, logits)}, logits);
  return t;
}

class Greedy : public ::testing::TestWithParam<llmc_backend> {};

TEST_P(Greedy, PicksTheDocumentedTokenOrFailsOnNaN) {
  TempDir dir;
  TestPlan t = greedyPlan();
  auto program = addEmulatedCode(t, dir.file("kernels"));
  ASSERT_TRUE(bool(program)) << llvm::toString(program.takeError());
  // Two slices of the vocabulary per row, then the final warp.
  ASSERT_EQ(program->decodeGreedy.size(), 2u);
  EXPECT_EQ(program->decodeGreedy[0].grid[0], 2u);
  std::string path = t.write(dir.file("greedy.plan"));

  llmc_status status;
  PlanPtr plan = openPlan(path, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  llmc_session_options options = llmc_session_options_default();
  options.backend = GetParam();
  options.max_batch = 8;
  llmc_session *created = nullptr;
  ASSERT_EQ(llmc_session_create(plan.get(), &options, &created), LLMC_OK)
      << llmc_last_error();
  SessionPtr session(created);

  // Prefill: the greedy token of the prompt's last token only.
  const int32_t nanId = int32_t(rows().size() - 1);
  int32_t prompt[3] = {nanId, 6, 1};
  int32_t next = -7;
  ASSERT_EQ(llmc_prefill_greedy(session.get(), 0, prompt, 3, &next), LLMC_OK)
      << llmc_last_error();
  EXPECT_EQ(next, 1500);

  // Decode: every row once, sequence i fed token i.
  std::vector<int32_t> seqs, tokens, out(rows().size() - 1, -7);
  for (int32_t i = 0; i < nanId; ++i) {
    seqs.push_back(i);
    tokens.push_back(i);
  }
  ASSERT_EQ(llmc_decode_greedy(session.get(), nanId, seqs.data(),
                               tokens.data(), out.data()),
            LLMC_OK)
      << llmc_last_error();
  for (int32_t i = 0; i < nanId; ++i)
    EXPECT_EQ(out[size_t(i)], rows()[size_t(i)].expected)
        << rows()[size_t(i)].what;

  // A NaN row: the call fails naming the sequence; no sequence advances.
  int32_t lengths[2];
  int32_t pair[2] = {1, 0}, pairTokens[2] = {2, nanId}, pairOut[2];
  ASSERT_EQ(llmc_sequence_length(session.get(), 0, &lengths[0]), LLMC_OK);
  ASSERT_EQ(llmc_sequence_length(session.get(), 1, &lengths[1]), LLMC_OK);
  EXPECT_EQ(llmc_decode_greedy(session.get(), 2, pair, pairTokens, pairOut),
            LLMC_ERROR_INTERNAL);
  EXPECT_STREQ(llmc_last_error(),
               "llmc_decode_greedy: the logits of sequence 0 hold a NaN; no "
               "token was appended");
  int32_t after[2];
  ASSERT_EQ(llmc_sequence_length(session.get(), 0, &after[0]), LLMC_OK);
  ASSERT_EQ(llmc_sequence_length(session.get(), 1, &after[1]), LLMC_OK);
  EXPECT_EQ(after[0], lengths[0]);
  EXPECT_EQ(after[1], lengths[1]);
  EXPECT_EQ(llmc_prefill_greedy(session.get(), 2, &prompt[0], 1, &next),
            LLMC_ERROR_INTERNAL);
  ASSERT_EQ(llmc_sequence_length(session.get(), 2, &after[0]), LLMC_OK);
  EXPECT_EQ(after[0], 1); // decoded above; the failed prefill added none

  // The greedy calls' own arguments.
  EXPECT_EQ(llmc_decode_greedy(session.get(), 1, pair, pairTokens, nullptr),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmc_last_error(), "llmc_decode_greedy: out_next_tokens is NULL");
  EXPECT_EQ(llmc_prefill_greedy(session.get(), 0, prompt, 1, nullptr),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_prefill_greedy(nullptr, 0, prompt, 1, &next),
            LLMC_ERROR_INVALID_ARGUMENT);
}

INSTANTIATE_TEST_SUITE_P(Backends, Greedy,
                         ::testing::Values(LLMC_BACKEND_CPU, LLMC_BACKEND_CUDA),
                         [](const auto &info) {
                           return std::string(info.param == LLMC_BACKEND_CPU
                                                  ? "cpu"
                                                  : "cuda_emulated");
                         });

} // namespace
