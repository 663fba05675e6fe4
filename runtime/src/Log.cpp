//===- Log.cpp - the runtime's messages to the embedder's log -------------===//

#include "runtime/src/Log.h"

#include <mutex>

namespace llmc::runtime {

struct Logger {
  std::mutex mutex;
  llmc_log_fn fn = nullptr;
  llmc_log_level minLevel = LLMC_LOG_WARNING;
  void *userData = nullptr;
};

Logger &logger() {
  static Logger instance;
  return instance;
}

bool logEnabled(llmc_log_level level) {
  Logger &l = logger();
  std::lock_guard<std::mutex> lock(l.mutex);
  return l.fn && level >= l.minLevel;
}

void log(llmc_log_level level, const std::string &message) {
  Logger &l = logger();
  // Under the lock: the callback is not replaced while it runs.
  std::lock_guard<std::mutex> lock(l.mutex);
  if (l.fn && level >= l.minLevel)
    l.fn(level, message.c_str(), l.userData);
}

} // namespace llmc::runtime

extern "C" void llmc_set_log_callback(llmc_log_fn fn,
                                      llmc_log_level min_level,
                                      void *user_data) {
  auto &l = llmc::runtime::logger();
  std::lock_guard<std::mutex> lock(l.mutex);
  l.fn = fn;
  l.minLevel = min_level;
  l.userData = user_data;
}

extern "C" const char *llmc_log_level_string(llmc_log_level level) {
  switch (level) {
  case LLMC_LOG_DEBUG:
    return "debug";
  case LLMC_LOG_INFO:
    return "info";
  case LLMC_LOG_WARNING:
    return "warning";
  }
  return "unknown level";
}
