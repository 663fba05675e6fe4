//===- HFConfig.h - a Hugging Face config.json, read and resolved ---------===//
//
// Reads config.json and resolves it the way transformers does for the
// families we support: per-family defaults, derived values (head_dim, KV
// heads, sliding layers, RoPE parameters). Anything we do not support, or
// cannot make sense of, is one error that names the file and the key.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_FRONTENDS_HF_HFCONFIG_H
#define LLMC_FRONTENDS_HF_HFCONFIG_H

#include "dialects/llm/IR/RopeFrequencies.h"

#include "runtime/schema/plan_generated.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc::hf {

enum class Family {
  Llama,
  Mistral,
  Qwen2,
  Qwen3,
  Mixtral,  // llama layers, every MLP a softmax-routed MoE
  Qwen3Moe, // qwen3 layers, softmax-routed MoE where decoder_sparse_step says
  Glm4Moe,  // llama layers with partial RoPE, DeepSeek-V3-style MoE
  Olmoe,    // llama layers with full-projection QK norms, softmax-routed MoE
  Qwen2Moe, // qwen2 layers, softmax-routed MoE plus a sigmoid-gated shared expert
  MiniMaxM2, // full-projection QK norms, partial RoPE, sigmoid router with bias
  DeepseekV2, // Multi-head Latent Attention, softmax-routed MoE after dense layers
  DeepseekV3, // MLA (+ q low-rank, yarn mscale), DeepSeek-V3 routing; Kimi K2
  Gemma2,     // sandwich (1 + w) norms, softcaps, alternating sliding layers
  Gemma3Text, // gemma2 without softcaps, per-head QK norms, local RoPE base
  Olmo2,      // post-norms, whole-projection QK norms, fp32 RoPE
  Olmo3,      // olmo2 with 3:1 sliding layers and unscaled local RoPE
  SmolLM3,    // llama with NoPE layers
  Granite,    // llama with embedding/residual/attention/logits multipliers
  Phi3,       // llama with fused qkv_proj / gate_up_proj, partial RoPE
  Llama4Text, // chunked attention, NoPE layers with temperature, L2 QK norm
  GptOss,     // sinks, alternating 128-token windows, biased top-k MoE
};
/// Element types and MLP activations have one definition, the plan schema's
/// (runtime/schema/plan.fbs; the llm dialect's enums are generated from it).
/// A config's dtype is F32, F16 or BF16.
using DType = llmc::plan::DType;
using Activation = llmc::plan::Activation;
using RouterScoring = llmc::plan::RouterScoring;
using RouterGroupScore = llmc::plan::RouterGroupScore;
using RMSNormVariant = llmc::plan::RMSNormVariant;

/// Where a decoder layer normalizes (shared/MODELS.md §1).
enum class NormPlacement {
  Pre,      // x + f(norm(x)) (Llama)
  Post,     // x + norm(f(x)) (OLMo 2)
  Sandwich, // x + norm(f(norm(x))) (Gemma 2 and 3)
};

/// A Mixture-of-Experts MLP as the family's reference computes it
/// (shared/MODELS.md §1.7 and the family sections).
struct MoEConfig {
  int64_t numExperts = 0;        // routed experts E
  int64_t topK = 0;              // experts per token k
  int64_t intermediateSize = 0;  // width of one routed expert
  RouterScoring scoring = RouterScoring::Softmax;
  bool logitsInF32 = false;      // router matmul on fp32 x and W (DeepSeek, GLM)
  bool normalize = false;        // top-k weights divided by their sum (+ eps)
  double normalizeEpsilon = 0.0;
  double scaling = 1.0;          // routed_scaling_factor
  bool correctionBias = false;   // e_score_correction_bias picks, s weighs
  int64_t groups = 1;            // n_group; > 1: group-limited selection
  int64_t topGroups = 1;         // topk_group
  RouterGroupScore groupScore = RouterGroupScore::SumOfTop2;
  bool weightsInActDtype = false; // routing weights rounded to the act dtype
  int64_t sharedIntermediateSize = 0; // shared experts' width (0: none)
  /// One shared expert ("shared_expert") scaled per token by
  /// sigmoid(shared_expert_gate . x) (Qwen2-MoE), not "shared_experts".
  bool sharedGate = false;
  /// Checkpoint names: "block_sparse_moe" + w1/w3/w2 (Mixtral) or "mlp" +
  /// gate_proj/up_proj/down_proj.
  bool mixtralNames = false;
  /// e_score_correction_bias lives on the block (MiniMax-M2), not on its
  /// gate (DeepSeek V3, GLM).
  bool biasOnBlock = false;
  /// Llama 4: the router is "router" (not "gate"); the experts are stored
  /// fused for x W (experts.gate_up_proj [E, H, 2I], experts.down_proj
  /// [E, I, H]) and read transposed; the routing weight scales each
  /// expert's input, not its output; one ungated "shared_expert".
  bool llama4 = false;
  /// gpt-oss: "router" with a bias, experts fused for x W with gate/up
  /// columns interleaved and biases, the clamped SwiGLU (limit, alpha).
  bool gptOss = false;
  double swigluLimit = 0.0;
  double swigluAlpha = 0.0;
};

/// Multi-head Latent Attention (shared/MODELS.md §7, §8): the sizes and the
/// scale; the RoPE of the decoupled key is the config's `rope`.
struct MLAConfig {
  int64_t qLoraRank = 0;   // 0: q_proj, else q_a_proj -> norm -> q_b_proj
  int64_t kvLoraRank = 0;  // the cached latent L
  int64_t nopeDim = 0;     // qk_nope_head_dim N
  int64_t ropeDim = 0;     // qk_rope_head_dim R
  int64_t vDim = 0;        // v_head_dim V
  double scale = 0.0;      // softmax scale, mscale^2 included (V3)
  bool ropeInterleaved = true; // pairs (2i, 2i+1) (V2; V3 rope_interleave)
  bool ropeInFp32 = false; // V2's complex multiply in fp32
};

/// The model_type values we accept, for messages.
llvm::StringRef supportedModelTypes();
/// Whether compressed-tensors' `ignore` list names `module`: an entry equal
/// to it, or "re:" and a regular expression that matches from its start
/// (Python's re.match).
bool ignoredByCompressedTensors(const std::vector<std::string> &ignore,
                                const std::string &module);

/// "bfloat16" etc. -> DType; the spellings of torch dtypes and our short ones.
std::optional<DType> parseDType(llvm::StringRef name);
llvm::StringRef dtypeName(DType dtype);

struct ModelConfig {
  std::string path;       // the config.json it came from
  std::string modelType;  // as written in the file
  /// Prepended to the text model's weight names ("model.X",
  /// "lm_head.weight"): "language_model." in multimodal checkpoints.
  std::string weightPrefix;
  Family family = Family::Llama;
  DType dtype = DType::F32;

  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-6;
  Activation hiddenAct = Activation::Silu;

  bool qkvBias = false;   // q/k/v projections carry a bias
  bool oBias = false;     // o_proj carries a bias
  bool mlpBias = false;   // gate/up/down carry a bias
  bool qkNorm = false;    // per-head RMSNorm of q and k before RoPE
  bool qkNormFull = false; // RMSNorm of the whole q and k projections
                           // (before the head split; olmoe)
  bool tieWordEmbeddings = false;
  /// The checkpoint fuses q/k/v into qkv_proj and gate/up into gate_up_proj
  /// (Phi-3): read as row slices of those.
  bool fusedProjections = false;

  /// Every RMSNorm's weight rule (the QK norms' too).
  RMSNormVariant normVariant = RMSNormVariant::CastBeforeWeight;
  NormPlacement normPlacement = NormPlacement::Pre;
  /// Embedding rows times this (rounded to the table's dtype; Gemma's
  /// sqrt(hidden)).
  std::optional<double> embeddingScale;
  /// The attention scores' scale when not head_dim^-0.5 (Gemma's
  /// query_pre_attn_scalar^-0.5).
  std::optional<double> attentionScale;
  /// Granite's multipliers (1: none): the embedding rows and every
  /// sublayer output are multiplied, the logits divided (in fp32, rounded
  /// once, as PyTorch's tensor-times-float).
  double embeddingMultiplier = 1.0;
  double residualMultiplier = 1.0;
  double logitsDivisor = 1.0;
  /// c * tanh(x / c) of the attention scores / the final logits.
  std::optional<double> attentionSoftcap;
  std::optional<double> finalSoftcap;
  /// Layers whose q and k are rotated (empty: all; SmolLM3's NoPE layers
  /// are false).
  std::vector<bool> ropeLayers;
  /// The RoPE of sliding layers when it differs from `rope` (Gemma 3's
  /// rope_local_base_freq, OLMo 3's unscaled local RoPE).
  std::optional<rope::Params> localRope;
  /// cos, sin and the rotation in fp32, rounded once (OLMo 2's promotion).
  bool ropeInFp32 = false;
  /// RoPE rotates pairs (2i, 2i + 1) (Llama 4's complex form), not halves.
  bool ropeInterleaved = false;

  /// Sliding window (tokens, including the current one) of the layers that
  /// use one; `slidingLayers[i]` says whether layer i does.
  std::optional<int64_t> slidingWindow;
  std::vector<bool> slidingLayers;
  /// Llama 4's chunked attention: layer i with chunkedLayers[i] attends to
  /// the positions of its own attentionChunk-token chunk.
  std::optional<int64_t> attentionChunk;
  std::vector<bool> chunkedLayers;
  /// gpt-oss: a learned sink logit per head (self_attn.sinks [nH]).
  bool attentionSinks = false;
  /// Llama 4: q and k of RoPE layers normalized per head after the RoPE by
  /// a weightless RMS norm (its "L2 norm", eps rms_norm_eps).
  bool qkL2NormAfterRope = false;
  /// Llama 4's temperature tuning of the queries of NoPE layers
  /// (llm.attn_temperature).
  struct Temperature {
    double floorScale = 8192.0;
    double scale = 0.1;
  };
  std::optional<Temperature> attnTemperature;
  /// The dense MLP's module ("mlp"; Llama 4: "feed_forward") and width
  /// (0: intermediateSize; Llama 4: intermediate_size_mlp).
  std::string mlpModule = "mlp";
  int64_t denseIntermediateSize = 0;

  /// Mixture-of-Experts families: the MoE, and which layers use it (the
  /// others have a dense gated MLP of width intermediateSize).
  std::optional<MoEConfig> moe;
  std::vector<bool> moeLayers;

  /// DeepSeek's Multi-head Latent Attention instead of GQA.
  std::optional<MLAConfig> mla;
  /// Multi-token-prediction layers the checkpoint holds after the decoder
  /// (num_nextn_predict_layers): not part of the forward pass, not read.
  int64_t mtpLayers = 0;

  /// quantization_config's quant_method ("" when absent). Other than a
  /// dense model's "fp8" (below), a checkpoint compile refuses it
  /// (quantizedError); without weights (--random-weights, --emit=cuda) the
  /// model then compiles in `dtype`.
  std::string quantMethod;
  /// quant_method "fp8" (Qwen3-*-FP8, DeepSeek V3, Kimi K2, MiniMax-M2):
  /// the decoder's linear weights stored as float8_e4m3fn with an f32
  /// `weight_scale_inv` per block of `block` (weight_block_size; default
  /// 128 x 128), except the modules named in modules_to_not_convert.
  /// transformers' kernels also quantize activations (activation_scheme
  /// "dynamic"); llmc dequantizes the weights and keeps the activations in
  /// `dtype` (weight-only), which the compile says in a note.
  struct FP8Block {
    int64_t rows = 128, cols = 128;
    /// modules_to_not_convert: substrings of module names (transformers).
    std::vector<std::string> notConverted;
    /// compressed-tensors' `ignore` (ignoredByCompressedTensors).
    std::vector<std::string> ignore;
    /// The scales' tensor: `<module>.<scaleSuffix>` ("weight_scale" in
    /// compressed-tensors' float-quantized checkpoints).
    std::string scaleSuffix = "weight_scale_inv";
  };
  std::optional<FP8Block> fp8;
  /// quant_method "mxfp4" (gpt-oss): the routed experts' gate_up and down
  /// as OCP MX FP4 (e2m1 values in blocks of 32 along the input features,
  /// one e8m0 scale each: `<name>_blocks`, `<name>_scales`), as transformers'
  /// Mxfp4 quantizer replaces only GptOssExperts; every other weight
  /// dense. modules_to_not_convert may name the experts too.
  struct MXFP4 {
    std::vector<std::string> notConverted;
  };
  std::optional<MXFP4> mxfp4;
  /// The decoder's linear weights as signed integers of `bits` (4 or 8)
  /// in groups of `group` consecutive input features (at most a row), each
  /// group with a scale: from `llmc compile --quantize w4-g128 | w8`
  /// (quantizeAtCompile; compiler/plan/Quantize.h: int4 with f16 scales,
  /// a weight whose input features are odd staying in `dtype`; int8 with
  /// one f32 scale per row), or quant_method "compressed-tensors"
  /// (pack-quantized, symmetric, weight-only: `<module>.weight_packed` and
  /// `.weight_scale` of `scaleDtype`, the modules `ignore` names left in
  /// `dtype`).
  struct IntWeights {
    int bits = 4;
    int64_t group = 128;
    /// Asymmetric: a zero point per group (`<module>.weight_zero_point`,
    /// int32 words packed along the rows).
    bool zeros = false;
    /// quant_method "awq" (AutoAWQ's GEMM layout, `<module>.qweight`,
    /// `.qzeros`, `.scales`): notConverted then holds
    /// modules_to_not_convert, matched as substrings (transformers' rule).
    bool awq = false;
    /// quant_method "gptq" (desc_act false; AutoGPTQ / GPTQModel layout:
    /// `<module>.qweight` int32 [in * bits / 32, out] packed along the
    /// input features, `.qzeros` int32 [groups, out * bits / 32] packed
    /// along the outputs, `.scales` [groups, out], values unsigned); the
    /// stored zero points are the real ones minus gptqZeroOffset (1 in the
    /// "gptq" checkpoint format, 0 in "gptq_v2").
    bool gptq = false;
    int gptqZeroOffset = 1;
    /// compressed-tensors' `ignore`: module names, or "re:" and a regular
    /// expression matched from the start of the name.
    std::vector<std::string> notConverted;
    /// The scales' dtype as the checkpoint stores them (llmc sets it from
    /// the first `weight_scale` tensor; without one, `dtype`).
    DType scaleDtype = DType::F16;
    /// Whether `module` ("model.layers.0.mlp.down_proj") is left
    /// unquantized.
    bool ignores(const std::string &module) const;
  };
  std::optional<IntWeights> intWeights;
  /// fp8 or int4 comes from `llmc compile --quantize`: the checkpoint is
  /// float and the plan writer quantizes it.
  bool quantizeAtCompile = false;
  /// `llmc compile --kv-dtype fp8_e4m3`: the KV caches hold FP8 E4M3 codes
  /// with per-token, per-head scales (!llm.kv_cache); false: the
  /// activation dtype.
  bool fp8KVCache = false;
  /// `llmc compile --fp8-activations`: the FP8-block linears also quantize
  /// their inputs per token and 128 features (llm.linear fp8_activations).
  bool fp8Activations = false;

  std::string ropeType;   // "default", "llama3", ...
  rope::Params rope;
  double ropeAttentionFactor = 1.0;  // multiplies cos and sin (yarn, longrope)
  double yarnMscaleAllDim = 0.0;     // yarn's mscale_all_dim (0: absent)
};

/// The error a compile that reads weights gives for a quantized config.
std::string quantizedError(const ModelConfig &config);

/// Reads `path` (a config.json, or a model directory holding one).
/// `dtypeOverride` replaces the file's torch_dtype.
llvm::Expected<ModelConfig>
loadConfig(llvm::StringRef path, std::optional<DType> dtypeOverride = {});

/// Parses config text; `fileName` is only used in messages.
llvm::Expected<ModelConfig>
parseConfig(llvm::StringRef text, llvm::StringRef fileName,
            std::optional<DType> dtypeOverride = {});

} // namespace llmc::hf

#endif // LLMC_FRONTENDS_HF_HFCONFIG_H
