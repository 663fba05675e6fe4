//===- ToolSupport.h - what the llmc subcommands share ----------*- C++ -*-===//
//
// Error reporting, --backend parsing, and owning handles for plans and
// sessions opened through the public C API (run, bench).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TOOLS_TOOLSUPPORT_H
#define LLMC_COMPILER_TOOLS_TOOLSUPPORT_H

#include "llmc/llmc.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>

namespace llmc::tools {

/// Prints "llmc: error: <message>" and returns the exit code 1.
inline int fail(const llvm::Twine &message) {
  llvm::errs() << "llmc: error: " << message << "\n";
  return 1;
}

/// "cpu" or "cuda"; nothing for anything else.
inline std::optional<llmc_backend> parseBackend(llvm::StringRef name) {
  if (name == "cpu")
    return LLMC_BACKEND_CPU;
  if (name == "cuda")
    return LLMC_BACKEND_CUDA;
  return std::nullopt;
}

struct PlanCloser {
  void operator()(llmc_plan *p) const { llmc_plan_close(p); }
};
struct SessionDestroyer {
  void operator()(llmc_session *s) const { llmc_session_destroy(s); }
};
using PlanHandle = std::unique_ptr<llmc_plan, PlanCloser>;
using SessionHandle = std::unique_ptr<llmc_session, SessionDestroyer>;

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_TOOLSUPPORT_H
