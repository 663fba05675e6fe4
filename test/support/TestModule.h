//===- TestModule.h - llm IR test models through the real pipeline -*- C++ -*-===//
//
// For the tests that need a plan no Hugging Face family makes (every op
// kind at once, hand-written logits): they write the model as llm IR, and
// this lowers it with the compiler's own kernel-lower pipeline (memory
// plan, kernel-select) and fills its weights, so that what they check is
// what `llmc compile` would produce from the same IR.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_SUPPORT_TESTMODULE_H
#define LLMC_TEST_SUPPORT_TESTMODULE_H

#include "compiler/plan/PlanWriter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace llmc::test {

/// A module and the context that owns it.
struct TestModule {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

/// test/codegen/all-ops.mlir (every llm op kind and variant) with its
/// element type `!dt` set to `elementType`: "f32", "f16" or "bf16".
std::string allOpsSource(const std::string &elementType);

/// Parses `source` (llm or kernel IR). Errors carry the diagnostics.
llvm::Expected<TestModule> parseTestModule(const std::string &source);

/// Parses `source` (llm IR with a @prefill function), adds @decode as a copy
/// of @prefill when the source has none, and runs kernel-lower for steps of
/// up to `maxTokens` tokens and sequences of up to `maxSeqLen`. Errors carry
/// the diagnostics.
llvm::Expected<TestModule> lowerTestModule(const std::string &source,
                                           int64_t maxTokens,
                                           int64_t maxSeqLen);

/// A weight source whose values (f32, converted to the plan's dtype) come
/// from `values`; every weight must get exactly its element count.
class TestWeights : public plan_writer::WeightSource {
public:
  using Values = std::function<std::vector<float>(const plan_writer::WeightSpec &)>;
  explicit TestWeights(Values values)
      : values(std::move(values)),
        quantized(plan_writer::makeRandomSource(/*seed=*/1)) {}
  llvm::Error check(const plan_writer::WeightSpec &spec) override;
  llvm::Error fill(const plan_writer::WeightSpec &spec, uint64_t offset,
                   llvm::MutableArrayRef<uint8_t> out) override;

private:
  Values values;
  /// Quantized weights' codes and scales: --random-weights' (codes of
  /// every magnitude, scales that keep the dequantized rows' scale).
  std::unique_ptr<plan_writer::WeightSource> quantized;
};

/// Deterministic values from the tensor's name: 1-D "*norm*" weights
/// 1 +- 0.2, biases +-0.1, the embedding table +-1, other matrices
/// +-1/sqrt(columns), so every variant of the norms is told apart.
std::vector<float> testValues(const plan_writer::WeightSpec &spec);

} // namespace llmc::test

#endif // LLMC_TEST_SUPPORT_TESTMODULE_H
