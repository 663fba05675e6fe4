//===- Log.h - the runtime's messages to the embedder's log -----*- C++ -*-===//
//
// What llmc_set_log_callback routes: decisions worth knowing that are not
// errors (the code a device runs, memory growth). Nothing is formatted
// unless a callback takes the level.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_LOG_H
#define LLMC_RUNTIME_SRC_LOG_H

#include "llmc/llmc.h"

#include <string>

namespace llmc::runtime {

struct Logger;
Logger &logger();

/// Whether a callback takes messages of `level`.
bool logEnabled(llmc_log_level level);
/// Sends `message` to the callback if it takes `level`.
void log(llmc_log_level level, const std::string &message);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_LOG_H
