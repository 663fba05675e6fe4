//===- HFConfig.cpp - read and resolve a Hugging Face config.json ---------===//
//
// Defaults and derivations follow transformers (see shared/MODELS.md §1-5).

#include "frontends/hf/HFConfig.h"

#include "compiler/support/InputFile.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "frontends/hf/JsonDescribe.h"
#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

using json = nlohmann::json;

namespace llmc::hf {
namespace {

/// Thrown inside this file only, caught by parseConfig.
struct ConfigError {
  std::string message;
};

std::string describe(const json &v) { return describeJsonValue(v); }

/// Typed access to one JSON object, with errors naming the key.
class Reader {
public:
  Reader(const json &object, std::string prefix)
      : object(object), prefix(std::move(prefix)) {}

  bool has(const char *key) const {
    return object.contains(key) && !object.at(key).is_null();
  }
  bool containsKey(const char *key) const { return object.contains(key); }

  [[noreturn]] void fail(const char *key, const std::string &what) const {
    throw ConfigError{"key \"" + prefix + key + "\": " + what};
  }

  int64_t integer(const char *key, int64_t lo, int64_t hi) const {
    if (!has(key))
      fail(key, "required key is missing");
    const json &v = object.at(key);
    if (!v.is_number_integer())
      fail(key, "expected an integer, got " + describe(v));
    // Unsigned values beyond int64 are out of range like any other.
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
      fail(key, "value " + v.dump() + " is out of range [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi)
      fail(key, "value " + std::to_string(x) + " is out of range [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }
  int64_t integer(const char *key, int64_t lo, int64_t hi,
                  int64_t fallback) const {
    return has(key) ? integer(key, lo, hi) : fallback;
  }

  double number(const char *key, double lo, double hi) const {
    if (!has(key))
      fail(key, "required key is missing");
    const json &v = object.at(key);
    if (!v.is_number())
      fail(key, "expected a number, got " + describe(v));
    double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
      std::ostringstream os;
      os << "value " << v.dump() << " is out of range [" << lo << ", " << hi
         << "]";
      fail(key, os.str());
    }
    return x;
  }
  double number(const char *key, double lo, double hi, double fallback) const {
    return has(key) ? number(key, lo, hi) : fallback;
  }
  std::optional<double> optionalNumber(const char *key, double lo,
                                       double hi) const {
    if (!has(key))
      return std::nullopt;
    return number(key, lo, hi);
  }

  bool boolean(const char *key, bool fallback) const {
    if (!has(key))
      return fallback;
    const json &v = object.at(key);
    if (!v.is_boolean())
      fail(key, "expected true or false, got " + describe(v));
    return v.get<bool>();
  }

  std::string string(const char *key) const {
    if (!has(key))
      fail(key, "required key is missing");
    const json &v = object.at(key);
    if (!v.is_string())
      fail(key, "expected a string, got " + describe(v));
    return v.get<std::string>();
  }

  /// The module names listed under `key` (absent or null: none).
  std::vector<std::string> moduleNames(const char *key) const {
    std::vector<std::string> out;
    if (!has(key))
      return out;
    const json &m = object.at(key);
    if (!m.is_array())
      fail(key, "expected a list of module names, got " + describe(m));
    for (const json &e : m) {
      if (!e.is_string())
        fail(key, "expected module names, got " + describe(e));
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  std::vector<double> numbers(const char *key, size_t count) const {
    if (!has(key))
      fail(key, "required key is missing");
    const json &v = object.at(key);
    if (!v.is_array())
      fail(key, "expected an array of numbers, got " + describe(v));
    if (v.size() != count)
      fail(key, "expected " + std::to_string(count) + " values (head_dim/2), got " +
                    std::to_string(v.size()));
    std::vector<double> out;
    for (const json &e : v) {
      if (!e.is_number() || !std::isfinite(e.get<double>()) ||
          e.get<double>() <= 0)
        fail(key, "expected positive numbers, got " + describe(e));
      out.push_back(e.get<double>());
    }
    return out;
  }

  const json &object;
  std::string prefix;
};

/// quantization_config of quant_method "fp8" (transformers'
/// FineGrainedFP8Config): every key that changes the computation is read or
/// refused by name.
ModelConfig::FP8Block readFP8(const Reader &q) {
  ModelConfig::FP8Block fp8;
  if (q.has("fmt") && q.string("fmt") != "e4m3")
    q.fail("fmt", "unsupported: \"" + q.string("fmt") +
                      "\" (FP8 checkpoints are read as e4m3)");
  if (q.has("activation_scheme")) {
    const std::string scheme = q.string("activation_scheme");
    if (scheme != "dynamic")
      q.fail("activation_scheme",
             "unsupported: \"" + scheme +
                 "\" (static activation scales are not read; \"dynamic\" "
                 "is, with the activations kept unquantized)");
  }
  if (q.has("weight_block_size")) {
    const json &b = q.object.at("weight_block_size");
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() ||
        !b[1].is_number_integer() || b[0].get<int64_t>() < 1 ||
        b[1].get<int64_t>() < 1 || b[0].get<int64_t>() > (1 << 20) ||
        b[1].get<int64_t>() > (1 << 20))
      q.fail("weight_block_size",
             "expected two positive integers [rows, columns], got " +
                 describe(b));
    fp8.rows = b[0].get<int64_t>();
    fp8.cols = b[1].get<int64_t>();
  }
  for (const char *key : {"modules_to_not_convert", "ignored_layers"})
    for (std::string &name : q.moduleNames(key))
      fp8.notConverted.push_back(std::move(name));
  return fp8;
}

/// quantization_config of quant_method "mxfp4" (transformers' Mxfp4Config,
/// gpt-oss): modules_to_not_convert is read; `dequantize` only says how
/// transformers loads the checkpoint and changes nothing here.
ModelConfig::MXFP4 readMXFP4(const Reader &q) {
  ModelConfig::MXFP4 mx;
  mx.notConverted = q.moduleNames("modules_to_not_convert");
  return mx;
}

/// quantization_config of quant_method "compressed-tensors" (llm-compressor's
/// checkpoints), into cfg.intWeights or cfg.fp8: symmetric int4/int8
/// weights in groups or per channel in the "pack-quantized" format (int32
/// words of values stored plus 2^(bits - 1): `weight_packed`,
/// `weight_scale`, `weight_shape`), weight-only; or FP8 (e4m3) weights per
/// channel, per tensor or in blocks in the "float-quantized" format
/// (`weight`, `weight_scale`), with at most dynamic FP8 activations, which
/// llmc keeps unquantized (said in a note). Every other scheme is refused
/// by name.
void readCompressedTensors(const Reader &q, ModelConfig &cfg) {
  auto isEmpty = [&](const char *key) {
    if (!q.has(key))
      return true;
    const json &v = q.object.at(key);
    return (v.is_object() || v.is_array()) && v.empty();
  };
  for (const char *key : {"sparsity_config", "transform_config",
                          "kv_cache_scheme", "moe_sparsity_config"})
    if (!isEmpty(key))
      q.fail(key, "unsupported: " + describe(q.object.at(key)) +
                      " (compressed-tensors checkpoints are read with "
                      "weight quantization and nothing else)");
  // "compressed": the tensors are packed as `format` says; "frozen" or
  // "calibration" checkpoints hold float weights beside their scales.
  if (q.has("quantization_status") &&
      q.string("quantization_status") != "compressed")
    q.fail("quantization_status",
           "unsupported: \"" + q.string("quantization_status") +
               "\" (compressed checkpoints are read)");
  // version and global_compression_ratio describe the writer, not the
  // numbers.
  std::string format = q.has("format") ? q.string("format") : "";
  if (!q.has("config_groups") || !q.object.at("config_groups").is_object() ||
      q.object.at("config_groups").size() != 1)
    q.fail("config_groups",
           "expected one quantization group, got " +
               (q.has("config_groups") ? describe(q.object.at("config_groups"))
                                       : std::string("none")));
  const json &groups = q.object.at("config_groups");
  const std::string groupName = groups.begin().key();
  const json &group = groups.begin().value();
  if (!group.is_object())
    q.fail("config_groups", "expected an object for \"" + groupName +
                                "\", got " + describe(group));
  const Reader g(group, q.prefix + "config_groups." + groupName + ".");
  if (g.has("format"))
    format = g.string("format");
  const bool packed = format == "pack-quantized";
  if (!packed && format != "float-quantized")
    q.fail("format", "unsupported: \"" + format +
                         "\" (compressed-tensors checkpoints are read in the "
                         "\"pack-quantized\" (int4, int8) and "
                         "\"float-quantized\" (FP8) formats)");
  if (!g.has("targets") || g.object.at("targets") != json::array({"Linear"}))
    g.fail("targets", "unsupported: " +
                          (g.has("targets") ? describe(g.object.at("targets"))
                                            : std::string("none")) +
                          " (expected [\"Linear\"])");
  if (g.has("output_activations"))
    g.fail("output_activations",
           "unsupported: output quantization (" +
               describe(g.object.at("output_activations")) + ")");
  if (g.has("input_activations")) {
    // FP8 weights with dynamic per-token FP8 activations (W8A8-FP8): the
    // weights are read, the activations kept unquantized (a note says so).
    const json &a = g.object.at("input_activations");
    const bool dynamicFp8 =
        !packed && a.is_object() && a.value("type", "") == "float" &&
        a.value("num_bits", 0) == 8 && a.value("dynamic", false) == true;
    if (!dynamicFp8)
      g.fail("input_activations",
             "unsupported: activation quantization (" + describe(a) +
                 "); weight-only checkpoints are read, and FP8 weights with "
                 "dynamic FP8 activations");
  }
  if (!g.has("weights") || !g.object.at("weights").is_object())
    g.fail("weights", "expected the weights' quantization arguments");
  const Reader w(g.object.at("weights"), g.prefix + "weights.");
  const int bits = int(w.integer("num_bits", 1, 64));
  const std::string type = w.string("type");
  if (packed && type != "int")
    w.fail("type", "unsupported: \"" + type +
                       "\" (the pack-quantized format holds integers)");
  if (!packed && type != "float")
    w.fail("type", "unsupported: \"" + type +
                       "\" (the float-quantized format holds FP8)");
  if (packed && bits != 4 && bits != 8)
    w.fail("num_bits", "unsupported: " + w.object.at("num_bits").dump() +
                           " bits (4- and 8-bit weights are read)");
  if (!packed && bits != 8)
    w.fail("num_bits", "unsupported: " + w.object.at("num_bits").dump() +
                           "-bit floats (FP8 e4m3 weights are read)");
  // Asymmetric integers have zero points; asymmetric FP8 does not exist.
  const bool asymmetric = !w.boolean("symmetric", true);
  if (asymmetric && !packed)
    w.fail("symmetric", "unsupported: asymmetric FP8");
  if (w.boolean("dynamic", false))
    w.fail("dynamic", "unsupported: dynamic weight quantization");
  if (w.has("actorder"))
    w.fail("actorder", "unsupported: " + w.object.at("actorder").dump() +
                           " (activation-ordered groups, weight_g_idx, are "
                           "not read)");
  const int64_t whole = std::numeric_limits<int64_t>::max();
  const std::string strategy = w.string("strategy");
  ModelConfig::IntWeights ints;
  ModelConfig::FP8Block fp8;
  ints.bits = bits;
  ints.zeros = asymmetric;
  fp8.scaleSuffix = "weight_scale";
  if (strategy == "channel") {
    ints.group = whole; // one per row
    fp8.rows = 1;
    fp8.cols = whole;
  } else if (packed && strategy == "group") {
    ints.group = w.integer("group_size", 1, int64_t(1) << 30);
  } else if (!packed && strategy == "tensor") {
    fp8.rows = fp8.cols = whole;
  } else if (!packed && strategy == "block") {
    const json &b = w.object.contains("block_structure")
                        ? w.object.at("block_structure")
                        : json();
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() ||
        !b[1].is_number_integer() || b[0].get<int64_t>() < 1 ||
        b[1].get<int64_t>() < 1)
      w.fail("block_structure",
             "expected two positive integers [rows, columns], got " +
                 describe(b));
    fp8.rows = b[0].get<int64_t>();
    fp8.cols = b[1].get<int64_t>();
  } else {
    w.fail("strategy", "unsupported: \"" + strategy + "\" (" +
                           (packed ? "\"group\" and \"channel\""
                                   : "\"channel\", \"tensor\" and \"block\"") +
                           " are read)");
  }
  std::vector<std::string> ignore = q.moduleNames("ignore");
  for (const std::string &name : ignore) {
    std::string error;
    if (llvm::StringRef(name).starts_with("re:") &&
        !llvm::Regex(llvm::StringRef(name).drop_front(3)).isValid(error))
      q.fail("ignore", "\"" + name + "\" is not a regular expression we "
                       "read: " + error);
  }
  // Every Linear is quantized but those `ignore` names: the LM head must
  // be one of them (no quantized LM head yet).
  if (!ignoredByCompressedTensors(ignore, "lm_head"))
    q.fail("ignore", "unsupported: a quantized lm_head (\"lm_head\" is not "
                     "in ignore)");
  if (packed) {
    ints.notConverted = std::move(ignore);
    cfg.intWeights = std::move(ints);
  } else {
    fp8.ignore = std::move(ignore);
    cfg.fp8 = std::move(fp8);
  }
}

/// quantization_config of quant_method "awq" (AutoAWQ checkpoints, read by
/// transformers' AwqConfig): 4-bit with zero points in groups, the GEMM
/// layout; other versions (GEMV, Marlin, ExLlama, IPEX packings) and
/// symmetric AWQ are refused by name.
ModelConfig::IntWeights readAWQ(const Reader &q) {
  ModelConfig::IntWeights w;
  w.awq = true;
  w.zeros = true;
  w.scaleDtype = DType::F16; // AutoAWQ writes half scales
  const int64_t bits = q.integer(q.has("bits") ? "bits" : "w_bit", 1, 64);
  if (bits != 4)
    q.fail(q.has("bits") ? "bits" : "w_bit",
           "unsupported: " + std::to_string(bits) + " bits (4-bit AWQ is read)");
  const char *groupKey = q.has("group_size") ? "group_size" : "q_group_size";
  const int64_t group = q.integer(groupKey, -1, int64_t(1) << 30);
  if (group == 0)
    q.fail(groupKey, "unsupported: 0");
  w.group = group == -1 ? std::numeric_limits<int64_t>::max() : group;
  if (!q.boolean("zero_point", true))
    q.fail("zero_point", "unsupported: AWQ without zero points");
  if (q.has("version")) {
    const std::string version = q.string("version");
    if (version != "gemm" && version != "GEMM")
      q.fail("version", "unsupported: \"" + version +
                            "\" (AWQ's \"gemm\" packing is read)");
  }
  // do_fuse, fuse_max_seq_len, modules_to_fuse, backend, exllama_config:
  // which kernels transformers runs, not what they compute.
  w.notConverted = q.moduleNames("modules_to_not_convert");
  return w;
}

/// quantization_config of quant_method "gptq" (transformers' GPTQConfig,
/// AutoGPTQ and GPTQModel checkpoints): 4- or 8-bit values in groups along
/// the input features with float16 scales and zero points, weight-only.
/// desc_act (act-order: groups in a permuted order through g_idx) is
/// refused by name, as are per-module overrides.
ModelConfig::IntWeights readGPTQ(const Reader &q) {
  ModelConfig::IntWeights w;
  w.gptq = true;
  w.zeros = true;
  w.scaleDtype = DType::F16;
  const int64_t bits = q.integer("bits", 1, 64);
  if (bits != 4 && bits != 8)
    q.fail("bits", "unsupported: " + std::to_string(bits) +
                       " bits (4- and 8-bit GPTQ are read)");
  w.bits = int(bits);
  // GPTQConfig's default group_size is 128.
  const int64_t group = q.has("group_size")
                            ? q.integer("group_size", -1, int64_t(1) << 30)
                            : 128;
  if (group == 0)
    q.fail("group_size", "unsupported: 0");
  w.group = group == -1 ? std::numeric_limits<int64_t>::max() : group;
  if (q.boolean("desc_act", false))
    q.fail("desc_act", "unsupported: true (act-order checkpoints, whose "
                       "groups follow g_idx, are not read)");
  if (q.has("checkpoint_format")) {
    const std::string format = q.string("checkpoint_format");
    if (format == "gptq_v2")
      w.gptqZeroOffset = 0;
    else if (format != "gptq")
      q.fail("checkpoint_format",
             "unsupported: \"" + format + "\" (\"gptq\" and \"gptq_v2\" are read)");
  }
  for (const char *key : {"dynamic", "modules_in_block_to_quantize"})
    if (q.has(key) && !q.object.at(key).is_null() &&
        !(q.object.at(key).is_array() && q.object.at(key).empty()) &&
        !(q.object.at(key).is_object() && q.object.at(key).empty()))
      q.fail(key, "unsupported: per-module GPTQ settings are not read");
  // sym only says how the zero points were chosen (they are stored either
  // way); damp_percent, true_sequential, static_groups, use_exllama,
  // exllama_config, backend, dataset, tokenizer, model_seqlen and the
  // like say how it was made or which kernels transformers runs.
  w.notConverted = q.moduleNames("modules_to_not_convert");
  return w;
}

// Bounds that reject nonsense while leaving room for models to come.
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHidden = int64_t(1) << 20;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxHeads = 4096;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxPositions = int64_t(1) << 30;

struct FamilyDefaults {
  Family family;
  int64_t maxPositionEmbeddings;
  std::optional<int64_t> numKVHeads;  // nullopt: num_attention_heads
  std::optional<int64_t> headDim;     // nullopt: hidden_size / heads
  double ropeTheta = 10000.0;
  bool tieWordEmbeddings = false;
};

std::optional<FamilyDefaults> familyOf(llvm::StringRef modelType) {
  // transformers' configuration_<family>.py defaults.
  return llvm::StringSwitch<std::optional<FamilyDefaults>>(modelType)
      .Case("llama", FamilyDefaults{Family::Llama, 2048, std::nullopt, std::nullopt})
      .Case("mistral", FamilyDefaults{Family::Mistral, 131072, 8, std::nullopt})
      .Case("qwen2", FamilyDefaults{Family::Qwen2, 32768, 32, std::nullopt})
      .Case("qwen3", FamilyDefaults{Family::Qwen3, 32768, 32, 128})
      .Case("mixtral", FamilyDefaults{Family::Mixtral, 131072, 8,
                                      std::nullopt, 1e6})
      .Case("qwen3_moe",
            FamilyDefaults{Family::Qwen3Moe, 32768, 4, std::nullopt})
      .Case("glm4_moe",
            FamilyDefaults{Family::Glm4Moe, 131072, 8, std::nullopt})
      .Case("olmoe", FamilyDefaults{Family::Olmoe, 4096, std::nullopt,
                                    std::nullopt})
      .Case("qwen2_moe",
            FamilyDefaults{Family::Qwen2Moe, 32768, 16, std::nullopt})
      .Case("minimax_m2",
            FamilyDefaults{Family::MiniMaxM2, 196608, 8, 128, 5e6})
      .Case("deepseek_v2",
            FamilyDefaults{Family::DeepseekV2, 2048, std::nullopt, 64})
      .Cases({"deepseek_v3", "kimi_k2"},
             FamilyDefaults{Family::DeepseekV3, 4096, std::nullopt, 64})
      .Case("gemma2",
            FamilyDefaults{Family::Gemma2, 8192, 4, 256, 10000.0, true})
      .Case("gemma3_text",
            FamilyDefaults{Family::Gemma3Text, 131072, 4, 256, 1e6, true})
      .Case("olmo2", FamilyDefaults{Family::Olmo2, 2048, std::nullopt,
                                    std::nullopt})
      .Case("olmo3", FamilyDefaults{Family::Olmo3, 2048, std::nullopt,
                                    std::nullopt, 500000.0})
      .Case("smollm3", FamilyDefaults{Family::SmolLM3, 32768, 4, std::nullopt,
                                      2e6, true})
      .Case("granite", FamilyDefaults{Family::Granite, 2048, std::nullopt,
                                      std::nullopt})
      .Case("phi3", FamilyDefaults{Family::Phi3, 4096, std::nullopt,
                                   std::nullopt})
      .Case("llama4_text", FamilyDefaults{Family::Llama4Text, 131072, 8, 128,
                                          500000.0})
      .Case("gpt_oss",
            FamilyDefaults{Family::GptOss, 131072, 8, 64, 150000.0})
      .Default(std::nullopt);
}

/// rms_norm_eps when config.json does not say (the configuration classes'
/// defaults).
double defaultRmsNormEps(Family family) {
  switch (family) {
  case Family::Mixtral:
  case Family::Glm4Moe:
  case Family::Olmoe:
  case Family::Olmo2:
  case Family::Olmo3:
  case Family::Phi3:
  case Family::Llama4Text:
  case Family::GptOss:
    return 1e-5;
  default:
    return 1e-6;
  }
}

void readRopeDict(const Reader &top, ModelConfig &cfg, const json *dict,
                  const std::string &dictKey, double defaultTheta);

/// The RoPE parameters: `rope_scaling` / `rope_parameters`, which in
/// transformers 5 may hold one dict per layer type ("full_attention",
/// "sliding_attention"); the sliding layers' RoPE goes to cfg.localRope.
void readRope(const Reader &top, ModelConfig &cfg, double defaultTheta) {
  // v4 writes `rope_scaling`, v5 `rope_parameters`; a non-empty rope_scaling
  // replaces rope_parameters wholesale.
  const json *dict = nullptr;
  std::string dictKey;
  for (const char *key : {"rope_scaling", "rope_parameters"}) {
    if (!top.has(key))
      continue;
    const json &v = top.object.at(key);
    if (!v.is_object())
      top.fail(key, "expected an object or null, got " + describe(v));
    if (v.empty())
      continue;
    dict = &v;
    dictKey = key;
    break;
  }
  const json *local = nullptr;
  std::string localKey;
  if (dict && (dict->contains("full_attention") ||
               dict->contains("sliding_attention"))) {
    const json *outer = dict;
    const std::string outerKey = dictKey;
    dict = nullptr;
    for (const char *type : {"full_attention", "sliding_attention"}) {
      if (!outer->contains(type))
        continue;
      const json &v = outer->at(type);
      if (!v.is_object())
        top.fail(outerKey.c_str(), std::string("entry \"") + type +
                                       "\" is not an object");
      (std::string(type) == "full_attention" ? dict : local) = &v;
      (std::string(type) == "full_attention" ? dictKey : localKey) =
          outerKey + "." + type;
    }
  }
  readRopeDict(top, cfg, dict, dictKey, defaultTheta);
  // The sliding layers' own RoPE: Gemma 3's rope_local_base_freq (default
  // RoPE, unscaled), OLMo 3's unscaled RoPE at the class's theta, or the
  // per-type dict.
  if (cfg.family == Family::Gemma3Text || cfg.family == Family::Olmo3) {
    ModelConfig localCfg = cfg;
    localCfg.ropeAttentionFactor = 1.0; // the global RoPE's, not this one's
    json legacy = json::object();
    if (!local) {
      legacy["rope_type"] = "default";
      legacy["rope_theta"] =
          cfg.family == Family::Gemma3Text
              ? top.number("rope_local_base_freq", 1e-9, 1e30, 10000.0)
              : defaultTheta;
      local = &legacy;
    }
    readRopeDict(top, localCfg, local, localKey, defaultTheta);
    cfg.localRope = localCfg.rope;
    if (localCfg.ropeAttentionFactor != 1.0)
      top.fail(localKey.empty() ? "rope_parameters" : localKey.c_str(),
               "unsupported: an attention factor on the sliding layers' "
               "RoPE");
  }
}

void readRopeDict(const Reader &top, ModelConfig &cfg, const json *dict,
                  const std::string &dictKey, double defaultTheta) {
  json empty = json::object();
  Reader rope(dict ? *dict : empty, dictKey + ".");

  // The dict's own rope_theta wins; the top-level key fills it in only when
  // the dict has none (shared/MODELS.md, RoPE parameters, step 2).
  cfg.rope.theta = rope.has("rope_theta")
                       ? rope.number("rope_theta", 1e-9, 1e30)
                       : top.number("rope_theta", 1e-9, 1e30, defaultTheta);
  cfg.rope.dim = cfg.headDim;

  if (cfg.family == Family::Glm4Moe || cfg.family == Family::MiniMaxM2 ||
      cfg.family == Family::Phi3) {
    // GLM rotates the first int(head_dim * factor) dimensions (default 0.5,
    // inserted by the config class); the dict's value wins. MiniMax-M2's
    // checkpoints say it with the legacy rotary_dim, which sets the factor
    // to rotary_dim / head_dim unless one is given (default 1).
    const Reader &r = rope.has("partial_rotary_factor") ? rope : top;
    // Phi-3 rotates int(head_dim * partial_rotary_factor), default 1.
    double factor = cfg.family == Family::Glm4Moe ? 0.5 : 1.0;
    if (cfg.family == Family::MiniMaxM2 && !r.has("partial_rotary_factor") &&
        top.has("rotary_dim"))
      factor = double(top.integer("rotary_dim", 1, cfg.headDim)) /
               double(cfg.headDim);
    factor = r.number("partial_rotary_factor", 0.0, 1.0, factor);
    cfg.rope.dim = int64_t(double(cfg.headDim) * factor);
    if (cfg.rope.dim < 2 || cfg.rope.dim % 2 != 0)
      r.fail("partial_rotary_factor",
             "rotates " + std::to_string(cfg.rope.dim) + " of " +
                 std::to_string(cfg.headDim) +
                 " head dimensions; rotary width must be even and >= 2");
  } else {
    // The Llama-family default path ignores partial_rotary_factor while
    // attention still rotates whole heads, so a factor other than 1 cannot
    // mean what its author intended: refuse it.
    for (const Reader *r : {&top, static_cast<const Reader *>(&rope)})
      if (r->has("partial_rotary_factor") &&
          r->number("partial_rotary_factor", 0.0, 1.0) != 1.0)
        r->fail("partial_rotary_factor",
                "unsupported for model_type \"" + cfg.modelType +
                    "\" (rotary embedding covers the whole head)");
  }

  std::string type = "default";
  if (dict) {
    if (rope.has("rope_type"))
      type = rope.string("rope_type");
    else if (rope.has("type"))
      type = rope.string("type");
  }
  cfg.ropeType = type;
  const double maxPos = static_cast<double>(cfg.maxPositionEmbeddings);
  auto originalMax = [&] {
    return rope.integer("original_max_position_embeddings", 1, kMaxPositions,
                        cfg.maxPositionEmbeddings);
  };
  const char *typeKey = rope.has("rope_type") ? "rope_type" : "type";
  std::optional<rope::Kind> kind = rope::parseKind(type);
  if (!kind)
    rope.fail(typeKey, "unsupported rope type \"" + type +
                           "\" (supported: default, linear, dynamic, llama3, "
                           "yarn, longrope)");
  cfg.rope.kind = *kind;
  switch (*kind) {
  case rope::Kind::Default:
    break;
  case rope::Kind::Linear:
    cfg.rope.factor = rope.number("factor", 1e-9, 1e9);
    break;
  case rope::Kind::Dynamic:
    cfg.rope.factor = rope.number("factor", 1e-9, 1e9);
    cfg.rope.maxPosition = cfg.maxPositionEmbeddings;
    break;
  case rope::Kind::Llama3:
    cfg.rope.factor = rope.number("factor", 1e-9, 1e9);
    cfg.rope.lowFreqFactor = rope.number("low_freq_factor", 1e-9, 1e9);
    cfg.rope.highFreqFactor = rope.number("high_freq_factor", 1e-9, 1e9);
    // Equal factors (Llama 4) leave no band to smooth; transformers
    // takes them.
    if (!(cfg.rope.highFreqFactor >= cfg.rope.lowFreqFactor))
      rope.fail("high_freq_factor", "must not be below low_freq_factor");
    cfg.rope.originalMaxPosition = originalMax();
    break;
  case rope::Kind::Yarn: {
    cfg.rope.originalMaxPosition = originalMax();
    cfg.rope.factor = rope.number(
        "factor", 1e-9, 1e9, maxPos / cfg.rope.originalMaxPosition);
    cfg.rope.betaFast = rope.number("beta_fast", 1e-9, 1e9, 32.0);
    cfg.rope.betaSlow = rope.number("beta_slow", 1e-9, 1e9, 1.0);
    cfg.rope.truncate = rope.boolean("truncate", true);
    std::optional<double> given = rope.optionalNumber("attention_factor", 1e-9, 1e9);
    std::optional<double> mscaleAllDim =
        rope.optionalNumber("mscale_all_dim", 0, 1e9);
    cfg.yarnMscaleAllDim = mscaleAllDim.value_or(0.0);
    cfg.ropeAttentionFactor =
        given ? *given
              : rope::yarnAttentionFactor(
                    cfg.rope.factor, rope.optionalNumber("mscale", 0, 1e9),
                    mscaleAllDim);
    break;
  }
  case rope::Kind::LongRope: {
    cfg.rope.originalMaxPosition = originalMax();
    cfg.rope.shortFactor = rope.numbers("short_factor", cfg.rope.dim / 2);
    cfg.rope.longFactor = rope.numbers("long_factor", cfg.rope.dim / 2);
    double factor = rope.number("factor", 1e-9, 1e9,
                                maxPos / cfg.rope.originalMaxPosition);
    std::optional<double> given = rope.optionalNumber("attention_factor", 1e-9, 1e9);
    cfg.ropeAttentionFactor =
        given ? *given
              : rope::longRopeAttentionFactor(factor,
                                              cfg.rope.originalMaxPosition);
    break;
  }
  }
}

/// layer_types: one "full_attention" or "sliding_attention" per layer.
void readLayerTypes(const Reader &top, ModelConfig &cfg) {
  const json &types = top.object.at("layer_types");
  if (!types.is_array() ||
      static_cast<int64_t>(types.size()) != cfg.numLayers)
    top.fail("layer_types", "expected a list of " +
                                std::to_string(cfg.numLayers) +
                                " layer types (one per layer)");
  for (int64_t i = 0; i < cfg.numLayers; ++i) {
    const json &t = types[i];
    if (t == "sliding_attention")
      cfg.slidingLayers[i] = true;
    else if (t != "full_attention")
      top.fail("layer_types",
               "entry " + std::to_string(i) + " is " + describe(t) +
                   "; supported: \"full_attention\", \"sliding_attention\"");
  }
}

void readSlidingWindow(const Reader &top, ModelConfig &cfg) {
  cfg.slidingLayers.assign(cfg.numLayers, false);
  switch (cfg.family) {
  case Family::Llama:
  case Family::Glm4Moe:
  case Family::Olmoe:
  case Family::MiniMaxM2: // sliding_window / attn_type_list are not read
  case Family::DeepseekV2:
  case Family::DeepseekV3:
  case Family::Olmo2:
  case Family::Granite:
  case Family::Llama4Text: // chunked attention instead (readLlama4Attention)
    return;  // their attention has no sliding window.
  case Family::Phi3:
    // A window, when set, applies to every layer.
    if (top.has("sliding_window")) {
      cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions);
      cfg.slidingLayers.assign(cfg.numLayers, true);
    }
    return;
  case Family::Gemma2:
  case Family::Gemma3Text:
  case Family::Olmo3:
  case Family::GptOss: {
    // layer_types, else the family's pattern: Gemma 2 and gpt-oss every
    // other layer from 0, Gemma 3 all but every sliding_window_pattern-th,
    // OLMo 3 all but every 4th. A null window: no layer slides.
    if (top.containsKey("sliding_window") && !top.has("sliding_window"))
      return;
    // The class default: 128 in gpt-oss, 4096 in the others.
    cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions,
                                    cfg.family == Family::GptOss ? 128 : 4096);
    if (top.has("layer_types")) {
      readLayerTypes(top, cfg);
      return;
    }
    const int64_t period =
        cfg.family == Family::Gemma2 || cfg.family == Family::GptOss ? 2
        : cfg.family == Family::Olmo3      ? 4
                                           : top.integer("sliding_window_pattern",
                                                         1, kMaxLayers, 6);
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      cfg.slidingLayers[i] = (i + 1) % period != 0;
    return;
  }
  case Family::SmolLM3: {
    // Sliding only with use_sliding_window and a window, and then only the
    // NoPE layers (unless layer_types says otherwise).
    if (top.has("layer_types") && top.has("sliding_window")) {
      cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions);
      readLayerTypes(top, cfg);
      return;
    }
    if (!top.boolean("use_sliding_window", false) ||
        !top.has("sliding_window"))
      return;
    cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions);
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      cfg.slidingLayers[i] = !cfg.ropeLayers.empty() && !cfg.ropeLayers[i];
    return;
  }
  case Family::Mixtral: {
    // Default None (unlike mistral); when set, every layer slides.
    if (top.has("sliding_window")) {
      cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions);
      cfg.slidingLayers.assign(cfg.numLayers, true);
    }
    return;
  }
  case Family::Qwen3Moe: {
    // The config drops the window unless use_sliding_window; the class has
    // no layer_types, so an active window applies to every layer.
    if (!top.boolean("use_sliding_window", false))
      return;
    cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions, 4096);
    cfg.slidingLayers.assign(cfg.numLayers, true);
    return;
  }
  case Family::Mistral: {
    // A missing key means 4096; null disables the window.
    if (!top.containsKey("sliding_window"))
      cfg.slidingWindow = 4096;
    else if (top.has("sliding_window"))
      cfg.slidingWindow = top.integer("sliding_window", 1, kMaxPositions);
    if (cfg.slidingWindow)
      cfg.slidingLayers.assign(cfg.numLayers, true);
    return;
  }
  case Family::Qwen2:
  case Family::Qwen3:
  case Family::Qwen2Moe: {
    // Without use_sliding_window transformers drops the window (qwen2_moe
    // even saves it as 0) and layer_types change nothing.
    if (!top.boolean("use_sliding_window", false))
      return;
    std::optional<int64_t> window;
    if (top.has("sliding_window"))
      window = top.integer("sliding_window", 1, kMaxPositions);
    else if (!top.containsKey("sliding_window"))
      window = 4096;
    if (!window)
      return;
    cfg.slidingWindow = window;
    if (top.has("layer_types")) {
      readLayerTypes(top, cfg);
      return;
    }
    int64_t maxWindowLayers =
        top.integer("max_window_layers", 0, kMaxLayers, 28);
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      cfg.slidingLayers[i] =
          cfg.family == Family::Qwen2Moe
              ? i % 2 == 0 && i < maxWindowLayers // even layers below it
              : i >= maxWindowLayers;
    return;
  }
  }
}

/// The MoE of the Mixture-of-Experts families and which layers use it
/// (shared/MODELS.md §6, §9, §18).
/// Qwen's per-layer choice: layer i routes iff it is not in mlp_only_layers,
/// the model has experts and (i + 1) % decoder_sparse_step == 0.
void readDenseLayers(const Reader &top, ModelConfig &cfg,
                     const MoEConfig &moe) {
  int64_t step = top.integer("decoder_sparse_step", 1, kMaxLayers, 1);
  std::vector<bool> dense(cfg.numLayers, false);
  if (top.has("mlp_only_layers")) {
    const json &v = top.object.at("mlp_only_layers");
    if (!v.is_array())
      top.fail("mlp_only_layers",
               "expected a list of layer indices, got " + describe(v));
    for (const json &e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 ||
          e.get<int64_t>() >= cfg.numLayers)
        top.fail("mlp_only_layers",
                 "entry " + e.dump() + " is not a layer index in [0, " +
                     std::to_string(cfg.numLayers - 1) + "]");
      dense[size_t(e.get<int64_t>())] = true;
    }
  }
  for (int64_t i = 0; i < cfg.numLayers; ++i)
    cfg.moeLayers[i] =
        !dense[i] && moe.numExperts > 0 && (i + 1) % step == 0;
}

/// The group-limited router's sizes, each refused by its key: n_group
/// divides the experts, topk_group <= n_group, a sum-of-top-2 group holds
/// two experts, and top-k fits in the kept groups.
void checkGroups(const Reader &top, const MoEConfig &moe) {
  if (moe.numExperts % moe.groups != 0)
    top.fail("n_group", "value " + std::to_string(moe.groups) +
                            " does not divide n_routed_experts (" +
                            std::to_string(moe.numExperts) + ")");
  if (moe.topGroups > moe.groups)
    top.fail("topk_group", "value " + std::to_string(moe.topGroups) +
                               " exceeds n_group (" +
                               std::to_string(moe.groups) + ")");
  if (moe.groupScore == RouterGroupScore::SumOfTop2 && moe.groups > 1 &&
      moe.numExperts / moe.groups < 2)
    top.fail("n_group", "groups of " +
                            std::to_string(moe.numExperts / moe.groups) +
                            " expert(s): a group's score is the sum of its "
                            "best two, so groups need at least 2");
  if (moe.topK > moe.topGroups * (moe.numExperts / moe.groups))
    top.fail("num_experts_per_tok",
             "value " + std::to_string(moe.topK) + " exceeds the " +
                 std::to_string(moe.topGroups *
                                (moe.numExperts / moe.groups)) +
                 " experts of the topk_group best groups");
}

void readMoE(const Reader &top, ModelConfig &cfg) {
  constexpr int64_t kMaxExperts = 1 << 16;
  MoEConfig moe;
  cfg.moeLayers.assign(cfg.numLayers, false);
  // The first of `keys` present, else `fallback`.
  auto integerOf = [&](std::initializer_list<const char *> keys, int64_t lo,
                       int64_t hi, int64_t fallback) {
    for (const char *key : keys)
      if (top.has(key))
        return std::pair<int64_t, const char *>{top.integer(key, lo, hi), key};
    return std::pair<int64_t, const char *>{fallback, *keys.begin()};
  };
  const char *expertsKey = nullptr;
  switch (cfg.family) {
  case Family::Mixtral: {
    std::tie(moe.numExperts, expertsKey) = integerOf(
        {"num_local_experts", "num_experts"}, 1, kMaxExperts, 8);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, 2);
    moe.intermediateSize = cfg.intermediateSize;
    // MixtralSparseMoeBlock always renormalizes: a config that says it
    // does not asks for something transformers does not compute.
    moe.normalize = true;
    if (top.has("norm_topk_prob") && !top.boolean("norm_topk_prob", true))
      top.fail("norm_topk_prob", "unsupported value false for mixtral "
                                 "(transformers always renormalizes the "
                                 "top-k weights)");
    moe.mixtralNames = true;
    cfg.moeLayers.assign(cfg.numLayers, true);
    break;
  }
  case Family::Qwen2Moe:
  case Family::Qwen3Moe: {
    // qwen2_moe is qwen3_moe's router plus a sigmoid-gated shared expert
    // (defaults: Qwen1.5-MoE-A2.7B and Qwen3-30B-A3B).
    const bool v2 = cfg.family == Family::Qwen2Moe;
    std::tie(moe.numExperts, expertsKey) = integerOf(
        {"num_experts", "num_local_experts"}, 0, kMaxExperts, v2 ? 60 : 128);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, v2 ? 4 : 8);
    moe.intermediateSize = top.integer("moe_intermediate_size", 1,
                                       kMaxHidden * 16, v2 ? 1408 : 768);
    moe.normalize = top.boolean("norm_topk_prob", false);
    moe.weightsInActDtype = true; // transformers 5.24 casts them
    if (v2) {
      moe.sharedIntermediateSize = top.integer(
          "shared_expert_intermediate_size", 0, kMaxHidden * 16, 5632);
      moe.sharedGate = true;
    }
    readDenseLayers(top, cfg, moe);
    break;
  }
  case Family::Glm4Moe: {
    std::tie(moe.numExperts, expertsKey) = integerOf(
        {"n_routed_experts", "num_local_experts"}, 1, kMaxExperts, 128);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, 8);
    moe.intermediateSize =
        top.integer("moe_intermediate_size", 1, kMaxHidden * 16, 1408);
    moe.scoring = RouterScoring::Sigmoid;
    moe.logitsInF32 = true;
    moe.correctionBias = true;
    moe.groups = top.integer("n_group", 1, kMaxExperts, 1);
    moe.topGroups = top.integer("topk_group", 1, kMaxExperts, 1);
    moe.groupScore = RouterGroupScore::SumOfTop2;
    moe.normalize = top.boolean("norm_topk_prob", true);
    moe.normalizeEpsilon = 1e-20;
    moe.scaling = top.number("routed_scaling_factor", 1e-6, 1e6, 1.0);
    moe.sharedIntermediateSize =
        moe.intermediateSize *
        top.integer("n_shared_experts", 0, kMaxExperts, 1);
    // GLM's router is DeepSeek V3's noaux_tc with sigmoid scores; configs
    // that say otherwise mean something else.
    if (top.has("scoring_func") && top.string("scoring_func") != "sigmoid")
      top.fail("scoring_func", "unsupported scoring function \"" +
                                   top.string("scoring_func") +
                                   "\" for glm4_moe (supported: sigmoid)");
    if (top.has("topk_method") && top.string("topk_method") != "noaux_tc")
      top.fail("topk_method", "unsupported top-k method \"" +
                                  top.string("topk_method") +
                                  "\" for glm4_moe (supported: noaux_tc)");
    checkGroups(top, moe);
    int64_t firstMoE = top.integer("first_k_dense_replace", 0, kMaxLayers, 1);
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      cfg.moeLayers[i] = i >= firstMoE;
    break;
  }
  case Family::MiniMaxM2: {
    // Sigmoid scores, the bias picks, the unbiased scores renormalized weigh
    // (fp32); no groups, no scaling, no epsilon. transformers hard-wires all
    // of it and does not read the hub's keys for it; a value other than
    // the hard-wired one is refused rather than ignored.
    if (top.has("scoring_func") && top.string("scoring_func") != "sigmoid")
      top.fail("scoring_func", "unsupported scoring function \"" +
                                   top.string("scoring_func") +
                                   "\" for minimax_m2 (supported: sigmoid)");
    if (top.has("use_routing_bias") && !top.boolean("use_routing_bias", true))
      top.fail("use_routing_bias",
               "unsupported value false for minimax_m2 (transformers always "
               "adds e_score_correction_bias)");
    std::tie(moe.numExperts, expertsKey) = integerOf(
        {"num_local_experts", "num_experts"}, 1, kMaxExperts, 256);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, 8);
    moe.intermediateSize = cfg.intermediateSize; // per expert
    moe.scoring = RouterScoring::Sigmoid;
    moe.correctionBias = true;
    moe.biasOnBlock = true;
    moe.normalize = true;
    moe.mixtralNames = true;
    cfg.moeLayers.assign(cfg.numLayers, true);
    break;
  }
  case Family::DeepseekV2:
  case Family::DeepseekV3: {
    const bool v3 = cfg.family == Family::DeepseekV3;
    // n_routed_experts null: every layer dense.
    if (top.containsKey("n_routed_experts") && !top.has("n_routed_experts"))
      return;
    std::tie(moe.numExperts, expertsKey) = integerOf(
        {"n_routed_experts", "num_local_experts"}, 1, kMaxExperts,
        v3 ? 256 : 64);
    moe.topK = v3 ? top.integer("num_experts_per_tok", 1, kMaxExperts, 8)
                  : top.integer("num_experts_per_tok", 1, kMaxExperts);
    moe.intermediateSize = top.integer("moe_intermediate_size", 1,
                                       kMaxHidden * 16, v3 ? 2048 : 1407);
    moe.logitsInF32 = true;
    moe.scaling = top.number("routed_scaling_factor", 1e-6, 1e6,
                             v3 ? 2.5 : 1.0);
    moe.sharedIntermediateSize =
        moe.intermediateSize *
        top.integer("n_shared_experts", 0, kMaxExperts, v3 ? 1 : 2);
    const std::string method =
        top.has("topk_method") ? top.string("topk_method")
                               : (v3 ? "noaux_tc" : "greedy");
    auto groupsOrOne = [&](const char *key, int64_t fallback) {
      return top.containsKey(key) && !top.has(key)
                 ? 1
                 : top.integer(key, 1, kMaxExperts, fallback);
    };
    if (v3) {
      // V3's router: sigmoid scores, the correction bias picks, the sum of
      // each group's best two ranks the groups (noaux_tc).
      if (method != "noaux_tc")
        top.fail("topk_method", "unsupported top-k method \"" + method +
                                    "\" for " + cfg.modelType +
                                    " (supported: noaux_tc)");
      if (top.has("scoring_func") && top.string("scoring_func") != "sigmoid")
        top.fail("scoring_func", "unsupported scoring function \"" +
                                     top.string("scoring_func") + "\" for " +
                                     cfg.modelType + " (supported: sigmoid)");
      moe.scoring = RouterScoring::Sigmoid;
      moe.correctionBias = true;
      moe.groups = groupsOrOne("n_group", 8);
      moe.topGroups = groupsOrOne("topk_group", 4);
      moe.groupScore = RouterGroupScore::SumOfTop2;
      moe.normalize = top.boolean("norm_topk_prob", true);
      moe.normalizeEpsilon = 1e-20;
    } else {
      // V2's router: softmax over all experts, greedy top-k or the groups
      // ranked by their best score; never renormalized (transformers does
      // not read norm_topk_prob).
      if (top.has("scoring_func") && top.string("scoring_func") != "softmax")
        top.fail("scoring_func", "unsupported scoring function \"" +
                                     top.string("scoring_func") +
                                     "\" for deepseek_v2 (supported: "
                                     "softmax)");
      if (method == "group_limited_greedy") {
        moe.groups = groupsOrOne("n_group", 1);
        moe.topGroups = groupsOrOne("topk_group", 1);
        moe.groupScore = RouterGroupScore::Max;
      } else if (method != "greedy") {
        top.fail("topk_method", "unsupported top-k method \"" + method +
                                    "\" for deepseek_v2 (supported: greedy, "
                                    "group_limited_greedy)");
      }
    }
    checkGroups(top, moe);
    int64_t firstMoE =
        top.integer("first_k_dense_replace", 0, kMaxLayers, v3 ? 3 : 0);
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      cfg.moeLayers[i] = i >= firstMoE;
    break;
  }
  case Family::Olmoe: {
    std::tie(moe.numExperts, expertsKey) = integerOf(
        {"num_experts", "num_local_experts"}, 1, kMaxExperts, 64);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, 8);
    moe.intermediateSize = cfg.intermediateSize; // per expert
    moe.normalize = top.boolean("norm_topk_prob", false);
    moe.weightsInActDtype = true; // cast to the logits' dtype
    cfg.moeLayers.assign(cfg.numLayers, true);
    break;
  }
  case Family::GptOss: {
    // Every layer: top-k of the biased logits, softmax over those k (in
    // the act dtype's rounding), experts with biases and the clamped
    // SwiGLU, stored fused for x W with gate/up columns interleaved.
    std::tie(moe.numExperts, expertsKey) =
        integerOf({"num_local_experts", "num_experts"}, 1, kMaxExperts, 128);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, 4);
    moe.intermediateSize = cfg.intermediateSize;
    moe.scoring = RouterScoring::SoftmaxTopK;
    moe.weightsInActDtype = true;
    moe.swigluLimit = top.number("swiglu_limit", 1e-9, 1e9, 7.0);
    moe.swigluAlpha = top.number("swiglu_alpha", -1e9, 1e9, 1.702);
    moe.gptOss = true;
    cfg.moeLayers.assign(cfg.numLayers, true);
    break;
  }
  case Family::Llama4Text: {
    // moe_layers, else every interleave_moe_layer_step-th layer from
    // step - 1 (1: all of them).
    std::vector<int64_t> layers;
    if (top.has("moe_layers")) {
      const json &v = top.object.at("moe_layers");
      if (!v.is_array())
        top.fail("moe_layers", "expected a list of layer indices, got " +
                                   describe(v));
      for (const json &e : v) {
        if (!e.is_number_integer())
          top.fail("moe_layers", "entry " + e.dump() + " is not a layer index");
        layers.push_back(e.get<int64_t>());
      }
    } else {
      int64_t step =
          top.integer("interleave_moe_layer_step", 1, kMaxLayers, 1);
      for (int64_t i = step - 1; i < cfg.numLayers; i += step)
        layers.push_back(i);
    }
    for (int64_t i : layers) {
      if (i < 0 || i >= cfg.numLayers)
        top.fail("moe_layers", "layer " + std::to_string(i) +
                                   " is not in [0, num_hidden_layers " +
                                   std::to_string(cfg.numLayers) + ")");
      cfg.moeLayers[i] = true;
    }
    // Top-k of the router's logits (act dtype, no bias), sigmoid of the
    // chosen ones in fp32 rounded to the act dtype, scaling the experts'
    // inputs; a shared expert of the same width on the unscaled input.
    std::tie(moe.numExperts, expertsKey) =
        integerOf({"num_local_experts"}, 1, kMaxExperts, 16);
    moe.topK = top.integer("num_experts_per_tok", 1, kMaxExperts, 1);
    moe.intermediateSize = cfg.intermediateSize;
    moe.scoring = RouterScoring::Sigmoid;
    moe.weightsInActDtype = true;
    moe.sharedIntermediateSize = cfg.intermediateSize;
    moe.llama4 = true;
    break;
  }
  default:
    return;
  }
  if (moe.numExperts > 0 && moe.topK > moe.numExperts)
    top.fail("num_experts_per_tok",
             "value " + std::to_string(moe.topK) + " exceeds " + expertsKey +
                 " (" + std::to_string(moe.numExperts) + ")");
  cfg.moe = moe;
}

/// DeepSeek's Multi-head Latent Attention (shared/MODELS.md §7, §8); after
/// readRope, whose width is qk_rope_head_dim.
void readMLA(const Reader &top, ModelConfig &cfg) {
  const bool v3 = cfg.family == Family::DeepseekV3;
  MLAConfig m;
  m.qLoraRank = top.containsKey("q_lora_rank") && !top.has("q_lora_rank")
                    ? 0 // null: q_proj
                    : top.integer("q_lora_rank", 1, kMaxHidden, 1536);
  m.kvLoraRank = top.integer("kv_lora_rank", 1, kMaxHidden, 512);
  m.nopeDim = top.integer("qk_nope_head_dim", 1, kMaxHeadDim, 128);
  m.ropeDim = cfg.headDim;
  m.vDim = top.integer("v_head_dim", 1, kMaxHeadDim, 128);
  // softmax scale: qk_head_dim^-0.5; V3 (not V2, as transformers computes
  // it) multiplies yarn's mscale(factor, mscale_all_dim)^2.
  m.scale = 1.0 / std::sqrt(double(m.nopeDim + m.ropeDim));
  if (v3 && cfg.rope.kind != rope::Kind::Default &&
      cfg.yarnMscaleAllDim != 0.0 && cfg.rope.factor > 1.0) {
    double ms = 0.1 * cfg.yarnMscaleAllDim * std::log(cfg.rope.factor) + 1.0;
    m.scale *= ms * ms;
  }
  if (v3) {
    m.ropeInterleaved = top.boolean("rope_interleave", true);
  } else {
    m.ropeInterleaved = true; // the complex form, in fp32
    m.ropeInFp32 = true;
  }
  cfg.mla = m;
}

/// no_rope_layers[i] is 1 where layer i uses RoPE; by default every
/// no_rope_layer_interval-th layer (3, 7, ... with 4) does not (SmolLM3,
/// Llama 4, whose empty list also means the default).
void readNoRopeLayers(const Reader &top, ModelConfig &cfg,
                      bool emptyMeansDefault) {
  cfg.ropeLayers.assign(cfg.numLayers, true);
  const json *v =
      top.has("no_rope_layers") ? &top.object.at("no_rope_layers") : nullptr;
  if (v && emptyMeansDefault && v->is_array() && v->empty())
    v = nullptr;
  if (v) {
    if (!v->is_array() || int64_t(v->size()) != cfg.numLayers)
      top.fail("no_rope_layers", "expected a list of " +
                                     std::to_string(cfg.numLayers) +
                                     " flags (1: RoPE, 0: NoPE)");
    for (int64_t i = 0; i < cfg.numLayers; ++i) {
      const json &e = (*v)[size_t(i)];
      if (!(e == 0 || e == 1))
        top.fail("no_rope_layers", "entry " + std::to_string(i) + " is " +
                                       e.dump() + ", not 0 or 1");
      cfg.ropeLayers[i] = e == 1;
    }
    return;
  }
  int64_t interval = top.integer("no_rope_layer_interval", 1, kMaxLayers, 4);
  for (int64_t i = 0; i < cfg.numLayers; ++i)
    cfg.ropeLayers[i] = (i + 1) % interval != 0;
}

/// Llama 4's attention (shared/MODELS.md §12): NoPE layers, chunked
/// attention on the others (layer_types), the weightless QK norm of RoPE
/// layers, the temperature of NoPE layers, interleaved RoPE in fp32.
void readLlama4Attention(const Reader &top, ModelConfig &cfg) {
  // q/k/v/o carry a bias with attention_bias (default false; transformers
  // 5.24 reads it); the MLPs and the router never do.
  cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
  readNoRopeLayers(top, cfg, /*emptyMeansDefault=*/true);
  std::optional<int64_t> chunk;
  if (!(top.containsKey("attention_chunk_size") &&
        !top.has("attention_chunk_size")))
    chunk = top.integer("attention_chunk_size", 1, kMaxPositions, 8192);
  cfg.chunkedLayers.assign(cfg.numLayers, false);
  if (top.has("layer_types")) {
    const json &types = top.object.at("layer_types");
    if (!types.is_array() || int64_t(types.size()) != cfg.numLayers)
      top.fail("layer_types", "expected a list of " +
                                  std::to_string(cfg.numLayers) +
                                  " layer types");
    for (int64_t i = 0; i < cfg.numLayers; ++i) {
      const json &t = types[size_t(i)];
      if (t == "chunked_attention") {
        if (!chunk)
          top.fail("layer_types", "layer " + std::to_string(i) +
                                      " is chunked_attention but "
                                      "attention_chunk_size is null");
        cfg.chunkedLayers[i] = true;
      } else if (t != "full_attention") {
        top.fail("layer_types",
                 "entry " + std::to_string(i) + " is " + t.dump() +
                     " (supported: chunked_attention, full_attention)");
      }
    }
  } else if (chunk) {
    // RoPE layers attend within their chunk, NoPE layers to everything.
    for (int64_t i = 0; i < cfg.numLayers; ++i)
      cfg.chunkedLayers[i] = cfg.ropeLayers[i];
  }
  cfg.attentionChunk = chunk;
  cfg.qkL2NormAfterRope = top.boolean("use_qk_norm", true);
  if (top.boolean("attn_temperature_tuning", true)) {
    ModelConfig::Temperature t;
    t.floorScale = top.number("floor_scale", 1e-9, 1e18, 8192.0);
    t.scale = top.number("attn_scale", -1e9, 1e9, 0.1);
    cfg.attnTemperature = t;
  }
  cfg.ropeInterleaved = true; // the complex form, in fp32
  cfg.ropeInFp32 = true;
  cfg.mlpModule = "feed_forward";
  cfg.denseIntermediateSize =
      top.integer("intermediate_size_mlp", 1, kMaxHidden * 16, 16384);
}

ModelConfig resolveText(const json &root, std::optional<DType> dtypeOverride,
                        const std::string &prefix);

/// The text_config of a multimodal wrapper, with the keys the text class
/// defaults added where our reader demands them (hub text_configs are
/// sparse) and the wrapper's tying, dtype and quantization.
json wrapperText(const json &root, const Reader &wrapper,
                 const json &whenAbsent,
                 std::initializer_list<std::pair<const char *, json>> defaults) {
  json text = whenAbsent;
  if (wrapper.has("text_config")) {
    if (!root.at("text_config").is_object())
      wrapper.fail("text_config", "expected an object, got " +
                                      describe(root.at("text_config")));
    text = root.at("text_config");
  }
  for (const auto &[key, value] : defaults)
    if (!text.contains(key))
      text[key] = value;
  // The wrapper's tie_word_embeddings (default true) rules; the
  // text_config's is not consulted.
  text["tie_word_embeddings"] = wrapper.boolean("tie_word_embeddings", true);
  for (const char *key : {"torch_dtype", "dtype", "quantization_config"})
    if (root.contains(key) && !text.contains(key))
      text[key] = root.at(key);
  return text;
}

/// gemma3: Gemma3Config builds Gemma3TextConfig from text_config whatever
/// its model_type says; missing keys take its defaults.
ModelConfig resolveGemma3(const json &root, std::optional<DType> dtypeOverride) {
  Reader wrapper(root, "");
  json text = wrapperText(root, wrapper, json::object(),
                          {{"vocab_size", 262208},
                           {"hidden_size", 2304},
                           {"intermediate_size", 9216},
                           {"num_hidden_layers", 26},
                           {"num_attention_heads", 8}});
  text["model_type"] = "gemma3_text";
  ModelConfig cfg = resolveText(text, dtypeOverride, "text_config.");
  cfg.modelType = "gemma3";
  // The wrapper's forward does not cap the logits (only Gemma3ForCausalLM).
  cfg.finalSoftcap.reset();
  // Checkpoint names: language_model.model.X, language_model.lm_head.weight
  // (the weight source also finds v5's model.language_model.X).
  cfg.weightPrefix = "language_model.";
  return cfg;
}

/// mistral3: Mistral3Config builds the class text_config.model_type names
/// (missing: mistral) with that class's defaults; without a text_config,
/// Mistral-Small-3.1's language model.
ModelConfig resolveMistral3(const json &root,
                            std::optional<DType> dtypeOverride) {
  Reader wrapper(root, "");
  const json small = {{"model_type", "mistral"},
                      {"hidden_size", 5120},
                      {"num_hidden_layers", 40},
                      {"num_attention_heads", 32},
                      {"num_key_value_heads", 8},
                      {"head_dim", 128},
                      {"intermediate_size", 32768},
                      {"vocab_size", 131072},
                      {"rope_theta", 1e9},
                      {"rms_norm_eps", 1e-5},
                      {"sliding_window", nullptr},
                      {"max_position_embeddings", 131072}};
  json text = wrapperText(root, wrapper, small, {{"model_type", "mistral"}});
  if (!text.at("model_type").is_string())
    wrapper.fail("text_config.model_type",
                 "expected a string, got " + describe(text.at("model_type")));
  if (text.at("model_type") == "mistral") {
    // MistralConfig's defaults for the keys our reader demands.
    for (auto [key, value] :
         {std::pair<const char *, int64_t>{"vocab_size", 32000},
          {"hidden_size", 4096},
          {"intermediate_size", 14336},
          {"num_hidden_layers", 32},
          {"num_attention_heads", 32}})
      if (!text.contains(key))
        text[key] = value;
  } else if (text.at("model_type") != "llama") {
    wrapper.fail("text_config.model_type",
                 "unsupported language model \"" +
                     text.at("model_type").get<std::string>() +
                     "\" in a mistral3 wrapper (supported: mistral, llama)");
  }
  ModelConfig cfg = resolveText(text, dtypeOverride, "text_config.");
  cfg.modelType = "mistral3";
  cfg.weightPrefix = "language_model.";
  return cfg;
}

/// llama4: Llama4Config builds Llama4TextConfig from text_config, whose
/// language model (Llama4ForCausalLM under "language_model") keeps its own
/// tie_word_embeddings (default false).
ModelConfig resolveLlama4(const json &root, std::optional<DType> dtypeOverride) {
  Reader wrapper(root, "");
  json text = wrapperText(root, wrapper, json::object(),
                          {{"vocab_size", 202048},
                           {"hidden_size", 5120},
                           {"intermediate_size", 8192},
                           {"num_hidden_layers", 48},
                           {"num_attention_heads", 40}});
  text["model_type"] = "llama4_text";
  const json *own = root.contains("text_config") &&
                            root.at("text_config").is_object() &&
                            root.at("text_config").contains(
                                "tie_word_embeddings")
                        ? &root.at("text_config").at("tie_word_embeddings")
                        : nullptr;
  text["tie_word_embeddings"] = own ? *own : json(false);
  ModelConfig cfg = resolveText(text, dtypeOverride, "text_config.");
  cfg.modelType = "llama4";
  cfg.weightPrefix = "language_model.";
  return cfg;
}

/// A config.json: a text model, or a multimodal wrapper (gemma3, mistral3,
/// llama4) whose language model is read from text_config
/// (shared/MODELS.md §21).
ModelConfig resolve(const json &root, std::optional<DType> dtypeOverride) {
  if (root.is_object() && root.contains("model_type")) {
    if (root.at("model_type") == "gemma3")
      return resolveGemma3(root, dtypeOverride);
    if (root.at("model_type") == "mistral3")
      return resolveMistral3(root, dtypeOverride);
    if (root.at("model_type") == "llama4")
      return resolveLlama4(root, dtypeOverride);
    // GptOssConfig's RoPE when config.json states none: yarn (factor 32
    // over 4096 positions, truncate false); a stated one replaces it whole.
    if (root.at("model_type") == "gpt_oss" && !root.contains("rope_scaling") &&
        !root.contains("rope_parameters")) {
      json withRope = root;
      withRope["rope_parameters"] = {{"rope_type", "yarn"},
                                     {"factor", 32.0},
                                     {"beta_fast", 32.0},
                                     {"beta_slow", 1.0},
                                     {"truncate", false},
                                     {"original_max_position_embeddings", 4096}};
      return resolveText(withRope, dtypeOverride, "");
    }
  }
  return resolveText(root, dtypeOverride, "");
}

ModelConfig resolveText(const json &root, std::optional<DType> dtypeOverride,
                        const std::string &prefix) {
  if (!root.is_object())
    throw ConfigError{"expected a JSON object at the top level, got " +
                      describe(root)};
  Reader top(root, prefix);
  ModelConfig cfg;
  cfg.modelType = top.string("model_type");
  if (cfg.modelType == "deepseek_v32")
    top.fail("model_type", "unsupported: DeepSeek V3.2's sparse attention "
                           "(the DSA lightning indexer, index_topk) is not "
                           "built yet");
  std::optional<FamilyDefaults> defaults = familyOf(cfg.modelType);
  if (!defaults)
    top.fail("model_type", "unsupported model_type \"" + cfg.modelType +
                               "\" (supported: " +
                               supportedModelTypes().str() + ")");
  cfg.family = defaults->family;

  if (top.has("quantization_config")) {
    const json &q = root.at("quantization_config");
    cfg.quantMethod = q.is_object() && q.contains("quant_method") &&
                              q.at("quant_method").is_string()
                          ? q.at("quant_method").get<std::string>()
                          : "?";
    if (cfg.quantMethod == "fp8")
      cfg.fp8 = readFP8(Reader(q, "quantization_config."));
    else if (cfg.quantMethod == "compressed-tensors")
      readCompressedTensors(Reader(q, "quantization_config."), cfg);
    else if (cfg.quantMethod == "awq")
      cfg.intWeights = readAWQ(Reader(q, "quantization_config."));
    else if (cfg.quantMethod == "mxfp4")
      cfg.mxfp4 = readMXFP4(Reader(q, "quantization_config."));
    else if (cfg.quantMethod == "gptq")
      cfg.intWeights = readGPTQ(Reader(q, "quantization_config."));
  }

  cfg.vocabSize = top.integer("vocab_size", 1, kMaxVocab);
  cfg.hiddenSize = top.integer("hidden_size", 1, kMaxHidden);
  cfg.intermediateSize = top.integer("intermediate_size", 1, kMaxHidden * 16);
  cfg.numLayers = top.integer("num_hidden_layers", 1, kMaxLayers);
  cfg.numHeads = top.integer("num_attention_heads", 1, kMaxHeads);
  // Missing: the class default; null: every family's __init__ replaces None
  // with num_attention_heads (plain multi-head attention).
  cfg.numKVHeads =
      top.containsKey("num_key_value_heads") && !top.has("num_key_value_heads")
          ? cfg.numHeads
          : top.integer("num_key_value_heads", 1, kMaxHeads,
                        defaults->numKVHeads.value_or(cfg.numHeads));
  if (cfg.numHeads % cfg.numKVHeads != 0)
    top.fail("num_key_value_heads",
             "value " + std::to_string(cfg.numKVHeads) +
                 " does not divide num_attention_heads (" +
                 std::to_string(cfg.numHeads) + ")");
  const bool mla =
      cfg.family == Family::DeepseekV2 || cfg.family == Family::DeepseekV3;
  if (mla) {
    // The RoPE width: transformers sets head_dim = qk_rope_head_dim.
    cfg.headDim = top.integer("qk_rope_head_dim", 1, kMaxHeadDim, 64);
  } else if (top.has("head_dim")) {
    cfg.headDim = top.integer("head_dim", 1, kMaxHeadDim);
  } else if (defaults->headDim) {
    cfg.headDim = *defaults->headDim;
  } else {
    if (cfg.hiddenSize % cfg.numHeads != 0)
      top.fail("hidden_size", "value " + std::to_string(cfg.hiddenSize) +
                                  " is not divisible by num_attention_heads (" +
                                  std::to_string(cfg.numHeads) +
                                  ") and no head_dim is given");
    cfg.headDim = cfg.hiddenSize / cfg.numHeads;
  }
  if (cfg.headDim % 2 != 0)
    top.fail(mla                  ? "qk_rope_head_dim"
             : top.has("head_dim") ? "head_dim"
                                   : "hidden_size",
             "head dimension " + std::to_string(cfg.headDim) +
                 " must be even for rotary embedding");
  cfg.maxPositionEmbeddings = top.integer("max_position_embeddings", 1,
                                          kMaxPositions,
                                          defaults->maxPositionEmbeddings);
  cfg.rmsNormEps =
      top.number("rms_norm_eps", 1e-30, 1.0, defaultRmsNormEps(cfg.family));

  const bool gemma =
      cfg.family == Family::Gemma2 || cfg.family == Family::Gemma3Text;
  // Gemma reads hidden_activation (not hidden_act), default gelu-tanh.
  const char *actKey = gemma ? "hidden_activation" : "hidden_act";
  std::string act = top.has(actKey) ? top.string(actKey)
                    : gemma         ? "gelu_pytorch_tanh"
                                    : "silu";
  if (act == "silu" || act == "swish")
    cfg.hiddenAct = Activation::Silu;
  else if (act == "gelu_pytorch_tanh")
    cfg.hiddenAct = Activation::GELUTanh;
  else if (act == "gelu")
    cfg.hiddenAct = Activation::GELU;
  else
    top.fail(actKey, "unsupported activation \"" + act +
                               "\" (supported: silu, gelu_pytorch_tanh, gelu)");

  switch (cfg.family) {
  case Family::Llama:
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.mlpBias = top.boolean("mlp_bias", false);
    break;
  case Family::Mistral:
    break;  // bias-free everywhere
  case Family::Qwen2:
    cfg.qkvBias = true;  // q/k/v always biased, o_proj never
    break;
  case Family::Qwen2Moe:
    cfg.qkvBias = top.boolean("qkv_bias", true);  // o_proj never
    break;
  case Family::Qwen3:
  case Family::Qwen3Moe:
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.qkNorm = true;
    break;
  case Family::Mixtral:
    break;  // bias-free everywhere
  case Family::Glm4Moe:
    cfg.qkvBias = top.boolean("attention_bias", false);  // o_proj never
    cfg.qkNorm = top.boolean("use_qk_norm", false);
    break;
  case Family::MiniMaxM2:
    // QK norms over the whole projections and full attention in every
    // layer are hard-wired (transformers reads none of these keys); other
    // values are refused.
    cfg.qkNormFull = true;
    if (top.has("use_qk_norm") && !top.boolean("use_qk_norm", true))
      top.fail("use_qk_norm", "unsupported value false for minimax_m2 "
                              "(transformers always normalizes q and k)");
    if (top.has("qk_norm_type") && top.string("qk_norm_type") != "per_layer")
      top.fail("qk_norm_type", "unsupported value \"" +
                                   top.string("qk_norm_type") +
                                   "\" for minimax_m2 (supported: per_layer)");
    if (top.has("attn_type_list")) {
      const json &types = top.object.at("attn_type_list");
      if (!types.is_array())
        top.fail("attn_type_list",
                 "expected a list of attention types, got " + describe(types));
      for (const json &t : types)
        if (t != 1)
          top.fail("attn_type_list",
                   "entry " + t.dump() +
                       " is not 1 (full attention, the only kind "
                       "transformers' minimax_m2 computes)");
    }
    if (top.has("sliding_window"))
      top.fail("sliding_window", "unsupported for minimax_m2 (transformers "
                                 "attends causally over the whole sequence)");
    break;
  case Family::Gemma2:
  case Family::Gemma3Text: {
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.normVariant = RMSNormVariant::OnePlusWeight;
    cfg.normPlacement = NormPlacement::Sandwich;
    cfg.qkNorm = cfg.family == Family::Gemma3Text;
    cfg.embeddingScale = std::sqrt(double(cfg.hiddenSize));
    cfg.attentionScale =
        1.0 / std::sqrt(top.number("query_pre_attn_scalar", 1e-9, 1e9, 256));
    // Gemma 2 caps scores and logits (defaults 50 and 30; null: off);
    // Gemma 3 never caps the scores, its logits only when the key is set.
    auto cap = [&](const char *key, std::optional<double> fallback) {
      if (top.containsKey(key) && !top.has(key))
        return std::optional<double>();
      if (!top.has(key))
        return fallback;
      return std::optional<double>(top.number(key, 1e-9, 1e9));
    };
    if (cfg.family == Family::Gemma2) {
      cfg.attentionSoftcap = cap("attn_logit_softcapping", 50.0);
      cfg.finalSoftcap = cap("final_logit_softcapping", 30.0);
    } else {
      cfg.finalSoftcap = cap("final_logit_softcapping", std::nullopt);
      if (top.boolean("use_bidirectional_attention", false))
        top.fail("use_bidirectional_attention",
                 "unsupported: bidirectional attention (the embedding "
                 "variant of Gemma 3)");
    }
    break;
  }
  case Family::Phi3:
    cfg.fusedProjections = true;
    if (top.boolean("attention_bias", false))
      top.fail("attention_bias", "unsupported for phi3: biased projections");
    break;
  case Family::Granite:
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.mlpBias = top.boolean("mlp_bias", false);
    cfg.embeddingMultiplier =
        top.number("embedding_multiplier", -1e9, 1e9, 1.0);
    cfg.residualMultiplier = top.number("residual_multiplier", -1e9, 1e9, 1.0);
    // attention_multiplier replaces head_dim^-0.5.
    cfg.attentionScale = top.number("attention_multiplier", 1e-30, 1e9, 1.0);
    cfg.logitsDivisor = top.number("logits_scaling", 1e-30, 1e30, 1.0);
    break;
  case Family::Olmo2:
  case Family::Olmo3:
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.normVariant = RMSNormVariant::WeightInFp32;
    cfg.normPlacement = NormPlacement::Post;
    cfg.qkNormFull = true;
    cfg.ropeInFp32 = true;
    break;
  case Family::SmolLM3:
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.mlpBias = top.boolean("mlp_bias", false);
    readNoRopeLayers(top, cfg, /*emptyMeansDefault=*/false);
    break;
  case Family::Llama4Text:
    readLlama4Attention(top, cfg);
    break;
  case Family::GptOss:
    // Biased q/k/v/o (attention_bias, default true), fp32-weight norms,
    // a learned sink logit per head.
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", true);
    cfg.normVariant = RMSNormVariant::WeightInFp32;
    cfg.attentionSinks = true;
    break;
  case Family::DeepseekV2:
  case Family::DeepseekV3:
    // attention_bias: q_a_proj (or nothing with q_proj), kv_a_proj_with_mqa
    // and o_proj.
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    if (top.boolean("mlp_bias", false))
      top.fail("mlp_bias", "unsupported for " + cfg.modelType +
                               ": biased MLP projections");
    if (cfg.numKVHeads != cfg.numHeads)
      top.fail("num_key_value_heads",
               "value " + std::to_string(cfg.numKVHeads) +
                   " differs from num_attention_heads (" +
                   std::to_string(cfg.numHeads) +
                   "): MLA's keys and values are per head");
    cfg.mtpLayers = top.integer("num_nextn_predict_layers", 0, kMaxLayers, 0);
    break;
  case Family::Olmoe:
    cfg.qkvBias = cfg.oBias = top.boolean("attention_bias", false);
    cfg.qkNormFull = true;
    if (top.has("clip_qkv"))
      top.fail("clip_qkv", "unsupported: clamping q, k and v (clip_qkv " +
                               top.object.at("clip_qkv").dump() + ")");
    break;
  }
  cfg.tieWordEmbeddings =
      top.boolean("tie_word_embeddings", defaults->tieWordEmbeddings);

  const char *dtypeKey = top.has("dtype") ? "dtype" : "torch_dtype";
  if (dtypeOverride) {
    cfg.dtype = *dtypeOverride;
  } else if (top.has(dtypeKey)) {
    std::string name = top.string(dtypeKey);
    std::optional<DType> d = parseDType(name);
    if (!d)
      top.fail(dtypeKey, "unsupported dtype \"" + name +
                             "\" (supported: bfloat16, float16, float32)");
    cfg.dtype = *d;
  } else {
    cfg.dtype = DType::F32;  // transformers' default without torch_dtype
  }

  readRope(top, cfg, defaults->ropeTheta);
  readSlidingWindow(top, cfg);
  readMoE(top, cfg);
  if (mla)
    readMLA(top, cfg);
  // Integer experts and MLA projections have no quantized form in the IR
  // yet: such checkpoints stay refused (quantizedError). FP8 experts are
  // read (stacked per expert, so each expert's gate and up must be whole
  // blocks of rows), as are MLA's FP8 linears; its kv_b_proj is refused by
  // the compile that would read it (fp8KvBError).
  if (cfg.intWeights && (cfg.moe || cfg.mla))
    cfg.intWeights.reset();
  if (cfg.fp8 && cfg.moe && !cfg.moe->llama4 && !cfg.moe->gptOss &&
      cfg.moe->intermediateSize > cfg.fp8->rows &&
      cfg.moe->intermediateSize % cfg.fp8->rows != 0)
    top.fail("quantization_config.weight_block_size",
             "unsupported: moe_intermediate_size " +
                 std::to_string(cfg.moe->intermediateSize) +
                 " is not a multiple of the " +
                 std::to_string(cfg.fp8->rows) +
                 "-row FP8 blocks (each expert's gate and up are read as "
                 "one stacked weight)");
  if (cfg.fp8 && cfg.moe && (cfg.moe->llama4 || cfg.moe->gptOss))
    top.fail("quantization_config",
             "unsupported: FP8 weights of fused experts (" + cfg.modelType +
                 "'s experts.gate_up_proj)");
  if (cfg.mxfp4) {
    if (!cfg.moe || !cfg.moe->gptOss)
      top.fail("quantization_config.quant_method",
               "unsupported: \"mxfp4\" for model_type \"" + cfg.modelType +
                   "\" (MXFP4 experts are read for gpt_oss)");
    if (cfg.hiddenSize % 32 != 0 || cfg.moe->intermediateSize % 32 != 0)
      top.fail("quantization_config",
               "unsupported: MXFP4 experts need hidden_size and "
               "intermediate_size multiples of 32 (blocks of 32), got " +
                   std::to_string(cfg.hiddenSize) + " and " +
                   std::to_string(cfg.moe->intermediateSize));
  }
  if (cfg.intWeights && !cfg.intWeights->awq && !cfg.intWeights->gptq)
    cfg.intWeights->scaleDtype = cfg.dtype; // until the checkpoint says otherwise
  if (cfg.intWeights && cfg.fusedProjections)
    top.fail("quantization_config",
             "unsupported: int4 weights of fused projections (" +
                 cfg.modelType + "'s qkv_proj, gate_up_proj)");
  // Phi-3's fused qkv_proj / gate_up_proj are read as row slices; block
  // scales of a slice are not read yet.
  if (cfg.fp8 && cfg.fusedProjections)
    top.fail("quantization_config",
             "unsupported: FP8 weights of fused projections (" +
                 cfg.modelType + "'s qkv_proj, gate_up_proj)");
  return cfg;
}

} // namespace

bool ModelConfig::IntWeights::ignores(const std::string &module) const {
  if (awq || gptq)
    return llvm::any_of(notConverted, [&](const std::string &s) {
      return module.find(s) != std::string::npos;
    });
  return ignoredByCompressedTensors(notConverted, module);
}

bool ignoredByCompressedTensors(const std::vector<std::string> &ignore,
                                const std::string &module) {
  for (const std::string &entry : ignore) {
    llvm::StringRef e(entry);
    if (e.consume_front("re:")) {
      // Python's re.match: anchored at the start only.
      if (llvm::Regex("^(" + e.str() + ")").match(module))
        return true;
    } else if (entry == module) {
      return true;
    }
  }
  return false;
}

std::string quantizedError(const ModelConfig &config) {
  std::string why =
      config.quantMethod == "compressed-tensors"
          ? " with Mixture-of-Experts or Multi-head Latent Attention "
            "layers; dense compressed-tensors checkpoints are read"
          : "";
  return config.path + ": key \"quantization_config\": unsupported: "
                       "quantized checkpoints (quant_method \"" +
         config.quantMethod + "\")" + why;
}

llvm::StringRef supportedModelTypes() {
  return "llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe, "
         "glm4_moe, olmoe, minimax_m2, deepseek_v2, deepseek_v3, kimi_k2, "
         "gemma2, gemma3_text, gemma3, mistral3, olmo2, olmo3, smollm3, "
         "granite, phi3, llama4_text, llama4, gpt_oss";
}

std::optional<DType> parseDType(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Cases({"bfloat16", "bf16"}, DType::BF16)
      .Cases({"float16", "f16", "half"}, DType::F16)
      .Cases({"float32", "f32", "float"}, DType::F32)
      .Default(std::nullopt);
}

llvm::StringRef dtypeName(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return "bfloat16";
  case DType::F16:
    return "float16";
  case DType::F32:
    return "float32";
  case DType::I32:
  case DType::F8E4M3:
  case DType::I4:
  case DType::I8:
  case DType::F4E2M1:
  case DType::E8M0:
    break;
  }
  return "?";
}

llvm::Expected<ModelConfig> parseConfig(llvm::StringRef text,
                                        llvm::StringRef fileName,
                                        std::optional<DType> dtypeOverride) {
  auto error = [&](const std::string &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   fileName.str() + ": " + message);
  };
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::parse_error &e) {
    // nlohmann says "[json.exception.parse_error.101] parse error at line 1,
    // column 16: syntax error ..."; keep from "at line" on.
    std::string what = e.what();
    size_t at = what.find("parse error at ");
    return error("malformed JSON " +
                 (at == std::string::npos
                      ? "at byte " + std::to_string(e.byte) + ": " + what
                      : what.substr(at + 12)));
  } catch (const json::exception &e) {
    // A number beyond double range ("1e400") and the like.
    std::string what = e.what();
    size_t at = what.find("] ");
    return error("malformed JSON: " +
                 (at == std::string::npos ? what : what.substr(at + 2)));
  }
  try {
    ModelConfig cfg = resolve(root, dtypeOverride);
    cfg.path = fileName.str();
    return cfg;
  } catch (const ConfigError &e) {
    return error(e.message);
  } catch (const json::exception &e) {
    return error(std::string("invalid config: ") + e.what());
  }
}

llvm::Expected<ModelConfig> loadConfig(llvm::StringRef path,
                                       std::optional<DType> dtypeOverride) {
  std::string file = path.str();
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> joined(path);
    llvm::sys::path::append(joined, "config.json");
    file = std::string(joined);
  }
  auto buffer = support::readInputFile(file, support::kMaxJsonFileBytes,
                                       /*isText=*/true);
  if (!buffer)
    return buffer.takeError();
  return parseConfig((*buffer)->getBuffer(), file, dtypeOverride);
}

} // namespace llmc::hf
