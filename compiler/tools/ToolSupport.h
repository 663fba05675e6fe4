//===- ToolSupport.h - what the llmc subcommands share ----------*- C++ -*-===//
//
// Error reporting, --backend parsing, the options of commands that open a
// plan (--verify-key, --no-mmap), and owning handles for plans and sessions
// through the public C API.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TOOLS_TOOLSUPPORT_H
#define LLMC_COMPILER_TOOLS_TOOLSUPPORT_H

#include "compiler/support/Signing.h"
#include "llmc/llmc.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>

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

/// The options of every command that opens a plan (inspect, run, bench,
/// sign): --verify-key and --no-mmap, and opening through the C API with them.
struct PlanOpenFlags {
  explicit PlanOpenFlags(llvm::cl::OptionCategory &category)
      : verifyKey("verify-key",
                  llvm::cl::desc("Refuse the plan unless it is signed by the "
                                 "secret key of this public key (llmc "
                                 "keygen's .pub; llmc sign)"),
                  llvm::cl::value_desc("file.pub"), llvm::cl::cat(category)),
        noMmap("no-mmap",
               llvm::cl::desc("Read the plan into memory instead of mapping "
                              "it (the file may then change on disk while "
                              "this runs)"),
               llvm::cl::cat(category)) {}

  /// Opens `path`; on failure sets `error` (the message to print) and
  /// returns null.
  PlanHandle open(const std::string &path, std::string &error) const {
    llmc_plan_open_options options = llmc_plan_open_options_default();
    options.read_into_memory = noMmap ? 1 : 0;
    support::PublicKey key;
    if (!verifyKey.empty()) {
      auto read = support::readPublicKey(verifyKey);
      if (!read) {
        error = "--verify-key: " + llvm::toString(read.takeError());
        return nullptr;
      }
      key = *read;
      options.verify_key = key.data();
    }
    llmc_plan *plan = nullptr;
    if (llmc_plan_open_ex(path.c_str(), &options, &plan) != LLMC_OK) {
      error = llmc_last_error();
      return nullptr;
    }
    return PlanHandle(plan);
  }

  llvm::cl::opt<std::string> verifyKey;
  llvm::cl::opt<bool> noMmap;
};

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_TOOLSUPPORT_H
