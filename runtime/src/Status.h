//===- Status.h - the runtime's internal error type -------------*- C++ -*-===//
//
// A status code and its message. Internal code returns a Status; the C API
// (Api.cpp) stores a failing one's message as the thread's last error.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_STATUS_H
#define LLMC_RUNTIME_SRC_STATUS_H

#include "llmc/llmc.h"

#include <exception>
#include <new>
#include <string>
#include <utility>

namespace llmc::runtime {

class [[nodiscard]] Status {
public:
  /// Success.
  Status() = default;
  Status(llmc_status code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status success() { return Status(); }

  bool ok() const { return code_ == LLMC_OK; }
  llmc_status code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  llmc_status code_ = LLMC_OK;
  std::string message_;
};

inline Status invalidArgument(std::string message) {
  return Status(LLMC_ERROR_INVALID_ARGUMENT, std::move(message));
}
inline Status invalidPlan(std::string message) {
  return Status(LLMC_ERROR_INVALID_PLAN, std::move(message));
}

/// Returns from the enclosing function if `expr` (a Status) failed.
#define LLMC_RETURN_IF_ERROR(expr)                                             \
  do {                                                                         \
    if (::llmc::runtime::Status status_ = (expr); !status_.ok())               \
      return status_;                                                          \
  } while (false)

/// Makes `status` this thread's last error (if it is a failure) and returns
/// its code.
llmc_status setLastError(const Status &status);

/// Runs `body` (returning a Status) and turns any exception into a status, so
/// that none escapes the C API: std::bad_alloc is LLMC_ERROR_OUT_OF_MEMORY,
/// anything else LLMC_ERROR_INTERNAL. `what` names the API call.
template <typename Body>
llmc_status guardApi(const char *what, Body &&body) noexcept {
  try {
    return setLastError(body());
  } catch (const std::bad_alloc &) {
    return setLastError(Status(LLMC_ERROR_OUT_OF_MEMORY,
                               std::string(what) + ": out of memory"));
  } catch (const std::exception &e) {
    return setLastError(
        Status(LLMC_ERROR_INTERNAL,
               std::string(what) + ": internal error: " + e.what()));
  } catch (...) {
    return setLastError(
        Status(LLMC_ERROR_INTERNAL, std::string(what) + ": internal error"));
  }
}

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_STATUS_H
