//===- SamplerTest.cpp - llmc_sample --------------------------------------===//

#include "llmc/llmc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

llmc_sampling sampling(float temperature, int32_t topK = 0, float topP = 1) {
  llmc_sampling s = llmc_sampling_default();
  s.temperature = temperature;
  s.top_k = topK;
  s.top_p = topP;
  return s;
}

int32_t draw(const std::vector<float> &logits, const llmc_sampling &s,
             uint64_t *rng) {
  int32_t token = -1;
  EXPECT_EQ(llmc_sample(logits.data(), int64_t(logits.size()), &s, rng, &token),
            LLMC_OK)
      << llmc_last_error();
  return token;
}

/// Frequencies of `n` draws.
std::vector<double> frequencies(const std::vector<float> &logits,
                                const llmc_sampling &s, int n, uint64_t seed) {
  std::vector<double> counts(logits.size(), 0.0);
  uint64_t rng = seed;
  for (int i = 0; i < n; ++i)
    counts[size_t(draw(logits, s, &rng))] += 1.0 / n;
  return counts;
}

std::vector<double> softmax(const std::vector<float> &logits, double t) {
  std::vector<double> p;
  double sum = 0;
  for (float l : logits)
    sum += std::exp(l / t);
  for (float l : logits)
    p.push_back(std::exp(l / t) / sum);
  return p;
}

const std::vector<float> kLogits = {1.0f, 2.0f, 0.5f, 3.0f, -1.0f, 2.5f};

TEST(Sampler, Defaults) {
  llmc_sampling s = llmc_sampling_default();
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_EQ(s.top_p, 1.0f);
}

TEST(Sampler, GreedyPicksTheLargestWithoutDrawing) {
  uint64_t rng = 42;
  EXPECT_EQ(draw(kLogits, sampling(0), &rng), 3);
  EXPECT_EQ(draw(kLogits, sampling(-1), nullptr), 3);
  EXPECT_EQ(rng, 42u);
}

TEST(Sampler, GreedyTieGoesToTheLowestId) {
  EXPECT_EQ(draw({0.0f, 5.0f, 1.0f, 5.0f, 5.0f}, sampling(0), nullptr), 1);
  EXPECT_EQ(draw({-INFINITY, -INFINITY}, sampling(0), nullptr), 0);
}

TEST(Sampler, TopK1IsGreedyAtAnyTemperature) {
  uint64_t rng = 7;
  for (float t : {0.1f, 0.7f, 1.0f, 5.0f, 100.0f})
    for (int i = 0; i < 50; ++i)
      EXPECT_EQ(draw(kLogits, sampling(t, 1), &rng), 3);
  // Ties: the lowest id, as greedy.
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(draw({0.0f, 5.0f, 5.0f}, sampling(2.0f, 1), &rng), 1);
}

TEST(Sampler, TinyTopPIsGreedy) {
  uint64_t rng = 8;
  for (float t : {0.5f, 1.0f, 10.0f})
    for (int i = 0; i < 50; ++i)
      EXPECT_EQ(draw(kLogits, sampling(t, 0, 1e-6f), &rng), 3);
}

TEST(Sampler, SameSeedSameDraws) {
  uint64_t a = 1234, b = 1234, c = 1235;
  std::vector<int32_t> da, db, dc;
  for (int i = 0; i < 200; ++i) {
    da.push_back(draw(kLogits, sampling(1.5f), &a));
    db.push_back(draw(kLogits, sampling(1.5f), &b));
    dc.push_back(draw(kLogits, sampling(1.5f), &c));
  }
  EXPECT_EQ(da, db);
  EXPECT_EQ(a, b);
  EXPECT_NE(da, dc);
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  for (float t : {1.0f, 2.0f}) {
    SCOPED_TRACE(t);
    std::vector<double> got = frequencies(kLogits, sampling(t), 40000, 99);
    std::vector<double> want = softmax(kLogits, t);
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 0.012) << "token " << i;
  }
}

TEST(Sampler, TopKRenormalizesOverTheTopK) {
  // Top 2 of kLogits: ids 3 (3.0) and 5 (2.5).
  std::vector<double> got = frequencies(kLogits, sampling(1, 2), 20000, 5);
  double p3 = 1 / (1 + std::exp(-0.5));
  for (size_t i = 0; i < got.size(); ++i)
    if (i != 3 && i != 5) {
      EXPECT_EQ(got[i], 0.0) << i;
    }
  EXPECT_NEAR(got[3], p3, 0.015);
  EXPECT_NEAR(got[5], 1 - p3, 0.015);
}

TEST(Sampler, TopPKeepsTheSmallestSufficientSet) {
  // Probabilities 0.5, 0.3, 0.2: top_p 0.7 keeps {0, 1} (0.8 >= 0.7).
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  std::vector<double> got = frequencies(logits, sampling(1, 0, 0.7f), 20000, 6);
  EXPECT_EQ(got[2], 0.0);
  EXPECT_NEAR(got[0], 0.625, 0.015);
  EXPECT_NEAR(got[1], 0.375, 0.015);
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
  std::vector<float> logits = {-INFINITY, 0.0f, -INFINITY, 0.0f};
  std::vector<double> got = frequencies(logits, sampling(1), 2000, 3);
  EXPECT_EQ(got[0], 0.0);
  EXPECT_EQ(got[2], 0.0);
}

TEST(Sampler, InvalidArguments) {
  uint64_t rng = 1;
  int32_t token;
  llmc_sampling s = sampling(1);
  float nan[2] = {0.0f, NAN};
  EXPECT_EQ(llmc_sample(nan, 2, &s, &rng, &token), LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmc_last_error(), "llmc_sample: logits[1] is NaN");
  float ok[2] = {0.0f, 1.0f};
  EXPECT_EQ(llmc_sample(nullptr, 2, &s, &rng, &token),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_sample(ok, 0, &s, &rng, &token), LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_sample(ok, 2, nullptr, &rng, &token),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_sample(ok, 2, &s, nullptr, &token),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(llmc_sample(ok, 2, &s, &rng, nullptr), LLMC_ERROR_INVALID_ARGUMENT);
  llmc_sampling negative = sampling(1, -1);
  EXPECT_EQ(llmc_sample(ok, 2, &negative, &rng, &token),
            LLMC_ERROR_INVALID_ARGUMENT);
  // top_p outside (0, 1] and a temperature that is not finite, also where
  // greedy decoding would not have looked at them.
  for (float topP : {2.0f, -1.0f, 0.0f, NAN})
    for (float t : {0.0f, 1.0f}) {
      llmc_sampling bad = sampling(t, 0, topP);
      EXPECT_EQ(llmc_sample(ok, 2, &bad, &rng, &token),
                LLMC_ERROR_INVALID_ARGUMENT)
          << topP;
      EXPECT_NE(std::string(llmc_last_error()).find("top_p"),
                std::string::npos);
    }
  for (float t : {INFINITY, -INFINITY, NAN}) {
    llmc_sampling bad = sampling(t);
    EXPECT_EQ(llmc_sample(ok, 2, &bad, &rng, &token),
              LLMC_ERROR_INVALID_ARGUMENT)
        << t;
    EXPECT_NE(std::string(llmc_last_error()).find("is not a finite number"),
              std::string::npos);
  }
  float masked[2] = {-INFINITY, -INFINITY};
  EXPECT_EQ(llmc_sample(masked, 2, &s, &rng, &token),
            LLMC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(llmc_last_error(), "llmc_sample: every logit is -inf");
  EXPECT_EQ(rng, 1u);
}

} // namespace
