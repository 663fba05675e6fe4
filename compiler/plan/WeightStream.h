//===- WeightStream.h - the weight section, streamed to the plan file ------===//
//
// The weight section is written front to back in fixed chunks by two
// threads: one fills each chunk from the WeightSource (reading the
// checkpoint in bounded preads, converting) and updates each weight's XXH3
// checksum; the other writes the chunk and starts its write-back to the
// disk at once, waiting for chunks a few behind. Memory stays at a few
// chunks whatever the checkpoint's size; the disk is busy from the first
// chunk to the last instead of at a final fsync.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_PLAN_WEIGHTSTREAM_H
#define LLMC_COMPILER_PLAN_WEIGHTSTREAM_H

#include "compiler/plan/PlanWriter.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace llmc::support {
class OutputFile;
}

namespace llmc::plan_writer {

/// Where each weight sits in the weight section (aligned to 256 bytes),
/// and the section's size (a multiple of 256).
struct WeightLayout {
  std::vector<uint64_t> offsets;
  uint64_t size = 0;
};

WeightLayout layoutWeights(llvm::ArrayRef<WeightSpec> specs);

/// Bytes per chunk, and chunks in memory at once.
inline constexpr uint64_t kStreamChunkBytes = uint64_t(8) << 20;
inline constexpr unsigned kStreamBuffers = 4;

struct StreamHooks {
  /// Called after each chunk is written: bytes of the section done so far.
  std::function<void(uint64_t done)> progress;
  /// Set by another thread to stop early (the code compile failed); the
  /// stream then returns an error saying so.
  const std::atomic<bool> *cancel = nullptr;
};

/// Writes the whole section at `base` in `file`: every weight's bytes at its
/// offset, zeros between. Returns each weight's checksum.
llvm::Expected<std::vector<uint64_t>>
streamWeights(WeightSource &source, llvm::ArrayRef<WeightSpec> specs,
              const WeightLayout &layout, support::OutputFile &file,
              uint64_t base, const StreamHooks &hooks);

} // namespace llmc::plan_writer

#endif // LLMC_COMPILER_PLAN_WEIGHTSTREAM_H
