//===- Progress.h - what a long command is doing, on stderr -----*- C++ -*-===//
//
// `llmc compile` reports its phases (parse, passes, code generation per
// target, weights, write) so that a 100-second compile is not 100 seconds of
// silence:
//
// - Live (stderr is a terminal, no --quiet): one line per finished phase,
//   and the phase in flight on a line of its own rewritten in place (bytes
//   done of the total, MB/s), at most a few times a second.
// - Lines (--progress where stderr is not a terminal, as in a CI log): the
//   same finished-phase lines, and the long phase every 10 percent; nothing
//   is rewritten.
// - Off (not a terminal, or --quiet): nothing.
//
// Errors are not progress: they are printed by the caller, after clear().
// Safe to call from several threads (code generation runs beside the
// weights).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_SUPPORT_PROGRESS_H
#define LLMC_COMPILER_SUPPORT_PROGRESS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace llmc::support {

class Progress {
public:
  enum class Mode { Off, Lines, Live };

  /// Live on a terminal, Lines when `forced` (--progress) elsewhere, Off
  /// with `quiet` or otherwise.
  static Mode modeFor(bool quiet, bool forced);

  explicit Progress(Mode mode, llvm::raw_ostream &os = llvm::errs());
  ~Progress();

  bool enabled() const { return mode_ != Mode::Off; }

  /// A phase finished: "llmc: <phase>: <detail> (<seconds> s)".
  void done(llvm::StringRef phase, llvm::StringRef detail, double seconds);

  /// The long phase in flight: `done` of `total` bytes after `seconds`.
  void bytes(llvm::StringRef phase, uint64_t done, uint64_t total,
             double seconds);

  /// Removes the live line (before an error message or the end).
  void clear();

  /// "2.47 GB", "412.0 MB": decimal units, as disks are sold and `ls -h --si`.
  static std::string formatBytes(uint64_t bytes);

private:
  void drawLocked();

  Mode mode_;
  llvm::raw_ostream &os_;
  std::mutex mutex_;
  std::string live_; // the line in flight, empty when none
  std::chrono::steady_clock::time_point lastDraw_{};
  int lastDecile_ = -1;
};

/// Seconds since `start`.
inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}

} // namespace llmc::support

#endif // LLMC_COMPILER_SUPPORT_PROGRESS_H
