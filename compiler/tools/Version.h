//===- Version.h - what `--version` prints, for every llmc tool -*- C++ -*-===//
//
// `llmc --version`, `llmc <command> --version` and `llmc-opt --version` all
// print the same lines: llmc's version, the plan format it writes and reads,
// and the LLVM/MLIR and NVRTC it was built with.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TOOLS_VERSION_H
#define LLMC_COMPILER_TOOLS_VERSION_H

#include "llvm/Support/raw_ostream.h"

namespace llmc::tools {

void printVersion(llvm::raw_ostream &os);

/// Makes printVersion what LLVM's command-line parser prints for
/// --version (which otherwise prints LLVM's own).
void installVersionPrinter();

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_VERSION_H
