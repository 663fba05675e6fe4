//===- RopeFrequenciesTest.cpp - inv_freq against transformers -------------===//
//
// data/rope_reference.json holds inverse frequencies computed by transformers'
// own rope init functions (tools/golden/rope_reference.py). Each case's config
// goes through our config reader and frequency code; both must agree.

#include "frontends/hf/HFConfig.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

using json = nlohmann::json;

namespace {

json loadReference() {
  std::ifstream in(std::string(LLMC_TEST_DATA_DIR) + "/rope_reference.json");
  EXPECT_TRUE(in.good()) << "missing rope_reference.json";
  return json::parse(in);
}

TEST(RopeFrequencies, MatchTransformers) {
  json ref = loadReference();
  ASSERT_GE(ref["cases"].size(), 9u);
  for (const json &c : ref["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    json cfg = c["config"];
    int64_t seqLen = cfg.value("seq_len", cfg["max_position_embeddings"].get<int64_t>());
    cfg.erase("seq_len");
    cfg["model_type"] = "llama";
    cfg["vocab_size"] = 256;
    cfg["intermediate_size"] = 128;
    cfg["num_hidden_layers"] = 1;
    auto parsed = llmc::hf::parseConfig(cfg.dump(), "case.json");
    ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
    std::vector<float> inv = llmc::rope::inverseFrequencies(parsed->rope, seqLen);
    const json &expected = c["inv_freq"];
    ASSERT_EQ(inv.size(), expected.size());
    for (size_t m = 0; m < inv.size(); ++m) {
      float want = expected[m].get<float>();
      // Within 2 ulp of fp32: torch's vectorized pow may round differently.
      EXPECT_NEAR(inv[m], want, 2.5e-7 * std::fabs(want)) << "m = " << m;
    }
    EXPECT_NEAR(parsed->ropeAttentionFactor, c["attention_scaling"].get<double>(),
                1e-12);
  }
}

TEST(RopeFrequencies, DefaultFirstAndLast) {
  llmc::rope::Params p;
  p.theta = 10000.0;
  p.dim = 64;
  std::vector<float> inv = llmc::rope::inverseFrequencies(p, 1);
  ASSERT_EQ(inv.size(), 32u);
  EXPECT_EQ(inv[0], 1.0f);
  // 10000^(-62/64), computed in double
  EXPECT_NEAR(inv[31], 1.3335214321633240e-4, 1e-10);
}

} // namespace
