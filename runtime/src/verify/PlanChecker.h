//===- PlanChecker.h - the plan verifier's checks, by subject ---*- C++ -*-===//
//
// verifyPlanContents (PlanFile.h) runs one PlanChecker over a plan whose
// bytes flatbuffers has verified. Its plan-level, program and launch checks
// live in PlanVerifier.cpp with the operand helpers every op check uses; the
// op checks live in a file per family (NormChecks, MatmulChecks,
// AttentionChecks, ElementwiseChecks) and greedy sampling's in
// SamplingChecks. Each op check states the same rules as its llm dialect
// op's verifier.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_VERIFY_PLANCHECKER_H
#define LLMC_RUNTIME_SRC_VERIFY_PLANCHECKER_H

#include "runtime/schema/plan_generated.h"
#include "runtime/src/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmc::runtime::verify {

namespace P = llmc::plan;

class PlanChecker {
public:
  PlanChecker(const P::Plan &plan, const uint8_t *file, uint64_t fileSize,
              uint64_t headerEnd, const std::string &path)
      : plan_(plan), file_(file), fileSize_(fileSize), headerEnd_(headerEnd),
        path_(path) {}

  /// Every check, the weights' checksums last.
  Status run();

private:
  Status fail(const std::string &message) const {
    return invalidPlan(path_ + ": " + message);
  }
  /// A failure inside the op being checked (where_ names it).
  Status failOp(const std::string &message) const {
    return fail(where_ + ": " + message);
  }

  //===--------------------------------------------------------------------===//
  // Plan-level tables (PlanVerifier.cpp)
  //===--------------------------------------------------------------------===//

  /// Vectors of 8-byte elements (shapes, operands) at aligned addresses.
  Status checkAlignment();
  Status checkModel();
  Status checkMemory();
  Status checkKVCaches();
  Status checkWeightLayout();
  /// No trailing data; every byte no checksum covers is zero.
  Status checkPadding();
  Status checkQuant(
      const flatbuffers::Vector<flatbuffers::Offset<P::Weight>> &weights,
      uint32_t i, const std::string &what, bool zeroPoints);
  Status checkWeightChecksums();
  /// Format 1.1's code section: every entry compiled for every target.
  Status checkCudaCode();

  //===--------------------------------------------------------------------===//
  // Programs and launches (PlanVerifier.cpp)
  //===--------------------------------------------------------------------===//

  Status checkProgram(const P::Program *program, const char *name,
                      P::Step step);
  /// Format 1.1: a kernel's launches, which run for every T exactly as
  /// plan.fbs's Launch says.
  Status checkLaunches(const P::Kernel &kernel, const std::string &name);
  Status checkLaunch(const P::Launch &launch);
  /// A kernel parameter: any operand kind, each inside what it addresses.
  Status launchArg(const P::Operand &o, const std::string &role);

  //===--------------------------------------------------------------------===//
  // Greedy sampling (SamplingChecks.cpp)
  //===--------------------------------------------------------------------===//

  /// Format 1.1: the optional greedy-sampling launches and their output.
  Status checkGreedy(const P::Program &program, const char *name);

  //===--------------------------------------------------------------------===//
  // Operand helpers: each checks one operand of the current op
  //===--------------------------------------------------------------------===//

  Status counts(const P::Op &op, size_t numInputs, size_t numOutputs);
  Status kind(const P::Operand &o, const std::string &role,
              P::OperandKind expected);
  /// `rowElems` elements per token, max_tokens rows inside the arena.
  Status arena(const P::Operand &o, const std::string &role, uint64_t rowElems);
  /// max_tokens rows of `rowElems` elements of the operand's (valid) dtype
  /// at its offset, inside the arena.
  Status arenaBounds(const P::Operand &o, const std::string &role,
                     uint64_t rowElems);
  Status input(const P::Operand &o, const std::string &role, uint32_t index);
  /// A dense float weight of `shape`; with allowQuantized, also a
  /// quantized one (Weight.quant) of that logical shape.
  Status weight(const P::Operand &o, const std::string &role,
                std::vector<int64_t> shape, bool allowQuantized = false);
  Status kvCache(const P::Operand &o, uint32_t layer);
  Status positive(int64_t value, const char *field);
  Status finite(double value, const char *field);
  /// out = a * b of two fields already checked positive.
  Status product(int64_t a, int64_t b, const char *what, uint64_t &out);
  Status layerIndex(uint32_t layer);
  Status activation(P::Activation a);
  static const P::Operand &in(const P::Op &op, uint32_t i) {
    return *op.inputs()->Get(i);
  }
  static const P::Operand &out(const P::Op &op, uint32_t i) {
    return *op.outputs()->Get(i);
  }

  //===--------------------------------------------------------------------===//
  // Ops, one check per table of plan.fbs (the operand lists documented there)
  //===--------------------------------------------------------------------===//

  Status checkOp(const P::Op &op);
  // NormChecks.cpp
  Status normParams(int64_t size, P::RMSNormVariant variant, double eps);
  Status checkRMSNorm(const P::Op &op, const P::RMSNorm &p);
  Status checkAddRMSNorm(const P::Op &op, const P::AddRMSNorm &p);
  // MatmulChecks.cpp
  Status checkLinear(const P::Op &op, const P::Linear &p);
  Status checkGatedLinear(const P::Op &op, const P::GatedLinear &p);
  Status checkLMHead(const P::Op &op, const P::LMHead &p);
  // AttentionChecks.cpp
  Status checkRope(const P::Op &op, const P::Rope &p);
  Status checkKVCacheWrite(const P::Op &op, const P::KVCacheWrite &p);
  Status checkAttention(const P::Op &op, const P::Attention &p);
  // MoEChecks.cpp
  Status expertIds(const P::Operand &o, uint64_t rowElems);
  Status checkMoERouter(const P::Op &op, const P::MoERouter &p);
  Status checkMoEExperts(const P::Op &op, const P::MoEExperts &p);
  Status checkSigmoidGate(const P::Op &op, const P::SigmoidGate &p);
  // MLAChecks.cpp
  /// Layer `layer`'s cache is (`latent`) or is not an MLA latent cache.
  Status cacheKind(uint32_t layer, bool latent);
  /// latent/rope/nope/v sizes positive, latent and rope those of the cache.
  Status mlaSizes(uint32_t layer, int64_t latent, int64_t rope);
  Status kvB(const P::Operand &o, int64_t heads, int64_t nope, int64_t v,
             int64_t latent);
  Status checkLatentCacheWrite(const P::Op &op, const P::LatentCacheWrite &p);
  Status checkMLAAttention(const P::Op &op, const P::MLAAttention &p);
  Status checkMLAAbsorbQuery(const P::Op &op, const P::MLAAbsorbQuery &p);
  Status checkLatentAttention(const P::Op &op, const P::LatentAttention &p);
  Status checkMLAAbsorbOutput(const P::Op &op, const P::MLAAbsorbOutput &p);
  // ElementwiseChecks.cpp
  Status checkEmbedding(const P::Op &op, const P::Embedding &p);
  Status checkGLU(const P::Op &op, const P::GLU &p);
  Status checkAdd(const P::Op &op, const P::Add &p);
  Status checkSoftcap(const P::Op &op, const P::Softcap &p);
  Status checkScale(const P::Op &op, const P::Scale &p);
  Status checkAttnTemperature(const P::Op &op, const P::AttnTemperature &p);

  const P::Plan &plan_;
  const uint8_t *file_;
  uint64_t fileSize_;
  uint64_t headerEnd_;
  const std::string &path_;
  int64_t vocab_ = 0;
  uint64_t maxTokens_ = 0;
  uint64_t arenaBytes_ = 0;
  /// Names the program, kernel and op being checked.
  std::string where_;
  /// In the program being checked: the arena offset of each router's expert
  /// ids -> its number of experts (an experts op must hold as many).
  std::map<uint64_t, int64_t> routerIds_;
};

} // namespace llmc::runtime::verify

#endif // LLMC_RUNTIME_SRC_VERIFY_PLANCHECKER_H
