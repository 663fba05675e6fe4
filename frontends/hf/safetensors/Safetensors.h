//===- Safetensors.h - read Hugging Face .safetensors weights ------------===//
//
// Opens one .safetensors file or a sharded model (model.safetensors.index.json
// plus its shards), memory-maps the files and validates every header exactly
// as the format promises before handing out views of tensor bytes. Anything
// wrong with a file is one error naming the file and, where there is one, the
// tensor.
//
// Format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of UTF-8 JSON mapping tensor names
// to {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__"
// object of strings), then the data section the offsets index into.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_FRONTENDS_HF_SAFETENSORS_SAFETENSORS_H
#define LLMC_FRONTENDS_HF_SAFETENSORS_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::support {
class InputFile;
}

namespace llmc::hf {

/// The element types a safetensors header may name (its spelling: "BF16").
enum class TensorDType {
  F64,
  F32,
  F16,
  BF16,
  F8_E4M3, // float8_e4m3fn: no infinities, max 448
  F8_E5M2, // float8_e5m2: IEEE-like, with infinities
  I64,
  I32,
  I16,
  I8,
  U8,
  Bool
};

/// Parses the header spelling ("F32", "BF16", "F8_E4M3", "BOOL", ...).
std::optional<TensorDType> parseTensorDType(llvm::StringRef name);
/// The header spelling of `dtype`.
llvm::StringRef tensorDTypeName(TensorDType dtype);
/// Bytes per element.
uint64_t tensorDTypeSize(TensorDType dtype);
/// True for F64, F32, F16, BF16 and the F8 types.
bool isFloatingTensorDType(TensorDType dtype);

/// One tensor of an archive; `data` points into a file the archive keeps
/// mapped, so a view lives exactly as long as its archive.
struct TensorView {
  std::string name;
  TensorDType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data; // into the memory-mapped file; not aligned
  uint64_t size;       // bytes; == numElements() * tensorDTypeSize(dtype)
  std::string file;    // the .safetensors file it lives in (for messages)
  uint32_t shard = 0;  // which of its archive's files (SafetensorsArchive::read)

  /// Product of `shape` (1 for a scalar); checked against overflow on load.
  uint64_t numElements() const;
};

/// The tensors of one model, validated and memory-mapped.
class SafetensorsArchive {
public:
  /// `path`: a .safetensors file, a model.safetensors.index.json, or a model
  /// directory holding model.safetensors (preferred, as transformers does) or
  /// model.safetensors.index.json.
  static llvm::Expected<std::unique_ptr<SafetensorsArchive>>
  open(llvm::StringRef path);

  /// Validates one in-memory .safetensors image; `name` is used in messages.
  /// For tests and fuzzing.
  static llvm::Expected<std::unique_ptr<SafetensorsArchive>>
  openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

  /// Copies bytes [offset, offset + out.size()) of `tensor`'s data (a view
  /// of this archive) into `out`: read from the file in one pread, so that
  /// streaming a checkpoint keeps only what the caller holds resident
  /// (touching `data` instead faults the mapped pages in). Errors name the
  /// file (one that shrank since it was opened, an I/O error).
  llvm::Error read(const TensorView &tensor, uint64_t offset,
                   llvm::MutableArrayRef<uint8_t> out) const;

  /// The tensor called `name`, or nullptr if there is none.
  const TensorView *find(llvm::StringRef name) const;
  /// Every tensor, sorted by name.
  llvm::ArrayRef<TensorView> tensors() const { return views; }
  /// What was opened, for messages.
  llvm::StringRef source() const { return sourcePath; }
  /// The "__metadata__" entries; for a sharded model those of every shard,
  /// the first shard (by file name) winning when two disagree.
  const std::map<std::string, std::string> &metadata() const { return meta; }

  ~SafetensorsArchive();

private:
  SafetensorsArchive() = default;

  std::string sourcePath;
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> buffers;
  /// The open files behind `buffers` (none for openBuffer's).
  std::vector<std::unique_ptr<support::InputFile>> files;
  std::vector<TensorView> views;
  std::map<std::string, std::string> meta;
};

/// Checks that `name` exists with exactly `shape`. Errors name the archive,
/// the tensor and both shapes:
///   <dir>: tensor "x" has shape [64, 32], config.json implies [128, 64]
///   <dir>: missing tensor "lm_head.weight" (<why>)
/// A non-empty `why` is appended to either message in parentheses.
llvm::Expected<const TensorView *>
requireTensor(const SafetensorsArchive &archive, llvm::StringRef name,
              llvm::ArrayRef<int64_t> shape, llvm::StringRef why = "");

/// Converts a floating tensor (F64, F32, F16, BF16, F8_E4M3, F8_E5M2) to F32,
/// F16 or BF16 in `out` (out.size() == numElements * size of `to`), rounding
/// once, to nearest even; overflow gives infinity, NaN stays NaN. Integer
/// tensors and other targets are errors naming the tensor and the dtype.
llvm::Error convertTensor(const TensorView &tensor, TensorDType to,
                          llvm::MutableArrayRef<uint8_t> out);

} // namespace llmc::hf

#endif // LLMC_FRONTENDS_HF_SAFETENSORS_SAFETENSORS_H
