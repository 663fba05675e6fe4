//===- Version.cpp - what `--version` prints, for every llmc tool ---------===//

#include "compiler/tools/Version.h"

#include "compiler/codegen/cuda/NVRTC.h"
#include "runtime/schema/PlanFormat.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"

namespace llmc::tools {

void printVersion(llvm::raw_ostream &os) {
  os << "llmc " << runtime::runtimeVersion() << "\n"
     << "  plan format " << runtime::kFormatMajor << "."
     << runtime::kFormatMinor << "\n"
     << "  built with LLVM/MLIR " << LLVM_VERSION_STRING << ", NVRTC "
     << codegen::cuda::nvrtcVersion() << "\n";
}

void installVersionPrinter() { llvm::cl::SetVersionPrinter(printVersion); }

} // namespace llmc::tools
