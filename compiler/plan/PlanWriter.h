//===- PlanWriter.h - a lowered module and its weights as a plan file
//------===//
//
// Turns a module after kernel-lower (kernel.launch ops with arena offsets)
// into the flatbuffer of runtime/schema/plan.fbs, and writes it with the
// weights to a plan file: through a temporary file in the same directory,
// fsynced and renamed, so a failed or interrupted compile never leaves a
// partial plan nor destroys an existing one.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_PLAN_PLANWRITER_H
#define LLMC_COMPILER_PLAN_PLANWRITER_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmc::hf {
class SafetensorsArchive;
}

namespace llmc::plan_writer {

/// Element types a weight can be stored as.
enum class WeightDType { F32, F16, BF16 };

/// A weight the plan needs: the checkpoint tensor `name`, stored as `dtype`.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
  WeightDType dtype;
  uint64_t bytes() const;
};

/// Where weight values come from.
class WeightSource {
public:
  virtual ~WeightSource();
  /// Checks that `spec` can be filled (exists, right shape and dtype kind);
  /// called for every weight before the file is created.
  virtual llvm::Error check(const WeightSpec &spec) = 0;
  /// Writes the tensor's values, converted to spec.dtype, into `out`.
  virtual llvm::Error fill(const WeightSpec &spec,
                           llvm::MutableArrayRef<uint8_t> out) = 0;
};

/// The checkpoint's tensors.
std::unique_ptr<WeightSource>
makeSafetensorsSource(const hf::SafetensorsArchive &archive,
                      bool tieWordEmbeddings);

/// Deterministic pseudo-random values for benchmarks without a checkpoint:
/// norm weights 1, every other tensor uniform in +-1/sqrt(last dimension),
/// so activations keep a sane scale through any depth.
std::unique_ptr<WeightSource> makeRandomSource(uint64_t seed);

struct PlanOptions {
  std::vector<std::string> targets{"cpu"};
  /// The longest sequence a session may hold.
  int64_t maxSeqLen = 0;
  /// Tests write plans of other versions; 0 means the current format.
  uint16_t formatMajor = 0, formatMinor = 0;
};

/// Writes `module` (after kernel-lower) and its weights to `path`.
llvm::Error writePlan(mlir::ModuleOp module, WeightSource &weights,
                      const PlanOptions &options, llvm::StringRef path);

} // namespace llmc::plan_writer

#endif // LLMC_COMPILER_PLAN_PLANWRITER_H
