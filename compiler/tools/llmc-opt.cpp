//===- llmc-opt.cpp - run any llmc pass or pipeline on a .mlir file -------===//

#include "dialects/kernel/IR/KernelDialect.h"
#include "dialects/llm/IR/LLMDialect.h"
#include "compiler/tools/Version.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<llmc::llm::LLMDialect, llmc::kernel::KernelDialect,
                  mlir::func::FuncDialect>();
  llmc::registerAllPassesAndPipelines();
  llmc::tools::installVersionPrinter();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "llmc optimizer driver: runs llmc passes on .mlir files\n",
      registry));
}
