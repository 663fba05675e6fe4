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

enum class Family { Llama, Mistral, Qwen2, Qwen3 };
/// Element types and MLP activations have one definition, the plan schema's
/// (runtime/schema/plan.fbs; the llm dialect's enums are generated from it).
/// A config's dtype is F32, F16 or BF16.
using DType = llmc::plan::DType;
using Activation = llmc::plan::Activation;

/// The model_type values we accept, for messages.
llvm::StringRef supportedModelTypes();
/// "bfloat16" etc. -> DType; the spellings of torch dtypes and our short ones.
std::optional<DType> parseDType(llvm::StringRef name);
llvm::StringRef dtypeName(DType dtype);

struct ModelConfig {
  std::string path;       // the config.json it came from
  std::string modelType;  // as written in the file
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
  bool tieWordEmbeddings = false;

  /// Sliding window (tokens, including the current one) of the layers that
  /// use one; `slidingLayers[i]` says whether layer i does.
  std::optional<int64_t> slidingWindow;
  std::vector<bool> slidingLayers;

  std::string ropeType;   // "default", "llama3", ...
  rope::Params rope;
  double ropeAttentionFactor = 1.0;  // multiplies cos and sin (yarn, longrope)
};

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
