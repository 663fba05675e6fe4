//===- Status.cpp - last-error storage and status names -------------------===//

#include "runtime/src/Status.h"

namespace llmc::runtime {

namespace {
// The message of this thread's last failing call; llmc_last_error returns a
// pointer into it, valid until the next failure on the same thread.
thread_local std::string lastError;
} // namespace

llmc_status setLastError(const Status &status) {
  if (!status.ok()) {
    // Assigning may throw std::bad_alloc; keep the code even then.
    try {
      lastError = status.message();
    } catch (...) {
      lastError.clear();
    }
  }
  return status.code();
}

} // namespace llmc::runtime

extern "C" const char *llmc_status_string(llmc_status status) {
  switch (status) {
  case LLMC_OK:
    return "ok";
  case LLMC_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case LLMC_ERROR_IO:
    return "I/O error";
  case LLMC_ERROR_INVALID_PLAN:
    return "invalid plan";
  case LLMC_ERROR_UNSUPPORTED:
    return "unsupported";
  case LLMC_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case LLMC_ERROR_CAPACITY:
    return "capacity exceeded";
  case LLMC_ERROR_NO_DEVICE:
    return "no device";
  case LLMC_ERROR_INTERNAL:
    return "internal error";
  case LLMC_ERROR_ABORTED:
    return "aborted";
  }
  return "unknown status";
}

extern "C" const char *llmc_last_error(void) {
  return llmc::runtime::lastError.c_str();
}
