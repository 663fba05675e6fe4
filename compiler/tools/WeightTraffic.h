//===- WeightTraffic.h - parameters and the bytes a decode step reads -*- C++ -*-===//
//
// What `llmc inspect` and `llmc bench` state about a plan's weights: total
// and active parameters, and the weight bytes one batch-1 decode step reads,
// which is what bounds its speed (the decode roofline). Dense plans read
// every weight but the embedding table, of which one row per token; a
// Mixture-of-Experts layer reads only the k chosen experts of E.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TOOLS_WEIGHTTRAFFIC_H
#define LLMC_COMPILER_TOOLS_WEIGHTTRAFFIC_H

#include "runtime/schema/plan_generated.h"

#include <cstdint>

namespace llmc::tools {

struct WeightTraffic {
  /// Elements of every weight tensor.
  uint64_t totalParams = 0;
  /// Parameters one token uses, by the usual convention ("3.3B active"):
  /// every weight in full except the routed experts, of which k of E.
  uint64_t activeParams = 0;
  /// Bytes of every weight tensor.
  uint64_t totalBytes = 0;
  /// Weight bytes one batch-1 decode step reads: active experts only, one
  /// row of the embedding table (all of it when the LM head shares it).
  uint64_t decodeBytes = 0;
  /// Whether the embedding table is read one row per token (not when the
  /// LM head shares it).
  bool embeddingRowOnly = false;
  /// The routing of the first MoE op (0 when the plan has none).
  int64_t experts = 0, topK = 0;
};

/// Walks the decode program of a verified plan.
WeightTraffic weightTraffic(const llmc::plan::Plan &plan);

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_WEIGHTTRAFFIC_H
