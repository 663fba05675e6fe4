//===- OutputFile.h - writing a result without destroying a file -*- C++ -*-===//
//
// Every file llmc writes (-o, --logits-out) goes through an OutputFile, so
// that whatever the path names survives a failed, interrupted or misdirected
// write:
//
// - A regular file, or a path that does not exist yet, is replaced
//   atomically: the bytes go to an unnamed file (O_TMPFILE) in the same
//   directory, which commit() fsyncs, links under a fresh name and renames
//   over the path. Readers see the old file or the new one; a killed process
//   leaves nothing behind. A symbolic link at the path is kept: the file it
//   points to is replaced.
// - Anything else that can be written (a character device such as /dev/null
//   or /dev/stdout, a FIFO, "-" for standard output) is never created,
//   truncated or replaced: a device that can seek (/dev/null, /dev/full) is
//   written directly; otherwise the bytes are staged in an unnamed file in
//   the temporary directory and copied to it by commit(). A FIFO nobody
//   reads is an error, not a hang.
// - A directory, a socket or a dangling link is refused.
//
// Every failure names the path and the system's reason (errno), including a
// full device at write, fsync or close time.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_SUPPORT_OUTPUTFILE_H
#define LLMC_COMPILER_SUPPORT_OUTPUTFILE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace llmc::support {

class OutputFile {
public:
  /// Prepares writing `path` ("-": standard output). Creates nothing
  /// visible.
  static llvm::Expected<std::unique_ptr<OutputFile>> open(llvm::StringRef path);

  /// Discards the bytes unless commit() succeeded.
  ~OutputFile();
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;

  /// Writes `size` bytes at `offset` of the staged file.
  llvm::Error write(const void *data, uint64_t size, uint64_t offset);
  /// Appends after the last byte written so far.
  llvm::Error append(const void *data, uint64_t size);
  /// Reads back `size` staged bytes at `offset` (not for a device written
  /// directly).
  llvm::Error read(void *data, uint64_t size, uint64_t offset) const;
  /// One past the last byte written so far.
  uint64_t size() const { return end_; }
  /// Sets the staged file's size (zero-filling).
  llvm::Error resize(uint64_t size);
  /// Starts writing bytes [offset, offset + size) to the disk now, so that
  /// a large output reaches it while later bytes are produced and commit()'s
  /// fsync has little left to do. A hint: ignored where it does not apply.
  void startWriteback(uint64_t offset, uint64_t size);
  /// Waits until bytes [offset, offset + size) are on the disk, then lets
  /// the page cache drop them: a plan larger than memory then does not push
  /// its own input out of the cache. A hint, as startWriteback.
  void finishWriteback(uint64_t offset, uint64_t size);
  /// Bytes free on the file system the staged bytes go to (UINT64_MAX for
  /// a device written directly, or when the system cannot tell).
  uint64_t availableBytes() const;
  /// Puts the bytes in place (see the file comment). At most once.
  llvm::Error commit();

  /// The path as given, for messages.
  const std::string &path() const { return path_; }

private:
  enum class Kind { Replace, Direct, Copy };
  OutputFile() = default;
  llvm::Error fail(const std::string &what, int error) const;
  llvm::Error commitReplace();
  llvm::Error commitCopy();

  std::string path_;   // as given
  std::string target_; // the file replaced or written (symlinks resolved)
  Kind kind_ = Kind::Replace;
  int fd_ = -1;          // the staged bytes (Direct: the device)
  std::string named_;    // a named staging file (no O_TMPFILE) to remove
  uint64_t end_ = 0;     // one past the last byte written
  bool committed_ = false;
};

/// Writes `text` to `path` through an OutputFile.
llvm::Error writeOutputFile(llvm::StringRef path, llvm::StringRef text);

} // namespace llmc::support

#endif // LLMC_COMPILER_SUPPORT_OUTPUTFILE_H
