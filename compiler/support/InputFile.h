//===- InputFile.h - reading an input file without hanging ------*- C++ -*-===//
//
// Every file the compiler reads (config.json, safetensors shards and their
// index) is opened here: without blocking (a FIFO never hangs the compile),
// required to be a regular file (not /dev/zero, a FIFO or a directory), and,
// where it is read whole, no larger than a stated limit, so a wrong path
// gives one clear error instead of a hang or an exhausted memory.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_SUPPORT_INPUTFILE_H
#define LLMC_COMPILER_SUPPORT_INPUTFILE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace llmc::support {

/// The largest JSON file read whole (config.json, an index): 64 MiB.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t(64) << 20;

/// The contents of the regular file `path`, at most `maxBytes` long (large
/// files are mapped, not read). Errors name the path and the problem.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(llvm::StringRef path, uint64_t maxBytes, bool isText);

/// A regular file kept open for reading byte ranges (pread), so that a large
/// input is streamed in bounded chunks instead of being faulted in through a
/// mapping that the process's resident memory then counts.
class InputFile {
public:
  /// Opens `path` as readInputFile does (non-blocking, a regular file).
  static llvm::Expected<std::unique_ptr<InputFile>> open(llvm::StringRef path);
  ~InputFile();
  InputFile(const InputFile &) = delete;
  InputFile &operator=(const InputFile &) = delete;

  /// Maps the whole file (large files are mmapped, not read).
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> map() const;
  /// Reads exactly out.size() bytes at `offset`; a file that shrank since it
  /// was opened is an error naming it.
  llvm::Error read(uint64_t offset, llvm::MutableArrayRef<uint8_t> out) const;
  /// Tells the kernel the file is read front to back (larger read-ahead).
  void adviseSequential() const;

  uint64_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  friend llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
  readInputFile(llvm::StringRef path, uint64_t maxBytes, bool isText);
  InputFile() = default;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

} // namespace llmc::support

#endif // LLMC_COMPILER_SUPPORT_INPUTFILE_H
