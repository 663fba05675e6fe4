//===- PlanFile.h - a memory-mapped, verified plan file ---------*- C++ -*-===//
//
// The one way to read a plan: open() maps the file read-only and verifies all
// of it (layout, header checksum, flatbuffer with explicit limits, format
// version, then every index, size and offset the interpreter will trust, and
// every weight's checksum) before anyone looks inside. Used by the runtime's
// llmc_plan_open and by `llmc inspect`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_PLANFILE_H
#define LLMC_RUNTIME_SRC_PLANFILE_H

#include "runtime/schema/plan_generated.h"
#include "runtime/src/Status.h"

#include <cstdint>
#include <memory>
#include <string>

namespace llmc::runtime {

class PlanFile {
public:
  /// Maps and verifies `path`. On failure `out` is left empty and the status
  /// (LLMC_ERROR_IO, LLMC_ERROR_INVALID_PLAN or LLMC_ERROR_UNSUPPORTED) has
  /// one message that starts with `path` and names the problem.
  ///
  /// With `verifyKey` (an Ed25519 public key of kSignatureKeyBytes), the plan
  /// must end with a signature block whose signature verifies with that key;
  /// it is checked before anything else is read from the file.
  ///
  /// `readIntoMemory`: a private copy instead of a mapping, so that the file
  /// changing or shrinking under the process cannot reach it.
  static Status open(const std::string &path, std::unique_ptr<PlanFile> &out,
                     const uint8_t *verifyKey = nullptr,
                     bool readIntoMemory = false);

  /// Verifies the `size` bytes at `data` as open() does a file's. Without
  /// `copy` they are used in place (the caller keeps them alive and
  /// unchanged while the plan is open) and must be aligned to
  /// kPlanMemoryAlignment; with it they are copied first. Messages start
  /// with "plan in memory".
  static Status openMemory(const void *data, uint64_t size,
                           std::unique_ptr<PlanFile> &out,
                           const uint8_t *verifyKey = nullptr,
                           bool copy = false);

  ~PlanFile();
  PlanFile(const PlanFile &) = delete;
  PlanFile &operator=(const PlanFile &) = delete;

  /// The verified root table; valid as long as this object.
  const llmc::plan::Plan *plan() const { return plan_; }

  /// The bytes of weight `index` (Plan.weights[index].size of them), or
  /// nullptr if `index` is out of range.
  const uint8_t *weightData(uint32_t index) const;

  /// LLMC_ERROR_UNSUPPORTED unless Plan.targets contains `target` ("cpu").
  Status requireTarget(const char *target) const;

  /// The path as given to open(), used as the prefix of every message.
  const std::string &path() const { return path_; }
  uint64_t fileSize() const { return size_; }
  /// Whether the file ends with a signature block, and the public key it
  /// names (verified only when open() was given a key).
  bool isSigned() const { return signer_ != nullptr; }
  const uint8_t *signerKey() const { return signer_; }
  /// The whole file.
  const uint8_t *data() const { return data_; }

private:
  explicit PlanFile(std::string path) : path_(std::move(path)) {}
  /// Everything open() checks once the bytes are in data_ and size_.
  Status verify(const uint8_t *verifyKey);

  std::string path_;
  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
  const llmc::plan::Plan *plan_ = nullptr;
  const uint8_t *signer_ = nullptr;
  uint8_t *copy_ = nullptr; // readIntoMemory: owns data_
  bool borrowed_ = false;   // openMemory without a copy: the caller's bytes
};

/// Checks every field of a flatbuffer-verified `plan` that the interpreter
/// trusts, and each weight's bytes inside `file` (`fileSize` bytes, whose
/// header ends at `headerEnd`). Messages start with `path`.
Status verifyPlanContents(const llmc::plan::Plan &plan, const uint8_t *file,
                          uint64_t fileSize, uint64_t headerEnd,
                          const std::string &path);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_PLANFILE_H
