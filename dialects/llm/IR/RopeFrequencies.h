//===- RopeFrequencies.h - rotary inverse frequencies, as HF computes them -===//
//
// Plain C++ (no MLIR) so that the frontend, the llm dialect's #llm.rope and
// the tests share one implementation, and one definition of the RoPE kinds. Formulas follow transformers'
// modeling_rope_utils.py (see shared/MODELS.md §1.6), including its fp32
// rounding points, so results match the reference to the last bit or two.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_IR_ROPEFREQUENCIES_H
#define LLMC_DIALECTS_LLM_IR_ROPEFREQUENCIES_H

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace llmc::rope {

/// How the inverse frequencies are derived: Hugging Face's rope_type. The
/// one definition of the kinds (#llm.rope spells them with kindName).
enum class Kind { Default, Linear, Dynamic, Llama3, Yarn, LongRope };

/// rope_type's spelling: "default", "linear", "dynamic", "llama3", "yarn",
/// "longrope".
std::string_view kindName(Kind kind);

/// The kind `name` spells, if any.
std::optional<Kind> parseKind(std::string_view name);

struct Params {
  Kind kind = Kind::Default;
  double theta = 10000.0;
  int64_t dim = 0;                  // rotary width r (even)
  double factor = 1.0;              // linear, dynamic, llama3, yarn
  double lowFreqFactor = 1.0;       // llama3
  double highFreqFactor = 4.0;      // llama3
  int64_t originalMaxPosition = 0;  // llama3, yarn, longrope
  int64_t maxPosition = 0;          // dynamic
  double betaFast = 32.0;           // yarn
  double betaSlow = 1.0;            // yarn
  bool truncate = true;             // yarn
  std::vector<double> shortFactor;  // longrope, r/2 values
  std::vector<double> longFactor;   // longrope, r/2 values
};

/// The r/2 inverse frequencies (fp32) for a forward pass whose largest
/// position is `seqLen - 1`; only `dynamic` and `longrope` depend on it.
std::vector<float> inverseFrequencies(const Params &params, int64_t seqLen);

/// yarn's attention_factor when config.json does not give one: mscale ratio
/// when both mscale and mscale_all_dim are non-zero, else 0.1 ln(f) + 1.
double yarnAttentionFactor(double factor, std::optional<double> mscale,
                           std::optional<double> mscaleAllDim);

/// longrope's attention_factor when not given: sqrt(1 + ln f / ln O), f > 1.
double longRopeAttentionFactor(double factor, int64_t originalMaxPosition);

} // namespace llmc::rope

#endif // LLMC_DIALECTS_LLM_IR_ROPEFREQUENCIES_H
