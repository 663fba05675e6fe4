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

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>

namespace llmc::support {

/// The largest JSON file read whole (config.json, an index): 64 MiB.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t(64) << 20;

/// The contents of the regular file `path`, at most `maxBytes` long (large
/// files are mapped, not read). Errors name the path and the problem.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(llvm::StringRef path, uint64_t maxBytes, bool isText);

} // namespace llmc::support

#endif // LLMC_COMPILER_SUPPORT_INPUTFILE_H
