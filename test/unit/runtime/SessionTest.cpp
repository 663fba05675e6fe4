//===- SessionTest.cpp - the whole model through the C API ----------------===//
//
// tinyLlama against a double-precision forward pass, and the invariants of
// sessions: chunked prefill, prefill + decode and batched decode give the
// same logits; capacity and argument errors leave every sequence as it was.
//
//===----------------------------------------------------------------------===//

#include "ApiHelpers.h"
#include "Reference.h"
#include "TestPlan.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <unistd.h>

namespace llmc::runtime::test {
namespace {

using M = TinyLlama;

/// The logits of every position of `tokens`, in double.
std::vector<std::vector<double>>
referenceLogits(const TestPlan &t, const std::vector<int32_t> &tokens) {
  auto w = [&](const std::string &name) { return findWeight(t, name).values; };
  auto d = [](const std::vector<float> &v) {
    return std::vector<double>(v.begin(), v.end());
  };
  const std::string l = "model.layers.0.";
  std::vector<float> embed = w("model.embed_tokens.weight"),
                     wq = w(l + "self_attn.q_proj.weight"),
                     bq = w(l + "self_attn.q_proj.bias"),
                     wk = w(l + "self_attn.k_proj.weight"),
                     wv = w(l + "self_attn.v_proj.weight"),
                     wo = w(l + "self_attn.o_proj.weight"),
                     wg = w(l + "mlp.gate_proj.weight"),
                     wu = w(l + "mlp.up_proj.weight"),
                     wd = w(l + "mlp.down_proj.weight"),
                     lm = w("lm_head.weight");
  std::vector<double> inNorm = d(w(l + "input_layernorm.weight")),
                      postNorm = d(w(l + "post_attention_layernorm.weight")),
                      finalNorm = d(w("model.norm.weight"));
  std::vector<float> invFreq = ropeInvFreq(M::kHeadDim, M::kRopeBase);
  const size_t h = M::kHidden, hd = M::kHeadDim, qDim = M::kHeads * hd,
               ff = M::kIntermediate;
  // Matrix-vector product in double.
  auto mv = [](const std::vector<float> &m, const std::vector<double> &x,
               size_t out) {
    std::vector<double> y(out, 0.0);
    for (size_t n = 0; n < out; ++n)
      for (size_t k = 0; k < x.size(); ++k)
        y[n] += double(m[n * x.size() + k]) * x[k];
    return y;
  };
  std::vector<std::vector<double>> keys, values, logits;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    std::vector<double> h0(embed.begin() + ptrdiff_t(size_t(tokens[pos]) * h),
                           embed.begin() +
                               ptrdiff_t(size_t(tokens[pos] + 1) * h));
    std::vector<double> x = rmsNorm(h0, inNorm, h, M::kEps);
    std::vector<double> q = mv(wq, x, qDim), k = mv(wk, x, hd),
                        v = mv(wv, x, hd);
    for (size_t i = 0; i < qDim; ++i)
      q[i] += bq[i];
    q = rope(q, M::kHeads, hd, hd, false, 1.0, invFreq, int32_t(pos));
    k = rope(k, 1, hd, hd, false, 1.0, invFreq, int32_t(pos));
    keys.push_back(k);
    values.push_back(v);
    std::vector<double> attn;
    for (size_t head = 0; head < size_t(M::kHeads); ++head) {
      std::vector<double> o = attend(q.data() + head * hd, keys, values, 0, pos,
                                     1 / std::sqrt(double(hd)), 0);
      attn.insert(attn.end(), o.begin(), o.end());
    }
    std::vector<double> s = mv(wo, attn, h);
    for (size_t i = 0; i < h; ++i)
      s[i] += h0[i];
    std::vector<double> n = rmsNorm(s, postNorm, h, M::kEps);
    std::vector<double> g = mv(wg, n, ff), u = mv(wu, n, ff), m(ff);
    for (size_t i = 0; i < ff; ++i)
      m[i] = silu(g[i]) * u[i];
    std::vector<double> down = mv(wd, m, h);
    for (size_t i = 0; i < h; ++i)
      down[i] += s[i];
    logits.push_back(mv(lm, rmsNorm(down, finalNorm, h, M::kEps), M::kVocab));
  }
  return logits;
}

const std::vector<int32_t> kPrompt = {1, 5, 9, 2, 15, 0, 7, 7, 3, 11};

class SessionTest : public ::testing::Test {
protected:
  /// Writes tinyLlama(maxTokens) and opens it.
  PlanPtr open(int64_t maxTokens, int64_t maxSeqLen = 64) {
    TestPlan t = tinyLlama(maxTokens, maxSeqLen);
    std::string path =
        t.write(dir_.file("tiny" + std::to_string(maxTokens) + "-" +
                          std::to_string(maxSeqLen) + ".plan"));
    llmc_status status;
    PlanPtr plan = openPlan(path, &status);
    EXPECT_EQ(status, LLMC_OK) << llmc_last_error();
    return plan;
  }
  SessionPtr session(const PlanPtr &plan, int32_t maxBatch = 1,
                     int32_t threads = 2) {
    llmc_status status;
    SessionPtr s = createSession(plan.get(), maxBatch, threads, &status);
    EXPECT_EQ(status, LLMC_OK) << llmc_last_error();
    return s;
  }
  int32_t length(const SessionPtr &s, int32_t seq) {
    int32_t n = -1;
    EXPECT_EQ(llmc_sequence_length(s.get(), seq, &n), LLMC_OK);
    return n;
  }

  TempDir dir_;
};

void expectSame(const std::vector<float> &a, const std::vector<float> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], 1e-5 * std::fabs(b[i]) + 1e-7) << "element " << i;
}

TEST_F(SessionTest, PrefillMatchesDoublePrecisionReference) {
  PlanPtr plan = open(16);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan);
  ASSERT_TRUE(s);
  std::vector<float> all(kPrompt.size() * M::kVocab), last(M::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), int32_t(kPrompt.size()),
                         all.data(), last.data()),
            LLMC_OK)
      << llmc_last_error();
  EXPECT_EQ(length(s, 0), int32_t(kPrompt.size()));
  std::vector<std::vector<double>> want =
      referenceLogits(tinyLlama(16), kPrompt);
  for (size_t t = 0; t < kPrompt.size(); ++t)
    for (size_t i = 0; i < size_t(M::kVocab); ++i)
      EXPECT_NEAR(all[t * M::kVocab + i], want[t][i],
                  1e-4 * std::fabs(want[t][i]) + 1e-5)
          << "token " << t << " logit " << i;
  std::vector<float> tail(all.end() - M::kVocab, all.end());
  EXPECT_EQ(last, tail);
}

TEST_F(SessionTest, ChunkedPrefillEqualsOneCall) {
  PlanPtr whole = open(16), chunked = open(3);
  ASSERT_TRUE(whole && chunked);
  SessionPtr a = session(whole), b = session(chunked, 1, 1);
  std::vector<float> la(kPrompt.size() * M::kVocab), lb(la.size());
  ASSERT_EQ(llmc_prefill(a.get(), 0, kPrompt.data(), int32_t(kPrompt.size()),
                         la.data(), nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_prefill(b.get(), 0, kPrompt.data(), int32_t(kPrompt.size()),
                         lb.data(), nullptr),
            LLMC_OK)
      << llmc_last_error();
  expectSame(lb, la);
  // Two calls on the chunked plan continue the same sequence.
  SessionPtr c = session(chunked);
  std::vector<float> lc(la.size());
  ASSERT_EQ(llmc_prefill(c.get(), 0, kPrompt.data(), 4, lc.data(), nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_prefill(c.get(), 0, kPrompt.data() + 4,
                         int32_t(kPrompt.size()) - 4, lc.data() + 4 * M::kVocab,
                         nullptr),
            LLMC_OK);
  expectSame(lc, la);
}

TEST_F(SessionTest, DecodeStepsEqualPrefill) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  SessionPtr a = session(plan), b = session(plan);
  std::vector<float> all(kPrompt.size() * M::kVocab);
  ASSERT_EQ(llmc_prefill(a.get(), 0, kPrompt.data(), int32_t(kPrompt.size()),
                         all.data(), nullptr),
            LLMC_OK);
  std::vector<float> steps(all.size());
  ASSERT_EQ(llmc_prefill(b.get(), 0, kPrompt.data(), 1, nullptr, steps.data()),
            LLMC_OK);
  int32_t seq = 0;
  for (size_t i = 1; i < kPrompt.size(); ++i)
    ASSERT_EQ(llmc_decode(b.get(), 1, &seq, &kPrompt[i],
                          steps.data() + i * M::kVocab),
              LLMC_OK)
        << llmc_last_error();
  EXPECT_EQ(length(b, 0), int32_t(kPrompt.size()));
  expectSame(steps, all);
}

TEST_F(SessionTest, BatchedDecodeEqualsSingleDecodes) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  std::vector<int32_t> promptA = {3, 1, 4, 1, 5}, promptB = {9, 2, 6};
  SessionPtr batched = session(plan, 2);
  ASSERT_TRUE(batched);
  ASSERT_EQ(llmc_prefill(batched.get(), 0, promptA.data(), 5, nullptr, nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_prefill(batched.get(), 1, promptB.data(), 3, nullptr, nullptr),
            LLMC_OK);
  // Sequences listed out of slot order.
  int32_t seqs[2] = {1, 0}, tokens[2] = {8, 13};
  std::vector<float> both(2 * M::kVocab);
  ASSERT_EQ(llmc_decode(batched.get(), 2, seqs, tokens, both.data()), LLMC_OK)
      << llmc_last_error();
  EXPECT_EQ(length(batched, 0), 6);
  EXPECT_EQ(length(batched, 1), 4);

  SessionPtr a = session(plan), b = session(plan);
  std::vector<float> la(M::kVocab), lb(M::kVocab);
  int32_t zero = 0;
  ASSERT_EQ(llmc_prefill(a.get(), 0, promptA.data(), 5, nullptr, nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_decode(a.get(), 1, &zero, &tokens[1], la.data()), LLMC_OK);
  ASSERT_EQ(llmc_prefill(b.get(), 0, promptB.data(), 3, nullptr, nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_decode(b.get(), 1, &zero, &tokens[0], lb.data()), LLMC_OK);
  expectSame(std::vector<float>(both.begin(), both.begin() + M::kVocab), lb);
  expectSame(std::vector<float>(both.begin() + M::kVocab, both.end()), la);
}

TEST_F(SessionTest, ResetForgetsTheSequence) {
  PlanPtr plan = open(8);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan);
  std::vector<float> first(M::kVocab), again(M::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 6, nullptr, first.data()),
            LLMC_OK);
  ASSERT_EQ(llmc_reset(s.get(), 0), LLMC_OK);
  EXPECT_EQ(length(s, 0), 0);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 6, nullptr, again.data()),
            LLMC_OK);
  EXPECT_EQ(first, again);
}

// The paged KV cache (format 1.9): sequences of different lengths take
// pages of 4 tokens as they grow, interleaved, from memory that grows on
// demand; their logits are those of the same sequences alone in a plan
// with one page per sequence. llmc_reset gives the pages back for reuse,
// and kv_cache_tokens caps the pages: a call past it fails with
// LLMC_ERROR_CAPACITY and leaves the sequence as it was.
TEST_F(SessionTest, PagedSequencesOfDifferentLengths) {
  TestPlan paged = tinyLlama(4);
  paged.kvPageTokens = 4;
  llmc_status status;
  PlanPtr plan = openPlan(paged.write(dir_.file("paged.plan")), &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  PlanPtr legacy = open(4);
  ASSERT_TRUE(legacy);
  llmc_plan_info info;
  ASSERT_EQ(llmc_plan_get_info(plan.get(), &info), LLMC_OK);
  // One layer, one KV head of 4 f32: 32 bytes a token, 64 positions.
  EXPECT_EQ(info.kv_bytes_per_sequence, 64u * 32);

  SessionPtr s = session(plan, 3);
  ASSERT_TRUE(s);
  uint64_t bytes = 1;
  ASSERT_EQ(llmc_session_kv_bytes(s.get(), &bytes), LLMC_OK);
  EXPECT_EQ(bytes, 0u); // nothing until a sequence needs it
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 5, 9, 2, 15, 0, 7, 7, 3, 11},
      {4, 4, 8, 1, 2, 3, 6, 10, 12, 13, 14, 0, 1, 9, 5, 2, 7},
      {3, 8, 6}};
  std::vector<std::vector<float>> got(3), want(3);
  // Sequence 1's prompt in two calls around the others'.
  ASSERT_EQ(llmc_prefill(s.get(), 1, prompts[1].data(), 6, nullptr, nullptr),
            LLMC_OK);
  for (int32_t seq : {0, 2}) {
    got[size_t(seq)].resize(M::kVocab);
    ASSERT_EQ(llmc_prefill(s.get(), seq, prompts[size_t(seq)].data(),
                           int32_t(prompts[size_t(seq)].size()), nullptr,
                           got[size_t(seq)].data()),
              LLMC_OK)
        << llmc_last_error();
  }
  got[1].resize(M::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 1, prompts[1].data() + 6,
                         int32_t(prompts[1].size()) - 6, nullptr,
                         got[1].data()),
            LLMC_OK);
  // Decode steps of all three, out of slot order, crossing page ends.
  int32_t seqs[3] = {2, 0, 1};
  std::vector<int32_t> steps[3] = {{7, 1, 0, 12, 3}, {9, 9, 2, 4, 6},
                                   {5, 3, 8, 11, 1}};
  std::vector<float> logits(3 * M::kVocab);
  for (size_t i = 0; i < 5; ++i) {
    int32_t tokens[3] = {steps[0][i], steps[1][i], steps[2][i]};
    ASSERT_EQ(llmc_decode(s.get(), 3, seqs, tokens, logits.data()), LLMC_OK)
        << llmc_last_error();
    for (size_t b = 0; b < 3; ++b)
      got[size_t(seqs[b])].insert(
          got[size_t(seqs[b])].end(), logits.begin() + ptrdiff_t(b * M::kVocab),
          logits.begin() + ptrdiff_t((b + 1) * M::kVocab));
  }
  // 15, 22 and 8 tokens: 4 + 6 + 2 pages of 4 tokens held, in memory
  // grown by doubling.
  ASSERT_EQ(llmc_session_kv_bytes(s.get(), &bytes), LLMC_OK);
  EXPECT_GE(bytes, 12u * 4 * 32);
  EXPECT_LE(bytes, 32u * 4 * 32);
  for (size_t b = 0; b < 3; ++b) {
    const int32_t seq = seqs[b];
    SessionPtr alone = session(legacy);
    std::vector<float> out(M::kVocab);
    const auto &prompt = prompts[size_t(seq)];
    ASSERT_EQ(llmc_prefill(alone.get(), 0, prompt.data(),
                           int32_t(prompt.size()), nullptr, out.data()),
              LLMC_OK);
    want[size_t(seq)] = out;
    int32_t zero = 0;
    for (int32_t token : steps[b]) {
      ASSERT_EQ(llmc_decode(alone.get(), 1, &zero, &token, out.data()),
                LLMC_OK);
      want[size_t(seq)].insert(want[size_t(seq)].end(), out.begin(),
                               out.end());
    }
    expectSame(got[size_t(seq)], want[size_t(seq)]);
  }

  // Reset pages come back: a new prompt in sequence 0 grows no memory.
  ASSERT_EQ(llmc_reset(s.get(), 0), LLMC_OK);
  uint64_t before = 0, after = 0;
  ASSERT_EQ(llmc_session_kv_bytes(s.get(), &before), LLMC_OK);
  std::vector<float> again(M::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, prompts[0].data(),
                         int32_t(prompts[0].size()), nullptr, again.data()),
            LLMC_OK);
  ASSERT_EQ(llmc_session_kv_bytes(s.get(), &after), LLMC_OK);
  EXPECT_EQ(after, before);
  expectSame(again, std::vector<float>(want[0].begin(),
                                       want[0].begin() + M::kVocab));

  // A cap of 12 tokens: 3 pages for all sequences together.
  llmc_session_options options = llmc_session_options_default();
  options.max_batch = 2;
  options.num_threads = 1;
  options.kv_cache_tokens = 12;
  llmc_session *raw = nullptr;
  ASSERT_EQ(llmc_session_create(plan.get(), &options, &raw), LLMC_OK)
      << llmc_last_error();
  SessionPtr capped(raw);
  ASSERT_EQ(llmc_prefill(capped.get(), 0, prompts[0].data(), 8, nullptr,
                         nullptr),
            LLMC_OK);
  EXPECT_EQ(llmc_prefill(capped.get(), 1, prompts[1].data(), 5, nullptr,
                         nullptr),
            LLMC_ERROR_CAPACITY);
  EXPECT_NE(std::string(llmc_last_error())
                .find("llmc_prefill: the KV cache is full: sequence 1 needs "
                      "2 pages of 4 tokens and the session's 3 pages"),
            std::string::npos)
      << llmc_last_error();
  EXPECT_EQ(length(capped, 1), 0);
  // Sequence 1's one page went back: 4 tokens still fit, then sequence 0
  // cannot grow past its 2 pages.
  ASSERT_EQ(llmc_prefill(capped.get(), 1, prompts[1].data(), 4, nullptr,
                         nullptr),
            LLMC_OK);
  int32_t zero = 0, token = 1;
  EXPECT_EQ(llmc_decode(capped.get(), 1, &zero, &token, nullptr),
            LLMC_ERROR_CAPACITY);
  EXPECT_EQ(length(capped, 0), 8);
  ASSERT_EQ(llmc_reset(capped.get(), 1), LLMC_OK);
  EXPECT_EQ(llmc_decode(capped.get(), 1, &zero, &token, nullptr), LLMC_OK);
  EXPECT_EQ(length(capped, 0), 9);

  options.kv_cache_tokens = -1;
  raw = nullptr;
  EXPECT_EQ(llmc_session_create(plan.get(), &options, &raw),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(raw, nullptr);
}

// A shared prefix: prefilled once, copied to other sequences, which then go
// on as if they had been prefilled with it (paged and one-page-per-sequence
// plans); truncation keeps a prefix the same way; their mistakes change
// nothing.
TEST_F(SessionTest, SequencesCopyAndTruncatePrefixes) {
  const std::vector<int32_t> system = {1, 5, 9, 2, 15, 0, 7, 7, 3, 11};
  const std::vector<int32_t> user = {4, 8, 12, 6};
  for (int64_t page : {0, 4}) {
    SCOPED_TRACE("kv_page_tokens " + std::to_string(page));
    TestPlan t = tinyLlama(4);
    t.kvPageTokens = page;
    llmc_status status;
    PlanPtr plan = openPlan(
        t.write(dir_.file("prefix" + std::to_string(page) + ".plan")), &status);
    ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
    // What sequences of 7 system tokens then the user's should give.
    std::vector<int32_t> whole(system.begin(), system.begin() + 7);
    whole.insert(whole.end(), user.begin(), user.end());
    SessionPtr ref = session(plan);
    std::vector<float> want(M::kVocab), got(M::kVocab);
    ASSERT_EQ(llmc_prefill(ref.get(), 0, whole.data(), int32_t(whole.size()),
                           nullptr, want.data()),
              LLMC_OK);

    SessionPtr s = session(plan, 3);
    ASSERT_EQ(llmc_prefill(s.get(), 0, system.data(), 10, nullptr, nullptr),
              LLMC_OK);
    ASSERT_EQ(llmc_prefill(s.get(), 2, user.data(), 4, nullptr, nullptr),
              LLMC_OK); // replaced by the copy
    for (int32_t dst : {1, 2}) {
      ASSERT_EQ(llmc_sequence_copy(s.get(), dst, 0, 7), LLMC_OK)
          << llmc_last_error();
      EXPECT_EQ(length(s, dst), 7);
      ASSERT_EQ(llmc_prefill(s.get(), dst, user.data(), 4, nullptr, got.data()),
                LLMC_OK);
      expectSame(got, want);
    }
    EXPECT_EQ(length(s, 0), 10);
    ASSERT_EQ(llmc_sequence_truncate(s.get(), 0, 7), LLMC_OK);
    ASSERT_EQ(llmc_prefill(s.get(), 0, user.data(), 4, nullptr, got.data()),
              LLMC_OK);
    expectSame(got, want);

    EXPECT_EQ(llmc_sequence_truncate(s.get(), 0, 12), LLMC_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(llmc_sequence_truncate(s.get(), 3, 0), LLMC_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(llmc_sequence_copy(s.get(), 1, 1, 2), LLMC_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(llmc_sequence_copy(s.get(), 1, 0, 12), LLMC_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(length(s, 0), 11);
    EXPECT_EQ(length(s, 1), 11);
  }

  // A sliding window of 3 (a ring of 3 + 4 - 1 = 6 positions): going back
  // to 7 of 10 tokens needs position 5, still held; to 4 of 10, position 2,
  // overwritten.
  TestPlan w = tinyLlama(4, 64, 3);
  llmc_status status;
  PlanPtr windowed = openPlan(w.write(dir_.file("window.plan")), &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  SessionPtr s = session(windowed, 2);
  ASSERT_EQ(llmc_prefill(s.get(), 0, system.data(), 10, nullptr, nullptr),
            LLMC_OK);
  EXPECT_EQ(llmc_sequence_copy(s.get(), 1, 0, 4), LLMC_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(llmc_last_error())
                .find("llmc_sequence_copy: sequence 0 holds 10 tokens, and its "
                      "sliding-window layers keep only the last 6 of them"),
            std::string::npos)
      << llmc_last_error();
  EXPECT_EQ(llmc_sequence_truncate(s.get(), 0, 4), LLMC_ERROR_UNSUPPORTED);
  EXPECT_EQ(length(s, 0), 10);
  std::vector<int32_t> whole(system.begin(), system.begin() + 7);
  whole.insert(whole.end(), user.begin(), user.end());
  SessionPtr ref = session(windowed);
  std::vector<float> want(M::kVocab), got(M::kVocab);
  ASSERT_EQ(llmc_prefill(ref.get(), 0, whole.data(), int32_t(whole.size()),
                         nullptr, want.data()),
            LLMC_OK);
  ASSERT_EQ(llmc_sequence_copy(s.get(), 1, 0, 7), LLMC_OK) << llmc_last_error();
  ASSERT_EQ(llmc_prefill(s.get(), 1, user.data(), 4, nullptr, got.data()),
            LLMC_OK);
  expectSame(got, want);
  ASSERT_EQ(llmc_sequence_truncate(s.get(), 0, 7), LLMC_OK);
  ASSERT_EQ(llmc_prefill(s.get(), 0, user.data(), 4, nullptr, got.data()),
            LLMC_OK);
  expectSame(got, want);
}

// The abort callback: checked before each prefill chunk (max_tokens 4: 10
// tokens are chunks of 4, 4, 2) and before a decode step. An aborted
// prefill keeps the chunks that ran and can go on from them.
TEST_F(SessionTest, AnAbortCallbackStopsBetweenChunks) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  SessionPtr whole = session(plan), s = session(plan);
  std::vector<float> want(M::kVocab), got(M::kVocab);
  ASSERT_EQ(llmc_prefill(whole.get(), 0, kPrompt.data(), 10, nullptr,
                         want.data()),
            LLMC_OK);
  struct Counter {
    int calls = 0, stopAt = 0;
  } counter;
  auto stop = [](void *data) -> int32_t {
    auto *c = static_cast<Counter *>(data);
    return ++c->calls == c->stopAt ? 1 : 0;
  };
  counter.stopAt = 2; // before the second chunk
  ASSERT_EQ(llmc_session_set_abort(s.get(), stop, &counter), LLMC_OK);
  got.assign(got.size(), -1.0f);
  EXPECT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 10, nullptr, got.data()),
            LLMC_ERROR_ABORTED);
  EXPECT_STREQ(llmc_last_error(),
               "llmc_prefill: aborted by the abort callback after 4 of 10 "
               "tokens; sequence 0 holds 4 tokens; the tokens after them have "
               "no logits");
  EXPECT_EQ(got[0], -1.0f);
  EXPECT_EQ(length(s, 0), 4);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data() + 4, 6, nullptr,
                         got.data()),
            LLMC_OK);
  expectSame(got, want);
  // Before a decode step: nothing changes.
  counter.calls = 0;
  counter.stopAt = 1;
  int32_t seq = 0, token = 3;
  EXPECT_EQ(llmc_decode(s.get(), 1, &seq, &token, nullptr), LLMC_ERROR_ABORTED);
  EXPECT_EQ(length(s, 0), 10);
  EXPECT_STREQ(llmc_status_string(LLMC_ERROR_ABORTED), "aborted");
  // Cleared: no more calls.
  ASSERT_EQ(llmc_session_set_abort(s.get(), nullptr, nullptr), LLMC_OK);
  EXPECT_EQ(llmc_decode(s.get(), 1, &seq, &token, nullptr), LLMC_OK);
  EXPECT_EQ(counter.calls, 1);
}

// llmc_session_get_stats counts what succeeded; its struct carries its size,
// so that a caller built against a newer header (a larger struct) keeps its
// later fields untouched, and one too small is refused.
TEST_F(SessionTest, StatsCountTokensAndCarryTheirSize) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan, 2);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 10, nullptr, nullptr),
            LLMC_OK);
  int32_t seqs[2] = {0, 1}, tokens[2] = {3, 4}, bad = 99;
  // Failed calls are not counted.
  EXPECT_EQ(llmc_decode(s.get(), 1, seqs, &bad, nullptr),
            LLMC_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(llmc_prefill(s.get(), 1, kPrompt.data(), 2, nullptr, nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_decode(s.get(), 2, seqs, tokens, nullptr), LLMC_OK);
  ASSERT_EQ(llmc_decode(s.get(), 1, seqs, tokens, nullptr), LLMC_OK);

  struct Newer {
    llmc_session_stats stats;
    uint64_t later;
  } newer;
  std::memset(&newer, 0xab, sizeof newer);
  newer.stats.struct_size = sizeof newer;
  ASSERT_EQ(llmc_session_get_stats(s.get(), &newer.stats), LLMC_OK)
      << llmc_last_error();
  const llmc_session_stats &st = newer.stats;
  EXPECT_EQ(st.struct_size, sizeof newer);
  EXPECT_EQ(st.reserved, 0u);
  EXPECT_EQ(st.prefill_tokens, 12u);
  EXPECT_EQ(st.decode_steps, 2u);
  EXPECT_EQ(st.decode_tokens, 3u);
  EXPECT_EQ(st.kv_tokens, 15u);
  EXPECT_GE(st.prefill_seconds, 0.0);
  EXPECT_GE(st.decode_seconds, 0.0);
  uint64_t bytes = 0;
  ASSERT_EQ(llmc_session_kv_bytes(s.get(), &bytes), LLMC_OK);
  EXPECT_EQ(st.kv_bytes, bytes);
  EXPECT_EQ(newer.later, 0xababababababababull);

  llmc_session_stats old{};
  old.struct_size = 8;
  EXPECT_EQ(llmc_session_get_stats(s.get(), &old), LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_session_get_stats(s.get(), nullptr),
            LLMC_ERROR_INVALID_ARGUMENT);
}

// llmc_set_log_callback: messages of the level set and above, none once
// cleared.
TEST_F(SessionTest, TheLogCallbackGetsMessagesOfItsLevel) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  std::vector<std::string> messages;
  auto keep = [](llmc_log_level level, const char *message, void *data) {
    static_cast<std::vector<std::string> *>(data)->push_back(
        std::string(llmc_log_level_string(level)) + ": " + message);
  };
  llmc_set_log_callback(keep, LLMC_LOG_WARNING, &messages);
  SessionPtr quiet = session(plan);
  EXPECT_TRUE(messages.empty());
  llmc_set_log_callback(keep, LLMC_LOG_INFO, &messages);
  SessionPtr s = session(plan);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("info: "), std::string::npos);
  EXPECT_NE(messages[0].find("session on the CPU backend, max_batch 1"),
            std::string::npos)
      << messages[0];
  llmc_set_log_callback(nullptr, LLMC_LOG_DEBUG, nullptr);
  SessionPtr after = session(plan);
  EXPECT_EQ(messages.size(), 1u);
}

// Option structs carry their size: one not from _default() (size 0) is
// refused by name, one of ABI 1's size works, one from a newer header
// (larger, with fields this library does not know) works on the fields it
// knows.
TEST_F(SessionTest, OptionStructsCarryTheirSize) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  llmc_session_options options = llmc_session_options_default();
  EXPECT_EQ(options.struct_size, sizeof(llmc_session_options));
  options.num_threads = 1;
  llmc_session *raw = nullptr;
  options.struct_size = 0;
  EXPECT_EQ(llmc_session_create(plan.get(), &options, &raw),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmc_last_error(),
               "llmc_session_create: llmc_session_options.struct_size 0 is "
               "below 32: start from llmc_session_options_default()");
  options.struct_size = LLMC_SESSION_OPTIONS_MIN_SIZE;
  ASSERT_EQ(llmc_session_create(plan.get(), &options, &raw), LLMC_OK);
  llmc_session_destroy(raw);
  struct Newer {
    llmc_session_options options;
    int64_t unknown;
  } newer;
  newer.options = llmc_session_options_default();
  newer.options.struct_size = sizeof newer;
  newer.options.max_batch = 3;
  newer.unknown = 12345;
  ASSERT_EQ(llmc_session_create(plan.get(), &newer.options, &raw), LLMC_OK);
  SessionPtr s(raw);
  EXPECT_EQ(llmc_prefill(s.get(), 2, kPrompt.data(), 3, nullptr, nullptr),
            LLMC_OK);

  llmc_sampling sampling = llmc_sampling_default();
  sampling.struct_size = 4;
  std::vector<float> logits(M::kVocab, 0.0f);
  int32_t token = -1;
  EXPECT_EQ(llmc_sample(logits.data(), M::kVocab, &sampling, nullptr, &token),
            LLMC_ERROR_INVALID_ARGUMENT);
  llmc_plan_open_options open = llmc_plan_open_options_default();
  EXPECT_EQ(open.struct_size, sizeof(llmc_plan_open_options));
  open.struct_size = 3;
  llmc_plan *p = nullptr;
  EXPECT_EQ(llmc_plan_open_ex(dir_.file("x.plan").c_str(), &open, &p),
            LLMC_ERROR_INVALID_ARGUMENT);
}

TEST_F(SessionTest, PlanInfo) {
  PlanPtr plan = open(8, 32);
  ASSERT_TRUE(plan);
  llmc_plan_info info;
  ASSERT_EQ(llmc_plan_get_info(plan.get(), &info), LLMC_OK);
  EXPECT_STREQ(info.model_type, "llama");
  EXPECT_EQ(info.vocab_size, M::kVocab);
  EXPECT_EQ(info.hidden_size, M::kHidden);
  EXPECT_EQ(info.num_layers, 1);
  EXPECT_EQ(info.max_seq_len, 32);
  EXPECT_EQ(info.max_tokens, 8);
  EXPECT_GT(info.arena_bytes, 0u);
  EXPECT_GT(info.weight_bytes, 0u);
  EXPECT_STREQ(llmc_version(), "0.4.0");
  EXPECT_STREQ(llmc_version(), LLMC_VERSION_STRING);
  EXPECT_EQ(LLMC_VERSION_MAJOR * 10000 + LLMC_VERSION_MINOR * 100 +
                LLMC_VERSION_PATCH,
            400);
  uint32_t major = 0, minor = 9;
  llmc_plan_format_version(&major, &minor);
  EXPECT_EQ(major, 1u);
  EXPECT_EQ(minor, 9u);
  EXPECT_STREQ(llmc_status_string(LLMC_ERROR_INVALID_PLAN), "invalid plan");
  EXPECT_STREQ(llmc_status_string(LLMC_OK), "ok");
}

//===----------------------------------------------------------------------===//
// Capacity
//===----------------------------------------------------------------------===//

TEST_F(SessionTest, PromptLongerThanMaxSeqLenIsRejected) {
  PlanPtr plan = open(4, 8);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan);
  std::vector<int32_t> nine(9, 1);
  EXPECT_EQ(llmc_prefill(s.get(), 0, nine.data(), 9, nullptr, nullptr),
            LLMC_ERROR_CAPACITY);
  EXPECT_NE(std::strstr(llmc_last_error(), "max_seq_len"), nullptr)
      << llmc_last_error();
  EXPECT_EQ(length(s, 0), 0);
  // After 5 tokens, 4 more do not fit; the sequence keeps its 5 tokens and
  // its logits.
  std::vector<float> before(M::kVocab), after(M::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, nine.data(), 5, nullptr, nullptr),
            LLMC_OK);
  EXPECT_EQ(llmc_prefill(s.get(), 0, nine.data(), 4, nullptr, nullptr),
            LLMC_ERROR_CAPACITY);
  EXPECT_EQ(length(s, 0), 5);
  int32_t seq = 0, token = 2;
  ASSERT_EQ(llmc_decode(s.get(), 1, &seq, &token, after.data()), LLMC_OK);
  SessionPtr fresh = session(plan);
  ASSERT_EQ(llmc_prefill(fresh.get(), 0, nine.data(), 5, nullptr, nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_decode(fresh.get(), 1, &seq, &token, before.data()), LLMC_OK);
  EXPECT_EQ(before, after);
}

TEST_F(SessionTest, DecodeOnAFullSequenceIsRejected) {
  PlanPtr plan = open(4, 8);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan, 2);
  std::vector<int32_t> eight(8, 3);
  ASSERT_EQ(llmc_prefill(s.get(), 0, eight.data(), 8, nullptr, nullptr),
            LLMC_OK);
  ASSERT_EQ(llmc_prefill(s.get(), 1, eight.data(), 2, nullptr, nullptr),
            LLMC_OK);
  int32_t seqs[2] = {1, 0}, tokens[2] = {4, 4};
  float logits[2 * M::kVocab];
  EXPECT_EQ(llmc_decode(s.get(), 1, &seqs[1], tokens, logits),
            LLMC_ERROR_CAPACITY);
  // A batch with one full sequence changes neither.
  EXPECT_EQ(llmc_decode(s.get(), 2, seqs, tokens, logits), LLMC_ERROR_CAPACITY);
  EXPECT_NE(std::strstr(llmc_last_error(), "sequence 0 is full"), nullptr)
      << llmc_last_error();
  EXPECT_EQ(length(s, 0), 8);
  EXPECT_EQ(length(s, 1), 2);
  EXPECT_EQ(llmc_decode(s.get(), 1, seqs, tokens, logits), LLMC_OK);
  EXPECT_EQ(length(s, 1), 3);
}

TEST_F(SessionTest, BatchLargerThanMaxBatchIsCapacity) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan, 2);
  int32_t seqs[3] = {0, 1, 2}, tokens[3] = {1, 1, 1};
  EXPECT_EQ(llmc_decode(s.get(), 3, seqs, tokens, nullptr),
            LLMC_ERROR_CAPACITY);
}

//===----------------------------------------------------------------------===//
// Invalid arguments
//===----------------------------------------------------------------------===//

TEST_F(SessionTest, InvalidArguments) {
  PlanPtr plan = open(4, 16);
  ASSERT_TRUE(plan);
  SessionPtr s = session(plan, 2);
  int32_t tokens[2] = {1, 2}, seqs[2] = {0, 0};
  float logits[2 * M::kVocab];
  auto expectInvalid = [](llmc_status status, const char *fragment) {
    EXPECT_EQ(status, LLMC_ERROR_INVALID_ARGUMENT) << fragment;
    EXPECT_NE(std::strstr(llmc_last_error(), fragment), nullptr)
        << llmc_last_error();
  };
  expectInvalid(llmc_prefill(nullptr, 0, tokens, 1, nullptr, nullptr),
                "session is NULL");
  expectInvalid(llmc_prefill(s.get(), 0, nullptr, 1, nullptr, nullptr),
                "tokens is NULL");
  expectInvalid(llmc_prefill(s.get(), 2, tokens, 1, nullptr, nullptr),
                "sequence 2 is not in [0, 2)");
  expectInvalid(llmc_prefill(s.get(), -1, tokens, 1, nullptr, nullptr),
                "sequence -1");
  expectInvalid(llmc_prefill(s.get(), 0, tokens, 0, nullptr, nullptr),
                "num_tokens 0");
  int32_t bad[2] = {1, M::kVocab};
  expectInvalid(llmc_prefill(s.get(), 0, bad, 2, nullptr, nullptr),
                "tokens[1] = 16 is not in [0, 16)");
  bad[0] = -1;
  expectInvalid(llmc_decode(s.get(), 1, seqs, bad, logits), "tokens[0] = -1");
  expectInvalid(llmc_decode(s.get(), 2, seqs, tokens, logits),
                "sequence 0 appears twice");
  expectInvalid(llmc_decode(s.get(), 0, seqs, tokens, logits), "batch 0");
  expectInvalid(llmc_decode(s.get(), 1, nullptr, tokens, logits),
                "seqs is NULL");
  seqs[0] = 5;
  expectInvalid(llmc_decode(s.get(), 1, seqs, tokens, logits), "sequence 5");
  int32_t n;
  expectInvalid(llmc_sequence_length(s.get(), 0, nullptr), "out_length");
  expectInvalid(llmc_sequence_length(s.get(), 3, &n), "sequence 3");
  expectInvalid(llmc_reset(s.get(), 9), "sequence 9");
  // Nothing changed.
  EXPECT_EQ(length(s, 0), 0);
  EXPECT_EQ(length(s, 1), 0);

  llmc_plan *p = reinterpret_cast<llmc_plan *>(1);
  expectInvalid(llmc_plan_open(nullptr, &p), "path is NULL");
  EXPECT_EQ(p, nullptr);
  expectInvalid(llmc_plan_open("x.plan", nullptr), "out_plan is NULL");
  expectInvalid(llmc_plan_get_info(plan.get(), nullptr), "out_info");

  llmc_session_options options = llmc_session_options_default();
  llmc_session *out = nullptr;
  expectInvalid(llmc_session_create(plan.get(), nullptr, &out), "options");
  options.max_batch = 0;
  expectInvalid(llmc_session_create(plan.get(), &options, &out),
                "options.max_batch 0");
  options = llmc_session_options_default();
  options.max_seq_len = 17;
  expectInvalid(llmc_session_create(plan.get(), &options, &out),
                "options.max_seq_len 17");
  options = llmc_session_options_default();
  options.num_threads = -1;
  expectInvalid(llmc_session_create(plan.get(), &options, &out),
                "options.num_threads -1");
  EXPECT_EQ(out, nullptr);
  llmc_plan_close(nullptr);
  llmc_session_destroy(nullptr);
}

// Closed, destroyed and foreign handles are refused by value (no freed
// memory is read: ASan would say), and a second close or destroy is a no-op.
TEST_F(SessionTest, DeadHandlesAreInvalidArguments) {
  PlanPtr plan = open(4);
  llmc_plan *raw = plan.release();
  llmc_status status;
  SessionPtr s = createSession(raw, 1, 1, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  llmc_session *rawSession = s.release();
  llmc_session_destroy(rawSession);
  llmc_session_destroy(rawSession); // twice: nothing happens
  int32_t token = 1, n = 0;
  float logits[TinyLlama::kVocab];
  EXPECT_EQ(llmc_prefill(rawSession, 0, &token, 1, nullptr, logits),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(llmc_last_error()),
            "llmc_prefill: session is not a live handle (already closed or "
            "destroyed, or not returned by llmc)");
  EXPECT_EQ(llmc_sequence_length(rawSession, 0, &n),
            LLMC_ERROR_INVALID_ARGUMENT);
  llmc_plan_close(raw);
  llmc_plan_close(raw);
  llmc_plan_info info;
  EXPECT_EQ(llmc_plan_get_info(raw, &info), LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(llmc_last_error()),
            "llmc_plan_get_info: plan is not a live handle (already closed "
            "or destroyed, or not returned by llmc)");
  llmc_session_options options = llmc_session_options_default();
  llmc_session *none = nullptr;
  EXPECT_EQ(llmc_session_create(raw, &options, &none),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(none, nullptr);
  int foreign = 0;
  EXPECT_EQ(llmc_reset(reinterpret_cast<llmc_session *>(&foreign), 0),
            LLMC_ERROR_INVALID_ARGUMENT);
}

// An arena no machine has: an error with the bytes asked for, not an abort.
TEST_F(SessionTest, AnArenaLargerThanMemoryIsOutOfMemory) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's allocator reports a 2^62-byte request as a fatal out-of-memory
  // error even with allocator_may_return_null; the plain build tests it.
  GTEST_SKIP() << "not under AddressSanitizer";
#endif
  TestPlan t = tinyLlama(4);
  t.arenaBytes = uint64_t(1) << 62;
  std::string path = t.write(dir_.file("huge-arena.plan"));
  llmc_status status;
  PlanPtr plan = openPlan(path, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  SessionPtr s = createSession(plan.get(), 1, 1, &status);
  EXPECT_EQ(status, LLMC_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(std::string(llmc_last_error())
                .find("cannot allocate the arena of 4611686018427387904 bytes"),
            std::string::npos)
      << llmc_last_error();
}

// read_into_memory: the plan is a private copy, so truncating and rewriting
// the file afterwards (SIGBUS, or changed weights, with a mapping) changes
// nothing for the open plan.
TEST_F(SessionTest, APlanReadIntoMemoryIgnoresTheFileChanging) {
  std::string path = tinyLlama(4).write(dir_.file("copied.plan"));
  llmc_plan_open_options options = llmc_plan_open_options_default();
  options.read_into_memory = 1;
  llmc_plan *raw = nullptr;
  ASSERT_EQ(llmc_plan_open_ex(path.c_str(), &options, &raw), LLMC_OK)
      << llmc_last_error();
  PlanPtr plan(raw);
  SessionPtr s = session(plan);
  std::vector<float> before(TinyLlama::kVocab), after(TinyLlama::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 4, nullptr,
                         before.data()),
            LLMC_OK);
  ASSERT_EQ(::truncate(path.c_str(), 64), 0);
  writeFile(path, std::vector<uint8_t>(64, 0xff));
  ASSERT_EQ(llmc_reset(s.get(), 0), LLMC_OK);
  SessionPtr fresh = session(plan); // reads weights again, from the copy
  ASSERT_EQ(llmc_prefill(fresh.get(), 0, kPrompt.data(), 4, nullptr,
                         after.data()),
            LLMC_OK)
      << llmc_last_error();
  EXPECT_EQ(before, after);
  llmc_plan_info info;
  EXPECT_EQ(llmc_plan_get_info(plan.get(), &info), LLMC_OK);
}

// llmc_plan_open_memory: in place from an aligned buffer (the same logits
// as from the file), copied from any buffer (which may then go), and the
// caller's mistakes: misaligned, truncated, NULL.
TEST_F(SessionTest, APlanOpensFromMemory) {
  std::string path = tinyLlama(4).write(dir_.file("memory.plan"));
  std::vector<uint8_t> bytes = readFile(path);
  struct Free {
    void operator()(void *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> aligned(static_cast<uint8_t *>(
      std::aligned_alloc(LLMC_PLAN_ALIGNMENT,
                         (bytes.size() + LLMC_PLAN_ALIGNMENT) &
                             ~size_t(LLMC_PLAN_ALIGNMENT - 1))));
  std::memcpy(aligned.get(), bytes.data(), bytes.size());

  PlanPtr fromFile = open(4);
  std::vector<float> want(TinyLlama::kVocab), got(TinyLlama::kVocab);
  SessionPtr a = session(fromFile);
  ASSERT_EQ(llmc_prefill(a.get(), 0, kPrompt.data(), 4, nullptr, want.data()),
            LLMC_OK);

  llmc_plan *raw = nullptr;
  ASSERT_EQ(llmc_plan_open_memory(aligned.get(), bytes.size(), nullptr, &raw),
            LLMC_OK)
      << llmc_last_error();
  PlanPtr inPlace(raw);
  SessionPtr b = session(inPlace);
  ASSERT_EQ(llmc_prefill(b.get(), 0, kPrompt.data(), 4, nullptr, got.data()),
            LLMC_OK);
  EXPECT_EQ(got, want);

  // Misaligned: refused in place, fine as a copy; the copy outlives it.
  std::vector<uint8_t> shifted(1, 0);
  shifted.insert(shifted.end(), bytes.begin(), bytes.end());
  const uint8_t *odd = shifted.data() + 1;
  if (reinterpret_cast<uintptr_t>(odd) % LLMC_PLAN_ALIGNMENT == 0)
    odd = shifted.data(); // never, for a vector's storage
  raw = nullptr;
  EXPECT_EQ(llmc_plan_open_memory(odd, bytes.size(), nullptr, &raw),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(raw, nullptr);
  EXPECT_NE(std::string(llmc_last_error()).find("is not aligned to 4096 bytes"),
            std::string::npos)
      << llmc_last_error();
  llmc_plan_open_options copy = llmc_plan_open_options_default();
  copy.read_into_memory = 1;
  ASSERT_EQ(llmc_plan_open_memory(odd, bytes.size(), &copy, &raw), LLMC_OK)
      << llmc_last_error();
  PlanPtr copied(raw);
  shifted.assign(shifted.size(), 0xff);
  SessionPtr c = session(copied);
  ASSERT_EQ(llmc_prefill(c.get(), 0, kPrompt.data(), 4, nullptr, got.data()),
            LLMC_OK);
  EXPECT_EQ(got, want);

  raw = nullptr;
  EXPECT_EQ(llmc_plan_open_memory(aligned.get(), bytes.size() - 1, nullptr,
                                  &raw),
            LLMC_ERROR_INVALID_PLAN);
  EXPECT_EQ(std::string(llmc_last_error()).rfind("plan in memory: ", 0), 0u)
      << llmc_last_error();
  EXPECT_EQ(llmc_plan_open_memory(nullptr, 64, nullptr, &raw),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_plan_open_memory(aligned.get(), 4, nullptr, &raw),
            LLMC_ERROR_INVALID_PLAN);
  EXPECT_EQ(raw, nullptr);
}

// A session keeps its plan's file: closing the plan first is fine.
TEST_F(SessionTest, ASessionOutlivesItsClosedPlan) {
  PlanPtr plan = open(4);
  SessionPtr s = session(plan);
  plan.reset(); // llmc_plan_close
  std::vector<float> last(TinyLlama::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 4, nullptr, last.data()),
            LLMC_OK)
      << llmc_last_error();
  int32_t seq = 0, token = 3;
  EXPECT_EQ(llmc_decode(s.get(), 1, &seq, &token, last.data()), LLMC_OK);
  EXPECT_EQ(length(s, 0), 5);
}

// Two threads calling one session: every call either runs or fails with
// "in use by another call" and changes nothing, so the sequence holds one
// token per successful call (it used to corrupt the CPU backend's stack).
TEST_F(SessionTest, ConcurrentCallsOnOneSessionAreRefusedNotRun) {
  PlanPtr plan = open(4, 64);
  SessionPtr s = session(plan, 1, 1);
  int32_t first = 1;
  ASSERT_EQ(llmc_prefill(s.get(), 0, &first, 1, nullptr, nullptr), LLMC_OK)
      << llmc_last_error();
  std::atomic<int> ok{0}, busy{0}, other{0};
  auto work = [&] {
    std::vector<float> logits(TinyLlama::kVocab);
    for (int i = 0; i < 2000 && ok.load() < 60; ++i) {
      int32_t seq = 0, token = 2;
      llmc_status st = llmc_decode(s.get(), 1, &seq, &token, logits.data());
      if (st == LLMC_OK)
        ++ok;
      else if (st == LLMC_ERROR_INVALID_ARGUMENT &&
               std::string(llmc_last_error()).find("in use by another call") !=
                   std::string::npos)
        ++busy;
      else
        ++other;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 60);
  EXPECT_EQ(length(s, 0), 1 + ok.load());
}

TEST_F(SessionTest, SmallerMaxSeqLenAndDefaultThreads) {
  PlanPtr plan = open(4, 16);
  ASSERT_TRUE(plan);
  llmc_status status;
  SessionPtr s = createSession(plan.get(), 1, 0, &status, 6);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  std::vector<int32_t> seven(7, 2);
  EXPECT_EQ(llmc_prefill(s.get(), 0, seven.data(), 7, nullptr, nullptr),
            LLMC_ERROR_CAPACITY);
  std::vector<float> a(6 * M::kVocab), b(6 * M::kVocab);
  ASSERT_EQ(llmc_prefill(s.get(), 0, kPrompt.data(), 6, a.data(), nullptr),
            LLMC_OK);
  SessionPtr full = session(plan);
  ASSERT_EQ(llmc_prefill(full.get(), 0, kPrompt.data(), 6, b.data(), nullptr),
            LLMC_OK);
  EXPECT_EQ(a, b);
}

TEST_F(SessionTest, CudaBackendWithoutADriverIsNoDevice) {
  PlanPtr plan = open(4);
  ASSERT_TRUE(plan);
  // Wherever the tests run: no driver at this path.
  const char *old = std::getenv("LLMC_CUDA_DRIVER");
  std::string saved = old ? old : "";
  setenv("LLMC_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  llmc_session_options options = llmc_session_options_default();
  EXPECT_EQ(options.cuda_device, 0);
  options.backend = LLMC_BACKEND_CUDA;
  llmc_session *out = nullptr;
  EXPECT_EQ(llmc_session_create(plan.get(), &options, &out),
            LLMC_ERROR_NO_DEVICE);
  EXPECT_EQ(
      std::string(llmc_last_error())
          .rfind("no CUDA driver: cannot load /nonexistent/libcuda.so.1 (", 0),
      0u)
      << llmc_last_error();
  EXPECT_EQ(out, nullptr);
  options.cuda_device = -1;
  EXPECT_EQ(llmc_session_create(plan.get(), &options, &out),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(llmc_last_error(), "options.cuda_device -1"), nullptr)
      << llmc_last_error();
  if (old)
    setenv("LLMC_CUDA_DRIVER", saved.c_str(), 1);
  else
    unsetenv("LLMC_CUDA_DRIVER");
}

TEST_F(SessionTest, PlanForAnotherTargetIsUnsupported) {
  TestPlan t = tinyLlama(4);
  t.targets = {"sm_90a"};
  std::string path = t.write(dir_.file("gpu.plan"));
  llmc_status status;
  PlanPtr plan = openPlan(path, &status);
  ASSERT_EQ(status, LLMC_OK) << llmc_last_error();
  SessionPtr s = createSession(plan.get(), 1, 1, &status);
  EXPECT_EQ(status, LLMC_ERROR_UNSUPPORTED);
  EXPECT_FALSE(s);
  EXPECT_EQ(std::string(llmc_last_error()),
            path + ": compiled for targets sm_90a, not cpu; recompile with "
                   "--target cpu");
}

} // namespace
} // namespace llmc::runtime::test
