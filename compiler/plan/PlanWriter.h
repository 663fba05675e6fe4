//===- PlanWriter.h - a lowered module and its weights as a plan file
//------===//
//
// Turns a module after kernel-lower and kernel-select (kernel.launch ops
// with arena offsets and their kernel.calls) and its compiled code into the
// flatbuffer of runtime/schema/plan.fbs, serialized once, and writes it with
// the weights to a plan file through compiler/support/OutputFile.h: a regular
// file is replaced atomically (a failed or killed compile leaves neither a
// partial plan nor a temporary file, and destroys no existing one); a device
// or FIFO is written, never replaced.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_PLAN_PLANWRITER_H
#define LLMC_COMPILER_PLAN_PLANWRITER_H

#include "compiler/support/Signing.h"
#include "runtime/schema/PlanFormat.h"
#include "runtime/schema/plan_generated.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::hf {
class SafetensorsArchive;
}
namespace llmc::support {
class Progress;
}
namespace mlir {
class TimingScope;
}

namespace llmc::plan_writer {

class QuantReport;

/// A weight the plan needs: the checkpoint tensor `name`, stored as `dtype`
/// (F32, F16 or BF16; F8E4M3 for a quantized weight's values, which are
/// copied as the checkpoint stores them).
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
  llmc::plan::DType dtype;
  /// Non-empty: the weight is these checkpoint tensors concatenated, in
  /// order, each of an equal share of `shape` (llm.param ... stacked).
  std::vector<std::string> parts = {};
  /// With one part: rows [rowBegin, rowBegin + shape[0]) of that tensor,
  /// which has sourceRows rows (llm.param ... rows); sourceRows 0: no slice.
  int64_t rowBegin = 0, sourceRows = 0;
  /// The one checkpoint tensor has the last two dimensions of `shape`
  /// swapped (llm.param ... transposed).
  bool transposed = false;
  /// The checkpoint interleaves the halves of dimension 1 (llm.param ...
  /// interleaved): its index 2j is ours j, 2j + 1 ours N/2 + j.
  bool interleaved = false;
  /// A quantized weight's values (dtype F8E4M3, read from the checkpoint
  /// as stored, or computed by --quantize; I4, computed by --quantize):
  /// elements per block in each dimension, and the index (in the plan's
  /// weights) of its scales, ceil(shape / block). Empty block: not
  /// quantized.
  std::vector<int64_t> block = {};
  unsigned scalesIndex = 0;
  /// How the checkpoint packs integer values, their zero points and
  /// (awq-gemm) scales (llm.param ... packing): "pack-quantized",
  /// "awq-gemm", or empty (stored as the plan holds them, or computed).
  std::string packing = {};
  /// A quantized weight with zero points: they are the weight after its
  /// scales (scalesIndex + 1), I8 of the scales' shape.
  bool hasZeros = false;
  /// The zero points of a quantized weight: that weight's name, and the
  /// bits the checkpoint stores each in (packed into int32 words as the
  /// weight's `packing` says). Empty: not zero points.
  std::string zerosOf = {};
  unsigned zeroBits = 0;
  /// The scales of a quantized weight: what --random-weights fills them
  /// with (1 / sqrt(in_features) for E4M3 codes, 1 / (8 sqrt(in_features))
  /// for I4 codes, so that dequantized values keep a dense random weight's
  /// scale). 0: not scales.
  float randomScale = 0.0f;
  /// The scales of a quantized weight: that weight's name (its values'
  /// spec), from which --quantize computes them. Empty: not scales.
  std::string scalesOf = {};
  /// A dense weight the checkpoint stores as FP8 blocks (llm.param ...
  /// stored): its scales' tensor and block; the writer dequantizes each
  /// element (code * scale in fp32) into `dtype`. Empty: stored as is.
  std::string storedScales = {};
  std::vector<int64_t> storedBlock = {};
  uint64_t bytes() const;
  /// The shape of one part: rows of the last dimension's width, as many as
  /// one part's share of the elements makes ([E, 2I, H] from 2E parts:
  /// [I, H]; [E, H, I] from E parts: [H, I]). Needs parts.
  std::vector<int64_t> partShape() const;
};

/// Where weight values come from.
class WeightSource {
public:
  virtual ~WeightSource();
  /// Checks that `spec` can be filled (exists, right shape and dtype kind);
  /// called for every weight before the file is created.
  virtual llvm::Error check(const WeightSpec &spec) = 0;
  /// Writes bytes [offset, offset + out.size()) of the tensor's values,
  /// converted to spec.dtype, into `out` (both multiples of the element
  /// size). The plan writer streams each weight front to back in bounded
  /// chunks, one weight after the other, from one thread.
  virtual llvm::Error fill(const WeightSpec &spec, uint64_t offset,
                           llvm::MutableArrayRef<uint8_t> out) = 0;
};

/// The checkpoint's tensors. With quantizeDense (llmc compile --quantize
/// fp8-block), quantized weights are read from the checkpoint's float
/// tensors of their names and quantized here (Quantize.h), their scales
/// computed alongside, instead of read as stored; with `report`, each
/// quantized weight's error against the checkpoint's values is added to it.
std::unique_ptr<WeightSource>
makeSafetensorsSource(const hf::SafetensorsArchive &archive,
                      bool tieWordEmbeddings, bool quantizeDense = false,
                      QuantReport *report = nullptr);

/// Deterministic pseudo-random values for benchmarks without a checkpoint:
/// norm weights 1, every other tensor uniform in +-1/sqrt(last dimension),
/// so activations keep a sane scale through any depth.
std::unique_ptr<WeightSource> makeRandomSource(uint64_t seed);

struct PlanOptions {
  /// "cpu" (the op lists, always written) and CUDA architectures ("sm_90a",
  /// "sm_80", ...): for each of those every kernel is generated, compiled
  /// with NVRTC and stored.
  std::vector<std::string> targets{"cpu"};
  /// When not empty, every generated kernel source is written there as
  /// <entry>.cu (also the place NVRTC failures point to).
  std::string dumpKernelsDir;
  /// NVRTC compiles at once (0: one per hardware thread).
  unsigned jobs = 0;
  /// Extra NVRTC options for every kernel ("-lineinfo", "-maxrregcount=64").
  std::vector<std::string> nvrtcOptions;
  /// The longest sequence a session may hold.
  int64_t maxSeqLen = 0;
  /// Tokens per page of the paged KV cache (MemoryPlan.kv_page_tokens), a
  /// power of two; 0 writes a plan with one page per sequence, as before
  /// format 1.9 (tests).
  int64_t kvPageTokens = runtime::kDefaultKvPageTokens;
  /// What the compile left out (Model.notes), printed by `llmc inspect`.
  std::vector<std::string> notes;
  /// When set, the plan ends with a signature block by this key
  /// (compiler/support/Signing.h); the output must then be a file.
  const support::SigningKey *signingKey = nullptr;
  /// Tests write plans of other versions; 0 means the current format.
  uint16_t formatMajor = 0, formatMinor = 0;
  /// Phases reported as they finish (weights: bytes and MB/s); may be null.
  support::Progress *progress = nullptr;
  /// The weights, code generation and write phases nest here (--time-phases);
  /// may be null.
  mlir::TimingScope *timing = nullptr;
  /// Room left for pending code before the weights; unset: estimated from
  /// the sources. Weight sections under 64 MiB are written after the code
  /// unless this is set (tests force a move of the weight section with a
  /// small one).
  std::optional<uint64_t> codeReserveBytes;
};

/// Where a kernel NVRTC rejects is written for the error message:
/// options.dumpKernelsDir, else a new directory under the system's
/// temporary directory (created only when a source is written).
std::string failedKernelDir(const PlanOptions &options);

/// The CUDA targets among options.targets.
std::vector<std::string> cudaTargets(const PlanOptions &options);

/// One compiled entry for one target (plan.fbs CodeBinary).
struct CodeBinary {
  std::string target;
  std::vector<uint8_t> cubin;
  std::string ptx;
  std::string symbol; // the entry's name in the cubin
  uint32_t registers = 0, spillStoreBytes = 0, spillLoadBytes = 0,
           staticSharedBytes = 0, localBytes = 0;
};

/// One generated entry: what kernel.call ops name as `entry`.
struct CodeEntry {
  std::string name;
  std::string source;
  std::vector<CodeBinary> binaries; // one per CodeSection::targets
};

/// The compiled code of a module's kernel.call ops (plan.fbs CudaCode).
struct CodeSection {
  std::vector<std::string> targets;
  std::vector<CodeEntry> entries;
  std::string nvrtcVersion;
};

/// Code whose entries are known (the header's launches name them) while
/// NVRTC still compiles them.
struct PendingCode {
  /// Every entry's name and source, the targets and the NVRTC version; no
  /// binaries yet.
  CodeSection code;
  /// Compiles everything: result[i] is entry i's binaries, one per target.
  /// Runs on a thread of its own while the weights stream.
  std::function<llvm::Expected<std::vector<std::vector<CodeBinary>>>()>
      compile;
};

/// Writes `module` (after kernel-lower and kernel-select) and its weights to
/// `path`; with `code`, also every kernel.call as a launch of the entry of
/// that name, each program's kernel.greedy launches, and the code.
llvm::Error writePlan(mlir::ModuleOp module, WeightSource &weights,
                      const PlanOptions &options, llvm::StringRef path,
                      const CodeSection *code = nullptr);

/// The same, with code compiled while the weights are written; an error of
/// `pending.compile` stops the weights and leaves no file.
llvm::Error writePlan(mlir::ModuleOp module, WeightSource &weights,
                      const PlanOptions &options, llvm::StringRef path,
                      PendingCode pending);

} // namespace llmc::plan_writer

#endif // LLMC_COMPILER_PLAN_PLANWRITER_H
