//===- llmc.cpp - the llmc command line ------------------------------------===//
//
// `llmc compile <model dir | config.json>`: Hugging Face model -> llm IR ->
// the llm-level pipeline. Further stages (kernels, plan) arrive with their
// issues; until then --emit names exactly what can be produced.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/IR/LLMDialect.h"
#include "frontends/hf/HFConfig.h"
#include "frontends/hf/ModelBuilder.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace llvm;

namespace {

constexpr const char *kVersion = "0.1.0";

void printUsage(raw_ostream &os) {
  os << "llmc " << kVersion
     << " - ahead-of-time compiler for large language models\n\n"
        "USAGE: llmc <command> [options]\n\n"
        "COMMANDS:\n"
        "  compile <model dir | config.json>   build the model's IR and run "
        "the compile pipeline\n\n"
        "Run `llmc <command> --help` for the options of a command.\n"
        "Supported model_type values: "
     << llmc::hf::supportedModelTypes() << "\n";
}

int fail(const Twine &message) {
  errs() << "llmc: error: " << message << "\n";
  return 1;
}

/// Writes `text` to `path` through a temporary file in the same directory and
/// a rename, so a failed write never leaves a partial file or destroys an
/// existing one.
Error writeFileAtomically(StringRef path, StringRef text) {
  SmallString<256> dir(path);
  sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  SmallString<256> model(dir);
  sys::path::append(model, sys::path::filename(path) + ".tmp-%%%%%%");
  int fd;
  SmallString<256> tmp;
  if (std::error_code ec = sys::fs::createUniqueFile(model, fd, tmp))
    return createStringError(ec, path + ": cannot create a file in '" + dir +
                                     "': " + ec.message());
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << text;
    os.flush();
    if (os.has_error()) {
      std::error_code ec = os.error();
      os.clear_error();
      sys::fs::remove(tmp);
      return createStringError(ec, path + ": write failed: " + ec.message());
    }
  }
  if (std::error_code ec = sys::fs::rename(tmp, path)) {
    sys::fs::remove(tmp);
    return createStringError(ec, path + ": cannot rename into place: " +
                                     ec.message());
  }
  return Error::success();
}

int compileMain(int argc, char **argv) {
  cl::OptionCategory category("llmc compile options");
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model dir | config.json>"),
                             cl::cat(category));
  cl::opt<std::string> output("o", cl::desc("Output file (default: stdout)"),
                              cl::value_desc("file"), cl::init("-"),
                              cl::cat(category));
  enum class Emit { LLMImport, LLM };
  cl::opt<Emit> emit(
      "emit", cl::desc("What to produce (default: llm)"), cl::init(Emit::LLM),
      cl::values(clEnumValN(Emit::LLMImport, "llm-import",
                            "llm IR as the frontend builds it, before any pass"),
                 clEnumValN(Emit::LLM, "llm",
                            "llm IR after the llm-optimize pipeline "
                            "(canonicalize, cse, fusion)")),
      cl::cat(category));
  cl::opt<std::string> dtype(
      "dtype",
      cl::desc("Activation/weight dtype: bfloat16|float16|float32 (default: "
               "the config's torch_dtype, else float32)"),
      cl::value_desc("dtype"), cl::cat(category));

  // Passes first: --mlir-print-ir-before=<pass> resolves names from the
  // registry when the pass manager options are created.
  llmc::registerAllPassesAndPipelines();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();

  // --help shows our options and the IR inspection ones, not all of LLVM's.
  cl::OptionCategory inspect("IR inspection options");
  cl::HideUnrelatedOptions(category);
  auto &options = cl::getRegisteredOptions();
  for (const char *name :
       {"mlir-print-ir-after-all", "mlir-print-ir-before-all",
        "mlir-print-ir-after", "mlir-print-ir-before",
        "mlir-print-ir-after-change", "mlir-print-ir-after-failure",
        "mlir-print-ir-module-scope", "mlir-print-debuginfo",
        "mlir-print-local-scope", "mlir-pass-statistics", "mlir-timing"}) {
    auto it = options.find(name);
    if (it == options.end())
      continue;
    it->second->setHiddenFlag(cl::NotHidden);
    it->second->addCategory(inspect);
  }
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc compile: Hugging Face model -> llm IR -> compile pipeline\n\n"
      "  The IR of every stage can be inspected with --mlir-print-ir-after-all\n"
      "  or --mlir-print-ir-before=<pass>; `llmc-opt --llm-optimize` on the\n"
      "  output of --emit=llm-import reproduces --emit=llm.\n");

  std::optional<llmc::hf::DType> dtypeOverride;
  if (!dtype.empty()) {
    dtypeOverride = llmc::hf::parseDType(dtype);
    if (!dtypeOverride)
      return fail("--dtype: unsupported dtype '" + dtype +
                  "' (supported: bfloat16, float16, float32)");
  }
  Expected<llmc::hf::ModelConfig> config =
      llmc::hf::loadConfig(input, dtypeOverride);
  if (!config)
    return fail(toString(config.takeError()));

  mlir::DialectRegistry registry;
  registry.insert<llmc::llm::LLMDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      llmc::hf::buildModule(context, *config);
  if (failed(mlir::verify(*module)))
    return fail(config->path + ": internal error: the imported IR does not "
                               "verify (please report this)");

  if (emit == Emit::LLM) {
    mlir::PassManager pm(&context);
    if (failed(mlir::applyPassManagerCLOptions(pm)))
      return fail("invalid pass manager options");
    llmc::buildLLMOptimizePipeline(pm);
    if (failed(pm.run(*module)))
      return fail(config->path + ": the compile pipeline failed");
  }

  std::string text;
  raw_string_ostream os(text);
  module->print(os);
  os << "\n";
  if (output == "-") {
    outs() << text;
    return 0;
  }
  if (Error err = writeFileAtomically(output, text))
    return fail(toString(std::move(err)));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  if (argc < 2) {
    printUsage(errs());
    return 1;
  }
  StringRef command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    printUsage(outs());
    return 0;
  }
  if (command == "--version") {
    outs() << "llmc " << kVersion << "\n";
    return 0;
  }
  if (command == "compile") {
    // Present the subcommand as the program name in messages.
    std::string name = std::string(argv[0]) + " compile";
    argv[1] = name.data();
    return compileMain(argc - 1, argv + 1);
  }
  errs() << "llmc: error: unknown command '" << command << "'\n\n";
  printUsage(errs());
  return 1;
}
