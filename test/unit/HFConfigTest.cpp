//===- HFConfigTest.cpp - config.json resolution against transformers -----===//
//
// Expected values are transformers' per-family defaults and derivations
// (configuration_<family>.py), not re-derived from our code.

#include "frontends/hf/HFConfig.h"

#include <gtest/gtest.h>

#include <limits>

#include <cmath>
#include <nlohmann/json.hpp>

using llmc::hf::DType;
using llmc::hf::Family;
using llmc::hf::ModelConfig;
using llmc::hf::parseConfig;
using json = nlohmann::json;

namespace {

json tiny(const char *modelType) {
  return json{{"model_type", modelType},   {"vocab_size", 256},
              {"hidden_size", 64},         {"intermediate_size", 128},
              {"num_hidden_layers", 3},    {"num_attention_heads", 4}};
}

ModelConfig parse(const json &j) {
  auto cfg = parseConfig(j.dump(), "config.json");
  if (!cfg) {
    ADD_FAILURE() << llvm::toString(cfg.takeError());
    return {};
  }
  return *cfg;
}

std::string errorOf(const std::string &text) {
  auto cfg = parseConfig(text, "dir/config.json");
  if (cfg)
    return "(no error)";
  return llvm::toString(cfg.takeError());
}

TEST(HFConfig, LlamaDefaults) {
  ModelConfig c = parse(tiny("llama"));
  EXPECT_EQ(c.family, Family::Llama);
  EXPECT_EQ(c.headDim, 16);      // hidden / heads
  EXPECT_EQ(c.numKVHeads, 4);    // defaults to num_attention_heads
  EXPECT_EQ(c.maxPositionEmbeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rmsNormEps, 1e-6);
  EXPECT_FALSE(c.tieWordEmbeddings);
  EXPECT_FALSE(c.qkvBias);
  EXPECT_FALSE(c.oBias);
  EXPECT_FALSE(c.qkNorm);
  EXPECT_EQ(c.dtype, DType::F32);
  EXPECT_EQ(c.ropeType, "default");
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_EQ(c.rope.dim, 16);
  EXPECT_FALSE(c.slidingWindow.has_value());
  EXPECT_EQ(c.slidingLayers, std::vector<bool>(3, false));
}

TEST(HFConfig, RmsNormEpsDefaultsPerFamily) {
  // configuration_<family>.py: 1e-5 for these, 1e-6 for the rest.
  for (const char *type : {"mixtral", "glm4_moe", "olmoe", "olmo2", "olmo3",
                           "phi3"}) {
    SCOPED_TRACE(type);
    json j = tiny(type);
    j["num_key_value_heads"] = 2;
    EXPECT_DOUBLE_EQ(parse(j).rmsNormEps, 1e-5);
  }
  json l4 = tiny("llama4_text");
  l4["num_key_value_heads"] = 2;
  l4["interleave_moe_layer_step"] = 4; // dense layers 0-2
  EXPECT_DOUBLE_EQ(parse(l4).rmsNormEps, 1e-5);
  for (const char *type : {"mistral", "qwen3", "gemma2", "smollm3"}) {
    SCOPED_TRACE(type);
    json j = tiny(type);
    j["num_key_value_heads"] = 2;
    EXPECT_DOUBLE_EQ(parse(j).rmsNormEps, 1e-6);
  }
}

TEST(HFConfig, GptOssDefaults) {
  // GptOssConfig: every other layer slides over 128 tokens from layer 0,
  // sinks, biased attention, yarn over 4096 when no RoPE is stated, every
  // layer MoE (top 4 of 128, softmax over the chosen, clamped SwiGLU).
  json j = tiny("gpt_oss");
  j["num_key_value_heads"] = 2;
  j["num_hidden_layers"] = 4;
  ModelConfig c = parse(j);
  EXPECT_EQ(c.family, Family::GptOss);
  EXPECT_EQ(c.headDim, 64);
  EXPECT_DOUBLE_EQ(c.rmsNormEps, 1e-5);
  EXPECT_TRUE(c.attentionSinks);
  EXPECT_TRUE(c.qkvBias);
  EXPECT_TRUE(c.oBias);
  EXPECT_EQ(c.normVariant, llmc::hf::RMSNormVariant::WeightInFp32);
  EXPECT_EQ(c.slidingWindow, 128);
  EXPECT_EQ(c.slidingLayers, std::vector<bool>({true, false, true, false}));
  EXPECT_EQ(c.ropeType, "yarn");
  EXPECT_DOUBLE_EQ(c.rope.factor, 32.0);
  EXPECT_EQ(c.rope.originalMaxPosition, 4096);
  EXPECT_FALSE(c.rope.truncate);
  EXPECT_DOUBLE_EQ(c.rope.theta, 150000.0);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_TRUE(c.moe->gptOss);
  EXPECT_EQ(c.moe->numExperts, 128);
  EXPECT_EQ(c.moe->topK, 4);
  EXPECT_EQ(c.moe->scoring, llmc::hf::RouterScoring::SoftmaxTopK);
  EXPECT_DOUBLE_EQ(c.moe->swigluLimit, 7.0);
  EXPECT_DOUBLE_EQ(c.moe->swigluAlpha, 1.702);
  EXPECT_EQ(c.moeLayers, std::vector<bool>(4, true));
  // A stated RoPE replaces the default dict wholesale (yarn's own
  // truncate default, true, then applies).
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 8.0},
                       {"original_max_position_embeddings", 1024}};
  j["swiglu_limit"] = 3.0;
  c = parse(j);
  EXPECT_DOUBLE_EQ(c.rope.factor, 8.0);
  EXPECT_TRUE(c.rope.truncate);
  EXPECT_DOUBLE_EQ(c.moe->swigluLimit, 3.0);
}

TEST(HFConfig, Llama4AttentionLayers) {
  json j = tiny("llama4_text");
  j["num_key_value_heads"] = 2;
  j["num_hidden_layers"] = 8;
  j["moe_layers"] = json::array();
  j["attention_chunk_size"] = 32;
  j["no_rope_layers"] = json::array(); // empty: every 4th layer is NoPE
  ModelConfig c = parse(j);
  std::vector<bool> rope = {true, true, true, false, true, true, true, false};
  EXPECT_EQ(c.ropeLayers, rope);
  EXPECT_EQ(c.chunkedLayers, rope); // RoPE layers are chunked
  EXPECT_EQ(c.attentionChunk, 32);
  EXPECT_TRUE(c.qkL2NormAfterRope);
  ASSERT_TRUE(c.attnTemperature.has_value());
  EXPECT_DOUBLE_EQ(c.attnTemperature->floorScale, 8192.0);
  EXPECT_DOUBLE_EQ(c.attnTemperature->scale, 0.1);
  EXPECT_TRUE(c.ropeInterleaved);
  EXPECT_TRUE(c.ropeInFp32);
  EXPECT_EQ(c.headDim, 128);
  EXPECT_EQ(c.mlpModule, "feed_forward");
  EXPECT_EQ(c.denseIntermediateSize, 16384);
  EXPECT_FALSE(c.qkvBias);
  json biased = j;
  biased["attention_bias"] = true;
  ModelConfig cb = parse(biased);
  EXPECT_TRUE(cb.qkvBias);
  EXPECT_TRUE(cb.oBias);
  // A null chunk size: full attention everywhere.
  j["attention_chunk_size"] = nullptr;
  j["use_qk_norm"] = false;
  j["attn_temperature_tuning"] = false;
  c = parse(j);
  EXPECT_EQ(c.chunkedLayers, std::vector<bool>(8, false));
  EXPECT_FALSE(c.qkL2NormAfterRope);
  EXPECT_FALSE(c.attnTemperature.has_value());
  // Every layer MoE by default (interleave_moe_layer_step 1): 16 experts,
  // top 1, sigmoid scores scaling the inputs, a shared expert as wide.
  json moe = tiny("llama4_text");
  moe["num_key_value_heads"] = 2;
  c = parse(moe);
  EXPECT_EQ(c.moeLayers, std::vector<bool>(3, true));
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_TRUE(c.moe->llama4);
  EXPECT_EQ(c.moe->numExperts, 16);
  EXPECT_EQ(c.moe->topK, 1);
  EXPECT_EQ(c.moe->scoring, llmc::hf::RouterScoring::Sigmoid);
  EXPECT_TRUE(c.moe->weightsInActDtype);
  EXPECT_FALSE(c.moe->normalize);
  EXPECT_EQ(c.moe->sharedIntermediateSize, 128);
  moe["moe_layers"] = {1};
  EXPECT_EQ(parse(moe).moeLayers, std::vector<bool>({false, true, false}));
  moe["moe_layers"] = {3};
  EXPECT_NE(errorOf(moe.dump())
                .find("key \"moe_layers\": layer 3 is not in [0, "
                      "num_hidden_layers 3)"),
            std::string::npos);
  json bad = j;
  bad["layer_types"] = {"full_attention", "sliding_attention"};
  EXPECT_NE(errorOf(bad.dump()).find("key \"layer_types\": expected a list "
                                     "of 8 layer types"),
            std::string::npos);
}

TEST(HFConfig, LlamaAttentionBiasCoversOProj) {
  json j = tiny("llama");
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  ModelConfig c = parse(j);
  EXPECT_TRUE(c.qkvBias);
  EXPECT_TRUE(c.oBias);
  EXPECT_TRUE(c.mlpBias);
}

TEST(HFConfig, ExplicitHeadDimWins) {
  json j = tiny("mistral");
  j["num_key_value_heads"] = 2;
  j["head_dim"] = 32;  // Mistral-Nemo style: heads * head_dim != hidden
  EXPECT_EQ(parse(j).headDim, 32);
}

TEST(HFConfig, MistralWindow) {
  json j = tiny("mistral");
  j["num_attention_heads"] = 8;
  ModelConfig c = parse(j);
  EXPECT_EQ(c.numKVHeads, 8);
  EXPECT_EQ(c.maxPositionEmbeddings, 131072);
  ASSERT_TRUE(c.slidingWindow.has_value());
  EXPECT_EQ(*c.slidingWindow, 4096);
  EXPECT_EQ(c.slidingLayers, std::vector<bool>(3, true));

  j["sliding_window"] = nullptr;
  ModelConfig none = parse(j);
  EXPECT_FALSE(none.slidingWindow.has_value());
  EXPECT_EQ(none.slidingLayers, std::vector<bool>(3, false));
}

TEST(HFConfig, Qwen2BiasesAndWindowLayers) {
  json j = tiny("qwen2");
  j["num_key_value_heads"] = 2;
  j["sliding_window"] = 32;
  ModelConfig off = parse(j);
  EXPECT_TRUE(off.qkvBias);
  EXPECT_FALSE(off.oBias);
  EXPECT_FALSE(off.slidingWindow.has_value()) << "use_sliding_window is false";

  j["use_sliding_window"] = true;
  j["max_window_layers"] = 1;
  ModelConfig on = parse(j);
  ASSERT_TRUE(on.slidingWindow.has_value());
  EXPECT_EQ(*on.slidingWindow, 32);
  EXPECT_EQ(on.slidingLayers, (std::vector<bool>{false, true, true}));

  j["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention"};
  EXPECT_EQ(parse(j).slidingLayers, (std::vector<bool>{true, false, true}));
}

TEST(HFConfig, Qwen3HeadDimDefaultAndQKNorm) {
  json j = tiny("qwen3");
  j["num_key_value_heads"] = 2;
  ModelConfig c = parse(j);
  EXPECT_EQ(c.headDim, 128);  // declared default, not hidden / heads
  EXPECT_TRUE(c.qkNorm);
  EXPECT_EQ(c.maxPositionEmbeddings, 32768);
}

TEST(HFConfig, DTypeKeysAndOverride) {
  json j = tiny("llama");
  j["torch_dtype"] = "bfloat16";
  EXPECT_EQ(parse(j).dtype, DType::BF16);
  j["dtype"] = "float16";  // the v5 key wins
  EXPECT_EQ(parse(j).dtype, DType::F16);
  auto c = parseConfig(j.dump(), "config.json", DType::F32);
  ASSERT_TRUE(bool(c));
  EXPECT_EQ(c->dtype, DType::F32);
}

TEST(HFConfig, RopeScalingTypeAliasAndTheta) {
  json j = tiny("llama");
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  ModelConfig c = parse(j);
  EXPECT_EQ(c.ropeType, "linear");
  EXPECT_EQ(c.rope.kind, llmc::rope::Kind::Linear);
  EXPECT_DOUBLE_EQ(c.rope.factor, 2.0);
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
}

// transformers inserts the top-level rope_theta only when the dict has none
// (shared/MODELS.md, RoPE parameters, step 2): the dict's value wins.
TEST(HFConfig, RopeParametersThetaWinsOverTheTopLevelKey) {
  json j = tiny("llama");
  j["rope_theta"] = 10000.0;
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
  EXPECT_DOUBLE_EQ(parse(j).rope.theta, 500000.0);
  j["rope_parameters"] = {{"rope_type", "default"}};
  EXPECT_DOUBLE_EQ(parse(j).rope.theta, 10000.0);
}

// Every family's __init__ replaces num_key_value_heads=None by
// num_attention_heads; a missing key takes the class default instead.
TEST(HFConfig, NullKVHeadsMeansOnePerQueryHead) {
  for (const char *family : {"llama", "mistral", "qwen2", "qwen3"}) {
    SCOPED_TRACE(family);
    json j = tiny(family);
    j["num_key_value_heads"] = nullptr;
    EXPECT_EQ(parse(j).numKVHeads, 4);
  }
  // Mistral's class default is 8, which does not divide 4 heads.
  json j = tiny("mistral");
  EXPECT_NE(errorOf(j.dump()).find("\"num_key_value_heads\": value 8 does not "
                                   "divide num_attention_heads (4)"),
            std::string::npos);
}

TEST(HFConfig, YarnAttentionFactor) {
  json j = tiny("llama");
  j["max_position_embeddings"] = 16384;
  j["rope_scaling"] = {{"rope_type", "yarn"},
                       {"factor", 4.0},
                       {"original_max_position_embeddings", 4096}};
  ModelConfig c = parse(j);
  // 0.1 ln 4 + 1
  EXPECT_NEAR(c.ropeAttentionFactor, 1.1386294361119891, 1e-15);
  EXPECT_TRUE(c.rope.truncate);
  EXPECT_DOUBLE_EQ(c.rope.betaFast, 32.0);
  EXPECT_DOUBLE_EQ(c.rope.betaSlow, 1.0);
}

TEST(HFConfig, Llama3OriginalMaxDefaultsToMaxPositions) {
  json j = tiny("llama");
  j["max_position_embeddings"] = 8192;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}};
  EXPECT_EQ(parse(j).rope.originalMaxPosition, 8192);
}

TEST(HFConfig, LongRopeNeedsHalfHeadDimFactors) {
  json j = tiny("llama");
  j["max_position_embeddings"] = 8192;
  j["rope_scaling"] = {{"rope_type", "longrope"},
                       {"original_max_position_embeddings", 4096},
                       {"short_factor", std::vector<double>(8, 1.0)},
                       {"long_factor", std::vector<double>(8, 2.0)}};
  ModelConfig c = parse(j);
  EXPECT_EQ(c.rope.longFactor.size(), 8u);
  // sqrt(1 + ln 2 / ln 4096), evaluated in Python
  EXPECT_NEAR(c.ropeAttentionFactor, 1.0408329997330663, 1e-15);

  j["rope_scaling"]["long_factor"] = std::vector<double>(7, 2.0);
  EXPECT_NE(errorOf(j.dump()).find("rope_scaling.long_factor"),
            std::string::npos);
}

// Every message names the file and the key.
TEST(HFConfigErrors, NameFileAndKey) {
  json j = tiny("llama");
  EXPECT_EQ(errorOf("{\"model_type\": "),
            "dir/config.json: malformed JSON at line 1, column 16: syntax error "
            "while parsing value - unexpected end of input; expected '[', '{', or a "
            "literal");
  json missing = j;
  missing.erase("hidden_size");
  EXPECT_EQ(errorOf(missing.dump()),
            "dir/config.json: key \"hidden_size\": required key is missing");
  json wrongType = j;
  wrongType["num_hidden_layers"] = "2";
  EXPECT_EQ(errorOf(wrongType.dump()),
            "dir/config.json: key \"num_hidden_layers\": expected an integer, "
            "got a string (\"2\")");
  json indivisible = j;
  indivisible["num_attention_heads"] = 3;
  EXPECT_EQ(errorOf(indivisible.dump()),
            "dir/config.json: key \"hidden_size\": value 64 is not divisible "
            "by num_attention_heads (3) and no head_dim is given");
  json kv = j;
  kv["num_key_value_heads"] = 3;
  EXPECT_EQ(errorOf(kv.dump()),
            "dir/config.json: key \"num_key_value_heads\": value 3 does not "
            "divide num_attention_heads (4)");
  json zero = j;
  zero["num_hidden_layers"] = 0;
  EXPECT_EQ(errorOf(zero.dump()),
            "dir/config.json: key \"num_hidden_layers\": value 0 is out of "
            "range [1, 4096]");
  json huge = j;
  huge["num_hidden_layers"] = 2000000;
  EXPECT_NE(errorOf(huge.dump()).find("value 2000000 is out of range"),
            std::string::npos);
  json negative = j;
  negative["vocab_size"] = -5;
  EXPECT_NE(errorOf(negative.dump()).find("\"vocab_size\": value -5 is out"),
            std::string::npos);
  json family = j;
  family["model_type"] = "gpt2";
  EXPECT_EQ(errorOf(family.dump()),
            "dir/config.json: key \"model_type\": unsupported model_type "
            "\"gpt2\" (supported: llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, glm4_moe, olmoe, minimax_m2, deepseek_v2, deepseek_v3, kimi_k2, gemma2, gemma3_text, gemma3, mistral3, olmo2, olmo3, smollm3, granite, phi3, llama4_text, llama4, gpt_oss)");
  json rope = j;
  rope["rope_scaling"] = {{"rope_type", "su"}, {"factor", 2.0}};
  EXPECT_EQ(errorOf(rope.dump()),
            "dir/config.json: key \"rope_scaling.rope_type\": unsupported rope "
            "type \"su\" (supported: default, linear, dynamic, llama3, yarn, "
            "longrope)");
  // A quantized config parses (compiles without weights read it as its
  // dtype); reading its weights is refused with this message.
  json quant = j;
  quant["quantization_config"] = {{"quant_method", "hqq"}};
  ModelConfig q = parse(quant);
  EXPECT_EQ(q.quantMethod, "hqq");
  EXPECT_FALSE(q.fp8);
  EXPECT_EQ(llmc::hf::quantizedError(q),
            "config.json: key \"quantization_config\": unsupported: quantized "
            "checkpoints (quant_method \"hqq\")");
  // A dense model's FP8 blocks are read (128 x 128 unless said otherwise).
  quant["quantization_config"] = {{"quant_method", "fp8"}};
  ModelConfig f = parse(quant);
  ASSERT_TRUE(f.fp8);
  EXPECT_EQ(f.fp8->rows, 128);
  EXPECT_EQ(f.fp8->cols, 128);
  EXPECT_EQ(errorOf("[1, 2]"), "dir/config.json: expected a JSON object at the "
                               "top level, got an array");
}

// compressed-tensors int4: groups or one scale per row, and `ignore` as
// compressed-tensors matches it (a name, or "re:" and a regular expression
// matched from the start of the module name).
TEST(HFConfig, CompressedTensorsInt4) {
  json j = tiny("llama");
  json weights = {{"num_bits", 4},      {"type", "int"},
                  {"symmetric", true},  {"strategy", "group"},
                  {"group_size", 32},   {"dynamic", false}};
  j["quantization_config"] = {
      {"quant_method", "compressed-tensors"},
      {"format", "pack-quantized"},
      {"config_groups",
       {{"group_0", {{"targets", {"Linear"}}, {"weights", weights}}}}},
      {"ignore", {"lm_head", "re:.*mlp\\.down_proj", "re:layers"}}};
  ModelConfig c = parse(j);
  ASSERT_TRUE(c.intWeights);
  EXPECT_FALSE(c.quantizeAtCompile);
  EXPECT_EQ(c.intWeights->group, 32);
  EXPECT_EQ(c.intWeights->scaleDtype, c.dtype);
  EXPECT_TRUE(c.intWeights->ignores("lm_head"));
  EXPECT_TRUE(c.intWeights->ignores("model.layers.3.mlp.down_proj"));
  EXPECT_FALSE(c.intWeights->ignores("model.layers.3.mlp.up_proj"));
  // re.match anchors at the start: "layers" does not match "model.layers".
  EXPECT_FALSE(c.intWeights->ignores("model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(c.intWeights->ignores("lm_head2"));
  j["quantization_config"]["config_groups"]["group_0"]["weights"]["strategy"] =
      "channel";
  ModelConfig perRow = parse(j);
  ASSERT_TRUE(perRow.intWeights);
  EXPECT_EQ(perRow.intWeights->group, std::numeric_limits<int64_t>::max());
  // MoE models' experts have no int4 form: their checkpoints are refused.
  json moe = tiny("qwen3_moe");
  moe["num_experts"] = 4;
  moe["num_experts_per_tok"] = 2;
  moe["moe_intermediate_size"] = 32;
  moe["quantization_config"] = j["quantization_config"];
  EXPECT_FALSE(parse(moe).intWeights);
}

// Mixture-of-Experts: transformers' defaults and per-layer choices.
TEST(HFConfig, MixtralRoutesEveryLayerAndAlwaysRenormalizes) {
  json j = tiny("mixtral");
  j["num_key_value_heads"] = 2; // the class default 8 exceeds the 4 heads
  j["norm_topk_prob"] = true; // false is refused: the block always divides
  ModelConfig c = parse(j);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->numExperts, 8);
  EXPECT_EQ(c.moe->topK, 2);
  EXPECT_EQ(c.moe->intermediateSize, 128); // intermediate_size, per expert
  EXPECT_TRUE(c.moe->normalize);
  EXPECT_FALSE(c.moe->weightsInActDtype);
  EXPECT_TRUE(c.moe->mixtralNames);
  EXPECT_EQ(c.moeLayers, std::vector<bool>(3, true));
  EXPECT_DOUBLE_EQ(c.rope.theta, 1e6);
}

TEST(HFConfig, Qwen3MoeDenseLayers) {
  json j = tiny("qwen3_moe");
  j["num_hidden_layers"] = 6;
  j["num_experts"] = 16;
  j["decoder_sparse_step"] = 2; // layers 1, 3, 5
  j["mlp_only_layers"] = {3};
  ModelConfig c = parse(j);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->numExperts, 16);
  EXPECT_EQ(c.moe->topK, 8);
  EXPECT_EQ(c.moe->intermediateSize, 768);
  EXPECT_FALSE(c.moe->normalize);
  EXPECT_TRUE(c.moe->weightsInActDtype);
  EXPECT_EQ(c.moeLayers,
            (std::vector<bool>{false, true, false, false, false, true}));
  // transformers 5 writes the count as num_local_experts.
  json v5 = tiny("qwen3_moe");
  v5["num_local_experts"] = 12;
  EXPECT_EQ(parse(v5).moe->numExperts, 12);
}

TEST(HFConfig, Glm4MoeIsDeepSeekV3Routing) {
  json j = tiny("glm4_moe");
  j["num_key_value_heads"] = 2; // the class default 8 exceeds the 4 heads
  j["num_hidden_layers"] = 4;
  j["n_routed_experts"] = 16;
  j["n_group"] = 4;
  j["topk_group"] = 2;
  j["num_experts_per_tok"] = 4;
  j["first_k_dense_replace"] = 2;
  j["n_shared_experts"] = 2;
  j["moe_intermediate_size"] = 32;
  j["routed_scaling_factor"] = 2.5;
  ModelConfig c = parse(j);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->scoring, llmc::hf::RouterScoring::Sigmoid);
  EXPECT_TRUE(c.moe->logitsInF32);
  EXPECT_TRUE(c.moe->correctionBias);
  EXPECT_EQ(c.moe->groups, 4);
  EXPECT_EQ(c.moe->topGroups, 2);
  EXPECT_EQ(c.moe->groupScore, llmc::hf::RouterGroupScore::SumOfTop2);
  EXPECT_TRUE(c.moe->normalize);
  EXPECT_DOUBLE_EQ(c.moe->normalizeEpsilon, 1e-20);
  EXPECT_DOUBLE_EQ(c.moe->scaling, 2.5);
  EXPECT_EQ(c.moe->sharedIntermediateSize, 64); // 2 shared experts of 32
  EXPECT_EQ(c.moeLayers, (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(c.rope.dim, 8); // partial_rotary_factor 0.5 of head_dim 16
}

TEST(HFConfig, Qwen2MoeSharedExpertGate) {
  json j = tiny("qwen2_moe");
  j["num_key_value_heads"] = 4;
  j["use_sliding_window"] = false;
  j["sliding_window"] = 0; // what transformers saves then
  ModelConfig c = parse(j);
  EXPECT_EQ(c.family, Family::Qwen2Moe);
  EXPECT_TRUE(c.qkvBias);
  EXPECT_FALSE(c.oBias);
  EXPECT_FALSE(c.slidingWindow.has_value());
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->numExperts, 60);
  EXPECT_EQ(c.moe->topK, 4);
  EXPECT_EQ(c.moe->intermediateSize, 1408);
  EXPECT_EQ(c.moe->sharedIntermediateSize, 5632);
  EXPECT_TRUE(c.moe->sharedGate);
  EXPECT_FALSE(c.moe->normalize);
  EXPECT_TRUE(c.moe->weightsInActDtype);
  EXPECT_EQ(c.moeLayers, std::vector<bool>(3, true));
  // A window: even layers below max_window_layers (unlike qwen2).
  json w = j;
  w["num_hidden_layers"] = 5;
  w["use_sliding_window"] = true;
  w["sliding_window"] = 64;
  w["max_window_layers"] = 3;
  ModelConfig cw = parse(w);
  EXPECT_EQ(cw.slidingWindow, 64);
  EXPECT_EQ(cw.slidingLayers,
            (std::vector<bool>{true, false, true, false, false}));
}

TEST(HFConfig, MiniMaxM2RoutingAndRotaryDim) {
  json j = tiny("minimax_m2");
  j["num_key_value_heads"] = 2;
  j["head_dim"] = 32;
  j["rotary_dim"] = 16;       // legacy key: partial_rotary_factor 0.5
  j["scoring_func"] = "sigmoid"; // not read by transformers; others refused
  ModelConfig c = parse(j);
  EXPECT_EQ(c.family, Family::MiniMaxM2);
  EXPECT_TRUE(c.qkNormFull);
  EXPECT_EQ(c.rope.dim, 16);
  EXPECT_DOUBLE_EQ(c.rope.theta, 5e6);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->numExperts, 256);
  EXPECT_EQ(c.moe->scoring, llmc::hf::RouterScoring::Sigmoid);
  EXPECT_TRUE(c.moe->correctionBias);
  EXPECT_TRUE(c.moe->biasOnBlock);
  EXPECT_TRUE(c.moe->normalize);
  EXPECT_FALSE(c.moe->logitsInF32);
  EXPECT_FALSE(c.moe->weightsInActDtype);
  EXPECT_EQ(c.moe->groups, 1);
  EXPECT_DOUBLE_EQ(c.moe->scaling, 1.0);
  EXPECT_EQ(c.moeLayers, std::vector<bool>(3, true));
}

TEST(HFConfig, OlmoeNormsWholeProjections) {
  ModelConfig c = parse(tiny("olmoe"));
  EXPECT_EQ(c.family, Family::Olmoe);
  EXPECT_TRUE(c.qkNormFull);
  EXPECT_FALSE(c.qkNorm);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->numExperts, 64);
  EXPECT_EQ(c.moe->topK, 8);
  EXPECT_EQ(c.moe->intermediateSize, 128);
  EXPECT_FALSE(c.moe->normalize);
  EXPECT_EQ(c.maxPositionEmbeddings, 4096);
}

TEST(HFConfigErrors, MoEKeysByName) {
  json j = tiny("glm4_moe");
  j["num_key_value_heads"] = 2; // the class default 8 exceeds the 4 heads
  j["n_routed_experts"] = 8;
  j["n_group"] = 3;
  EXPECT_EQ(errorOf(j.dump()),
            "dir/config.json: key \"n_group\": value 3 does not divide "
            "n_routed_experts (8)");
  json mm = tiny("minimax_m2");
  mm["num_key_value_heads"] = 2;
  mm["scoring_func"] = "softmax";
  EXPECT_EQ(errorOf(mm.dump()),
            "dir/config.json: key \"scoring_func\": unsupported scoring "
            "function \"softmax\" for minimax_m2 (supported: sigmoid)");
  json mx = tiny("mixtral");
  mx["num_key_value_heads"] = 2;
  mx["norm_topk_prob"] = false;
  EXPECT_NE(errorOf(mx.dump()).find("key \"norm_topk_prob\": unsupported "
                                    "value false for mixtral"),
            std::string::npos);
  json k = tiny("mixtral");
  k["num_key_value_heads"] = 2; // the class default 8 exceeds the 4 heads
  k["num_experts_per_tok"] = 9;
  EXPECT_EQ(errorOf(k.dump()),
            "dir/config.json: key \"num_experts_per_tok\": value 9 exceeds "
            "num_local_experts (8)");
}

} // namespace

// DeepSeek: MLA sizes, the softmax scale (V3 multiplies yarn's mscale^2, V2
// does not), the RoPE forms, the routers, dense-first layers.
TEST(HFConfig, DeepseekV3MLAAndRouting) {
  json j = tiny("deepseek_v3");
  j["num_hidden_layers"] = 4;
  j["q_lora_rank"] = 48;
  j["kv_lora_rank"] = 32;
  j["qk_nope_head_dim"] = 16;
  j["qk_rope_head_dim"] = 16;
  j["v_head_dim"] = 24;
  j["n_routed_experts"] = 8;
  j["n_group"] = 4;
  j["topk_group"] = 2;
  j["num_experts_per_tok"] = 3;
  j["first_k_dense_replace"] = 1;
  j["moe_intermediate_size"] = 48;
  j["num_nextn_predict_layers"] = 1;
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0},
                       {"mscale", 1.0}, {"mscale_all_dim", 1.0},
                       {"original_max_position_embeddings", 64}};
  ModelConfig c = parse(j);
  ASSERT_TRUE(c.mla.has_value());
  EXPECT_EQ(c.mla->qLoraRank, 48);
  EXPECT_EQ(c.mla->kvLoraRank, 32);
  EXPECT_EQ(c.mla->nopeDim, 16);
  EXPECT_EQ(c.mla->ropeDim, 16);
  EXPECT_EQ(c.mla->vDim, 24);
  EXPECT_EQ(c.headDim, 16); // the RoPE width
  EXPECT_EQ(c.rope.dim, 16);
  EXPECT_EQ(c.numKVHeads, 4);
  const double m = 0.1 * std::log(4.0) + 1.0;
  EXPECT_NEAR(c.mla->scale, m * m / std::sqrt(32.0), 1e-12);
  EXPECT_DOUBLE_EQ(c.ropeAttentionFactor, 1.0); // mscale == mscale_all_dim
  EXPECT_TRUE(c.mla->ropeInterleaved);
  EXPECT_FALSE(c.mla->ropeInFp32);
  EXPECT_EQ(c.mtpLayers, 1);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->scoring, llmc::hf::RouterScoring::Sigmoid);
  EXPECT_TRUE(c.moe->correctionBias);
  EXPECT_EQ(c.moe->groups, 4);
  EXPECT_EQ(c.moe->topGroups, 2);
  EXPECT_DOUBLE_EQ(c.moe->scaling, 2.5); // V3's default
  EXPECT_EQ(c.moe->sharedIntermediateSize, 48);
  EXPECT_EQ(c.moeLayers, (std::vector<bool>{false, true, true, true}));
  j["rope_interleave"] = false;
  EXPECT_FALSE(parse(j).mla->ropeInterleaved);
  // kimi_k2 is the same architecture.
  j["model_type"] = "kimi_k2";
  EXPECT_EQ(parse(j).family, llmc::hf::Family::DeepseekV3);
}

TEST(HFConfig, DeepseekV2MLAAndRouting) {
  json j = tiny("deepseek_v2");
  j["q_lora_rank"] = nullptr;
  j["kv_lora_rank"] = 32;
  j["qk_nope_head_dim"] = 16;
  j["qk_rope_head_dim"] = 8;
  j["v_head_dim"] = 12;
  j["n_routed_experts"] = 8;
  j["num_experts_per_tok"] = 2;
  j["norm_topk_prob"] = true; // not read by transformers' V2
  j["first_k_dense_replace"] = 1;
  j["moe_intermediate_size"] = 48;
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 40.0},
                       {"mscale", 0.707}, {"mscale_all_dim", 0.707},
                       {"original_max_position_embeddings", 64}};
  ModelConfig c = parse(j);
  ASSERT_TRUE(c.mla.has_value());
  EXPECT_EQ(c.mla->qLoraRank, 0);
  EXPECT_DOUBLE_EQ(c.mla->scale, 1.0 / std::sqrt(24.0)); // no mscale^2
  EXPECT_TRUE(c.mla->ropeInterleaved);
  EXPECT_TRUE(c.mla->ropeInFp32);
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->scoring, llmc::hf::RouterScoring::Softmax);
  EXPECT_TRUE(c.moe->logitsInF32);
  EXPECT_FALSE(c.moe->normalize);
  EXPECT_EQ(c.moe->groups, 1);
  EXPECT_DOUBLE_EQ(c.moe->scaling, 1.0);
  EXPECT_EQ(c.moe->sharedIntermediateSize, 96); // 2 shared experts (default)
  EXPECT_EQ(c.moeLayers, (std::vector<bool>{false, true, true}));
  j["topk_method"] = "group_limited_greedy";
  j["n_group"] = 4;
  j["topk_group"] = 2;
  ModelConfig g = parse(j);
  EXPECT_EQ(g.moe->groups, 4);
  EXPECT_EQ(g.moe->groupScore, llmc::hf::RouterGroupScore::Max);
  // Without routed experts every layer is dense.
  j["n_routed_experts"] = nullptr;
  EXPECT_FALSE(parse(j).moe.has_value());
}

TEST(HFConfigErrors, DeepseekKeysByName) {
  json j = tiny("deepseek_v3");
  j["n_routed_experts"] = 8;
  j["n_group"] = 4;
  j["topk_group"] = 2;
  j["num_experts_per_tok"] = 2;
  json odd = j;
  odd["qk_rope_head_dim"] = 7;
  EXPECT_EQ(errorOf(odd.dump()),
            "dir/config.json: key \"qk_rope_head_dim\": head dimension 7 must "
            "be even for rotary embedding");
  json method = j;
  method["topk_method"] = "greedy";
  EXPECT_NE(errorOf(method.dump()).find("key \"topk_method\": unsupported "
                                        "top-k method \"greedy\" for "
                                        "deepseek_v3 (supported: noaux_tc)"),
            std::string::npos);
  json heads = j;
  heads["num_key_value_heads"] = 2;
  EXPECT_NE(errorOf(heads.dump()).find("key \"num_key_value_heads\": value 2 "
                                       "differs from num_attention_heads"),
            std::string::npos);
  json v32 = j;
  v32["model_type"] = "deepseek_v32";
  EXPECT_NE(errorOf(v32.dump()).find("DeepSeek V3.2's sparse attention"),
            std::string::npos);
  json v2 = tiny("deepseek_v2");
  v2["n_routed_experts"] = 8;
  EXPECT_NE(errorOf(v2.dump()).find("key \"num_experts_per_tok\""),
            std::string::npos); // V2 has no default
  v2["num_experts_per_tok"] = 2;
  v2["topk_method"] = "noaux_tc";
  EXPECT_NE(errorOf(v2.dump()).find("unsupported top-k method \"noaux_tc\" "
                                    "for deepseek_v2"),
            std::string::npos);
}

// Dense families with their own layer shapes (shared/MODELS.md §10, §13,
// §20-24, phi3): the defaults transformers fills in.
TEST(HFConfig, Gemma2Defaults) {
  json j = tiny("gemma2");
  j["head_dim"] = 16;
  j["num_key_value_heads"] = 2;
  j["sliding_window"] = 6;
  ModelConfig c = parse(j);
  EXPECT_EQ(c.normVariant, llmc::hf::RMSNormVariant::OnePlusWeight);
  EXPECT_EQ(c.normPlacement, llmc::hf::NormPlacement::Sandwich);
  EXPECT_EQ(c.hiddenAct, llmc::hf::Activation::GELUTanh);
  EXPECT_DOUBLE_EQ(*c.embeddingScale, 8.0); // sqrt(64)
  EXPECT_DOUBLE_EQ(*c.attentionScale, 1.0 / 16.0); // query_pre_attn_scalar 256
  EXPECT_DOUBLE_EQ(*c.attentionSoftcap, 50.0);
  EXPECT_DOUBLE_EQ(*c.finalSoftcap, 30.0);
  EXPECT_TRUE(c.tieWordEmbeddings);
  EXPECT_FALSE(c.qkNorm);
  // Even layers slide.
  EXPECT_EQ(c.slidingLayers, (std::vector<bool>{true, false, true}));
  j["attn_logit_softcapping"] = nullptr;
  EXPECT_FALSE(parse(j).attentionSoftcap.has_value());
}

TEST(HFConfig, Gemma3TextLocalRopeAndPattern) {
  json j = tiny("gemma3_text");
  j["num_hidden_layers"] = 6;
  j["head_dim"] = 16;
  j["num_key_value_heads"] = 2;
  j["sliding_window_pattern"] = 3;
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  ModelConfig c = parse(j);
  EXPECT_TRUE(c.qkNorm);
  EXPECT_FALSE(c.attentionSoftcap.has_value()); // never applied by Gemma 3
  EXPECT_FALSE(c.finalSoftcap.has_value());
  EXPECT_EQ(c.slidingLayers,
            (std::vector<bool>{true, true, false, true, true, false}));
  EXPECT_EQ(c.rope.kind, llmc::rope::Kind::Linear); // global layers
  EXPECT_DOUBLE_EQ(c.rope.theta, 1e6);
  ASSERT_TRUE(c.localRope.has_value());
  EXPECT_EQ(c.localRope->kind, llmc::rope::Kind::Default);
  EXPECT_DOUBLE_EQ(c.localRope->theta, 10000.0);
  // The multimodal wrapper: text_config with the wrapper's tie flag.
  json w = {{"model_type", "gemma3"},
            {"text_config", {{"hidden_size", 64}, {"num_hidden_layers", 2},
                             {"head_dim", 16}, {"num_key_value_heads", 2},
                             {"num_attention_heads", 4},
                             {"intermediate_size", 128},
                             {"vocab_size", 256}}}};
  ModelConfig g = parse(w);
  EXPECT_EQ(g.modelType, "gemma3");
  EXPECT_EQ(g.weightPrefix, "language_model.");
  EXPECT_TRUE(g.tieWordEmbeddings);
  EXPECT_FALSE(g.finalSoftcap.has_value());
}

TEST(HFConfig, OlmoSmolGranitePhi3) {
  ModelConfig o = parse(tiny("olmo2"));
  EXPECT_EQ(o.normPlacement, llmc::hf::NormPlacement::Post);
  EXPECT_EQ(o.normVariant, llmc::hf::RMSNormVariant::WeightInFp32);
  EXPECT_TRUE(o.qkNormFull);
  EXPECT_TRUE(o.ropeInFp32);
  EXPECT_FALSE(o.tieWordEmbeddings);
  json o3 = tiny("olmo3");
  o3["num_hidden_layers"] = 4;
  ModelConfig c3 = parse(o3);
  EXPECT_EQ(c3.slidingLayers, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(*c3.slidingWindow, 4096);
  ASSERT_TRUE(c3.localRope.has_value());
  EXPECT_DOUBLE_EQ(c3.localRope->theta, 500000.0);

  json s = tiny("smollm3");
  s["num_hidden_layers"] = 8;
  s["num_key_value_heads"] = 2;
  ModelConfig sm = parse(s);
  EXPECT_EQ(sm.ropeLayers, (std::vector<bool>{true, true, true, false, true,
                                              true, true, false}));
  EXPECT_TRUE(sm.tieWordEmbeddings);
  EXPECT_DOUBLE_EQ(sm.rope.theta, 2e6);

  json g = tiny("granite");
  g["embedding_multiplier"] = 12.0;
  g["residual_multiplier"] = 0.22;
  g["attention_multiplier"] = 0.0078125;
  g["logits_scaling"] = 16.0;
  ModelConfig gr = parse(g);
  EXPECT_DOUBLE_EQ(gr.embeddingMultiplier, 12.0);
  EXPECT_DOUBLE_EQ(gr.residualMultiplier, 0.22);
  EXPECT_DOUBLE_EQ(*gr.attentionScale, 0.0078125);
  EXPECT_DOUBLE_EQ(gr.logitsDivisor, 16.0);

  json p = tiny("phi3");
  p["partial_rotary_factor"] = 0.75;
  p["sliding_window"] = 6;
  ModelConfig ph = parse(p);
  EXPECT_TRUE(ph.fusedProjections);
  EXPECT_EQ(ph.rope.dim, 12); // 0.75 of head_dim 16
  EXPECT_EQ(ph.slidingLayers, (std::vector<bool>{true, true, true}));
}
