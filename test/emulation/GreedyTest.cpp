//===- GreedyTest.cpp - llmc_*_greedy on the CPU and emulated CUDA --------===//
//
// A model (llm IR, through the real pipeline) whose logits are rows of its
// embedding table (vocab 2100 = hidden:
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
#include "test/support/TestModule.h"
#include "dialects/kernel/IR/KernelOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

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
/// (The one layer only fills its KV cache: plans hold one per layer.)
const char *const kGreedyModel = R"mlir(
module attributes {llm.model = #llm.model<family = "llmc_greedy", vocab_size = 2100, hidden_size = 2100, num_layers = 1, max_position_embeddings = 64, dtype = f32>} {
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) -> (tensor<?x2100xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>) attributes {llm.step = #llm.step<prefill>} {
  %e = llm.param "embed.weight" : tensor<2100x2100xf32>
  %x = llm.embedding %tokens, %e : tensor<2100x2100xf32> -> tensor<?x2100xf32> loc("embed")
  %ek = llm.param "kv.weight" : tensor<2100x8xf32>
  %k = llm.embedding %tokens, %ek : tensor<2100x8xf32> -> tensor<?x8xf32> loc("kv")
  %kh = llm.split_heads %k : tensor<?x8xf32> -> tensor<?x1x8xf32>
  %c1 = llm.kv_cache_write %kh, %kh into %c at %slots, %pos : tensor<?x1x8xf32>, tensor<?x1x8xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32> loc("cache")
  return %x, %c1 : tensor<?x2100xf32>, !llm.kv_cache<kv_heads = 1, head_dim = 8, dtype = f32>
}
}
)mlir";

std::vector<float> greedyTable(const llmc::plan_writer::WeightSpec &spec) {
  if (spec.name != "embed.weight")
    return std::vector<float>(size_t(kVocab * 8), 0.5f);
  std::vector<float> table(size_t(kVocab * kVocab), 0.0f);
  for (size_t id = 0; id < rows().size(); ++id) {
    float *row = table.data() + id * size_t(kVocab);
    std::fill(row, row + kVocab, rows()[id].base);
    for (auto [i, v] : rows()[id].values)
      row[i] = v;
  }
  return table;
}

class Greedy : public ::testing::TestWithParam<llmc_backend> {};

TEST_P(Greedy, PicksTheDocumentedTokenOrFailsOnNaN) {
  TempDir dir;
  auto lowered = llmc::test::lowerTestModule(kGreedyModel, 8, 64);
  ASSERT_TRUE(bool(lowered)) << llvm::toString(lowered.takeError());
  // Two slices of the vocabulary per row, then the final warp.
  auto decode = lowered->module->lookupSymbol<mlir::func::FuncOp>("decode");
  ASSERT_TRUE(decode);
  std::vector<llmc::kernel::CallOp> greedy;
  decode.walk([&](llmc::kernel::GreedyOp g) {
    g.walk([&](llmc::kernel::CallOp c) { greedy.push_back(c); });
  });
  ASSERT_EQ(greedy.size(), 2u);
  EXPECT_EQ(greedy[0].getGrid()[0], 2);
  llmc::test::TestWeights weights(greedyTable);
  std::string path = dir.file("greedy.plan");
  auto program = writeEmulatedPlan(*lowered->module, weights, 64, path,
                                   dir.file("kernels"));
  ASSERT_TRUE(bool(program)) << llvm::toString(program.takeError());

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
