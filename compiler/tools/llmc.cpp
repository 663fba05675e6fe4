//===- llmc.cpp - the llmc command line
//------------------------------------===//
//
// `llmc compile <model dir | config.json>`: Hugging Face model -> llm IR ->
// the llm-level pipeline -> kernel launches and memory plan -> plan file.
// `llmc inspect` (InspectCommand.cpp) and `llmc run` (RunCommand.cpp) read
// plans.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaEmitter.h"
#include "compiler/codegen/cuda/NVRTC.h"
#include "compiler/plan/PlanWriter.h"
#include "compiler/support/OutputFile.h"
#include "compiler/support/Progress.h"
#include "compiler/tools/Commands.h"
#include "compiler/tools/ToolSupport.h"
#include "compiler/tools/Version.h"
#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/llm/IR/LLMDialect.h"
#include "dialects/llm/IR/LLMOps.h"
#include "frontends/hf/HFConfig.h"
#include "compiler/plan/Quantize.h"
#include "frontends/hf/ModelBuilder.h"
#include "frontends/hf/safetensors/Safetensors.h"
#include "passes/Passes.h"
#include "runtime/schema/PlanFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

using namespace llvm;

namespace {

void printUsage(raw_ostream &os) {
  os << "llmc " << llmc::runtime::runtimeVersion()
     << " - ahead-of-time compiler for large language models\n\n"
        "USAGE: llmc <command> [options]\n\n"
        "COMMANDS:\n"
        "  compile <model dir | config.json>   compile a model to a plan "
        "(-o model.plan), or print its IR\n"
        "  inspect <model.plan>                what a plan holds: model, "
        "memory plan, KV cache, weights, kernels\n"
        "  run <model.plan> --tokens 1,2,3     run a plan and print the "
        "generated token ids\n"
        "  bench <model.plan>                  prefill and decode "
        "throughput, session memory\n"
        "  keygen <name>                       an Ed25519 key pair for "
        "signing plans (<name>.key, <name>.pub)\n"
        "  sign <model.plan> --key <name>.key  sign a plan (checked with "
        "--verify-key <name>.pub)\n\n"
        "Run `llmc <command> --help` for the options of a command, "
        "`llmc --version` for the versions it was built with.\n"
        "Supported model_type values: "
     << llmc::hf::supportedModelTypes() << "\n";
}

using llmc::tools::fail;

/// The CUDA code of `module`'s kernel.calls (after kernel-select), written
/// to options.dumpKernelsDir when set.
Expected<llmc::codegen::cuda::CudaProgram>
generateCode(mlir::ModuleOp module,
             const llmc::plan_writer::PlanOptions &options) {
  namespace cg = llmc::codegen::cuda;
  auto program = cg::generateCuda(module);
  if (!program)
    return program.takeError();
  if (!options.dumpKernelsDir.empty())
    if (Error e = cg::dumpSources(*program, options.dumpKernelsDir))
      return e;
  return program;
}

/// Every entry of `program` compiled with NVRTC for the CUDA targets.
Expected<std::vector<llmc::codegen::cuda::CompiledKernel>>
compileEntries(const llmc::codegen::cuda::CudaProgram &program,
               const llmc::plan_writer::PlanOptions &options,
               std::vector<llmc::codegen::cuda::Target> &targets) {
  namespace cg = llmc::codegen::cuda;
  for (const std::string &t : llmc::plan_writer::cudaTargets(options)) {
    auto target = cg::parseTarget(t);
    if (!target)
      return target.takeError();
    targets.push_back(*target);
  }
  return cg::compileAll(program.entries, targets, options.jobs,
                        llmc::plan_writer::failedKernelDir(options),
                        options.nvrtcOptions);
}

/// The plan's code section: generated now, compiled for every CUDA target
/// by `compile` while the plan writer streams the weights.
Expected<llmc::plan_writer::PendingCode>
pendingCode(mlir::ModuleOp module,
            const llmc::plan_writer::PlanOptions &options,
            llmc::support::Progress &progress) {
  namespace cg = llmc::codegen::cuda;
  namespace pw = llmc::plan_writer;
  auto start = std::chrono::steady_clock::now();
  auto generated = generateCode(module, options);
  if (!generated)
    return generated.takeError();
  auto program = std::make_shared<cg::CudaProgram>(std::move(*generated));
  pw::PendingCode pending;
  pending.code.targets = pw::cudaTargets(options);
  pending.code.nvrtcVersion = cg::nvrtcVersion();
  for (const cg::KernelSource &source : program->entries) {
    pw::CodeEntry &entry = pending.code.entries.emplace_back();
    entry.name = source.name;
    entry.source = source.source;
  }
  std::vector<cg::Target> targets;
  for (const std::string &t : pending.code.targets) {
    auto target = cg::parseTarget(t);
    if (!target)
      return target.takeError();
    targets.push_back(*target);
  }
  // Runs on the plan writer's code thread: it owns copies of what it reads.
  pending.compile = [program, targets, options, start, &progress]()
      -> Expected<std::vector<std::vector<pw::CodeBinary>>> {
    auto compiled =
        cg::compileAll(program->entries, targets, options.jobs,
                       pw::failedKernelDir(options), options.nvrtcOptions);
    if (!compiled)
      return compiled.takeError();
    std::vector<std::vector<pw::CodeBinary>> out;
    for (auto [i, source] : llvm::enumerate(program->entries)) {
      std::vector<pw::CodeBinary> &binaries = out.emplace_back();
      for (size_t j = 0; j < targets.size(); ++j) {
        cg::CompiledKernel &c = (*compiled)[i * targets.size() + j];
        pw::CodeBinary &bin = binaries.emplace_back();
        bin.target = targets[j].name;
        bin.cubin = std::move(c.cubin);
        bin.ptx = std::move(c.ptx);
        bin.symbol = c.symbols.count(source.name) ? c.symbols.at(source.name)
                                                  : source.name;
        if (auto it = c.usage.find(source.name); it != c.usage.end()) {
          bin.registers = uint32_t(it->second.registers);
          bin.spillStoreBytes = uint32_t(it->second.spillStoreBytes);
          bin.spillLoadBytes = uint32_t(it->second.spillLoadBytes);
          bin.staticSharedBytes = uint32_t(it->second.staticSharedBytes);
          bin.localBytes = uint32_t(it->second.localBytes);
        }
      }
    }
    std::string names;
    for (const cg::Target &t : targets)
      names += (names.empty() ? "" : ", ") + t.name;
    progress.done("code",
                  std::to_string(program->entries.size()) + " kernels for " +
                      (targets.size() > 1 ? "each of " : "") + names +
                      ", compiled with NVRTC " + cg::nvrtcVersion(),
                  llmc::support::secondsSince(start));
    return out;
  };
  return pending;
}

/// One line per kernel.call of `fn`: its launch, entry and geometry.
void listLaunches(mlir::func::FuncOp fn, StringRef step, raw_ostream &os) {
  auto launches = fn.getBody().front().getOps<llmc::kernel::LaunchOp>();
  size_t kernels = std::distance(launches.begin(), launches.end());
  os << "// " << step << ": " << kernels << " kernels\n";
  fn.walk([&](llmc::kernel::CallOp call) {
    StringRef owner = "greedy sampling";
    if (auto launch = call->getParentOfType<llmc::kernel::LaunchOp>())
      owner = launch.getName();
    ArrayRef<int32_t> grid = call.getGrid();
    os << "//   " << owner << ": " << call.getEntry() << " grid(" << grid[0]
       << "," << grid[1] << "," << grid[2] << ")";
    if (call.getTokensPerBlock())
      os << " x ceil(T/" << call.getTokensPerBlock() << ") on "
         << "xyz"[call.getTokenAxis()];
    os << " block " << call.getBlock();
    if (call.getDynamicShared())
      os << " + " << *call.getDynamicShared() << " B dynamic shared";
    os << " T in [" << call.getMinTokens() << ", ";
    if (call.getMaxTokens())
      os << call.getMaxTokens() << "]\n";
    else
      os << "max]\n";
  });
}

/// --emit=cuda (the launch lists, then every entry's source) and
/// --emit=cuda-report (NVRTC's resource usage per entry and target;
/// `spills` is set when a hot entry spills).
Error emitCuda(mlir::ModuleOp module,
               const llmc::plan_writer::PlanOptions &options, bool report,
               raw_ostream &os, bool &spills) {
  namespace cg = llmc::codegen::cuda;
  auto program = generateCode(module, options);
  if (!program)
    return program.takeError();

  if (!report) {
    uint64_t scratch = 0;
    for (auto fn : module.getOps<mlir::func::FuncOp>())
      if (auto a = fn->getAttrOfType<mlir::IntegerAttr>(
              llmc::kernel::kScratchBytesAttrName))
        scratch = std::max(scratch, uint64_t(a.getInt()));
    os << "// " << program->entries.size() << " entries; scratch " << scratch
       << " bytes\n";
    for (auto fn : module.getOps<mlir::func::FuncOp>())
      listLaunches(fn, fn.getSymName(), os);
    for (const cg::KernelSource &k : program->entries)
      os << "\n// ===== entry " << k.name << " =====\n" << k.source;
    return Error::success();
  }

  std::vector<cg::Target> targets;
  auto compiled = compileEntries(*program, options, targets);
  if (!compiled)
    return compiled.takeError();
  os << "NVRTC " << cg::nvrtcVersion() << ", " << program->entries.size()
     << " entries x " << targets.size() << " targets\n";
  os << llvm::format("%-72s %-7s %4s %6s %6s %6s %5s\n", "entry", "target",
                     "regs", "spillS", "spillL", "smem", "hot");
  for (size_t i = 0; i < program->entries.size(); ++i)
    for (size_t j = 0; j < targets.size(); ++j) {
      const cg::CompiledKernel &c = (*compiled)[i * targets.size() + j];
      const std::string &name = program->entries[i].name;
      cg::ResourceUsage u;
      if (auto it = c.usage.find(name); it != c.usage.end())
        u = it->second;
      bool hot = program->hot[i];
      os << llvm::format("%-72s %-7s %4d %6d %6d %6d %5s\n", name.c_str(),
                         targets[j].name.c_str(), u.registers,
                         u.spillStoreBytes, u.spillLoadBytes,
                         u.staticSharedBytes, hot ? "yes" : "no");
      if (hot && (u.spillStoreBytes || u.spillLoadBytes))
        spills = true;
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
  enum class Emit { LLMImport, LLM, Kernel, Cuda, CudaReport, Plan };
  cl::opt<Emit> emit(
      "emit",
      cl::desc("What to produce (default: plan with -o <file>, llm to stdout)"),
      cl::values(
          clEnumValN(Emit::LLMImport, "llm-import",
                     "llm IR as the frontend builds it, before any pass"),
          clEnumValN(Emit::LLM, "llm",
                     "llm IR after the llm-optimize pipeline "
                     "(canonicalize, cse, fusion)"),
          clEnumValN(Emit::Kernel, "kernel",
                     "IR after kernel-lower: kernel.launch ops with arena "
                     "offsets and the kernel.call ops that run them "
                     "(template, constants, geometry)"),
          clEnumValN(Emit::Cuda, "cuda",
                     "the generated CUDA C++ of every distinct kernel, "
                     "after each program's launch list"),
          clEnumValN(Emit::CudaReport, "cuda-report",
                     "compile every kernel with NVRTC for the targets and "
                     "print registers, spills and shared memory; fails if "
                     "a hot kernel (GEMV, GEMM, attention) spills"),
          clEnumValN(Emit::Plan, "plan",
                     "the plan file with the weights (needs -o)")),
      cl::cat(category));
  cl::opt<int64_t> maxSeqLen(
      "max-seq-len",
      cl::desc("Longest sequence a session may hold (default: the model's "
               "max_position_embeddings; sessions allocate KV pages as "
               "sequences grow, not this up front)"),
      cl::value_desc("n"), cl::init(0), cl::cat(category));
  cl::opt<int64_t> kvPageTokens(
      "kv-page-tokens",
      cl::desc("Tokens per page of the paged KV cache, a power of two up to "
               "65536 (default: 64)"),
      cl::value_desc("n"),
      cl::init(llmc::runtime::kDefaultKvPageTokens), cl::cat(category));
  cl::opt<bool> allowLongerContext(
      "allow-longer-context",
      cl::desc("Accept a --max-seq-len above the model's "
               "max_position_embeddings (with a warning: the model was not "
               "trained for it, quality is not guaranteed)"),
      cl::cat(category));
  cl::opt<int64_t> maxTokens(
      "max-tokens",
      cl::desc("Most tokens one step runs: the prefill chunk and the largest "
               "decode batch; sizes the arena (default: 512, at most "
               "--max-seq-len)"),
      cl::value_desc("n"), cl::init(0), cl::cat(category));
  cl::opt<std::string> randomWeights(
      "random-weights", cl::ValueOptional,
      cl::desc("Fill the plan with deterministic pseudo-random weights "
               "instead of reading safetensors (for benchmarks); optional "
               "=SEED, default 0"),
      cl::value_desc("seed"), cl::cat(category));
  cl::list<std::string> targets(
      "target", cl::CommaSeparated,
      cl::desc("GPU architectures to generate and compile kernels for, "
               "comma-separated: sm_80, sm_86, sm_89, sm_90, sm_90a, sm_100, "
               "sm_120 (default: sm_90a). Every plan also holds the op "
               "lists the CPU backend runs; `cpu` alone compiles no GPU code"),
      cl::value_desc("sm_90a,..."), cl::cat(category));
  cl::list<std::string> nvrtcOptions(
      "nvrtc-options", cl::CommaSeparated,
      cl::desc("Extra NVRTC options for every kernel, comma-separated "
               "(e.g. -lineinfo for profilers, -maxrregcount=N)"),
      cl::value_desc("opt,..."), cl::cat(category));
  cl::opt<std::string> mlaAbsorb(
      "mla-absorb",
      cl::desc("Multi-head Latent Attention (DeepSeek, Kimi): which steps "
               "attend in the latent space (llm-absorb-mla): decode "
               "(default), all, or none (the expanded form everywhere)"),
      cl::value_desc("decode|all|none"), cl::init("decode"),
      cl::cat(category));
  cl::opt<std::string> dumpKernels(
      "dump-kernels",
      cl::desc("Write each generated kernel's CUDA C++ to <dir>/<entry>.cu"),
      cl::value_desc("dir"), cl::cat(category));
  cl::opt<std::string> signKey(
      "sign-key",
      cl::desc("Sign the plan with this secret key (llmc keygen's .key); "
               "readers check it with --verify-key"),
      cl::value_desc("file.key"), cl::cat(category));
  cl::opt<std::string> dtype(
      "dtype",
      cl::desc("Activation/weight dtype: bfloat16|float16|float32 (default: "
               "the config's torch_dtype, else float32)"),
      cl::value_desc("dtype"), cl::cat(category));
  cl::opt<std::string> quantize(
      "quantize",
      cl::desc("Quantize a float checkpoint's weights while compiling, "
               "every linear weight of the decoder layers; the embedding, "
               "lm_head and norms stay in the model dtype, and so do "
               "activations. fp8-block: float8_e4m3fn values with an f32 "
               "scale per 128 x 128 block (max|w| / 448, round to nearest). "
               "fp8-tensor: the same with one f32 scale per weight. "
               "w4-g128: signed int4 values with an f16 scale per group of "
               "128 input features (max|w| / 7, round to nearest). "
               "w8: signed int8 values with one f32 scale per output row "
               "(max|w| / 127, round to nearest). Dense models only"),
      cl::value_desc("fp8-block|fp8-tensor|w4-g128|w8"), cl::cat(category));
  cl::opt<std::string> kvDtype(
      "kv-dtype",
      cl::desc("KV cache element type: auto (default: the activation "
               "dtype) or fp8_e4m3: float8_e4m3fn codes with one f32 scale "
               "per token and KV head for keys and for values (max|x| / 448 "
               "over the head, round to nearest even), about half the bytes "
               "of a bf16 cache; attention reads code * scale in fp32. "
               "Costs accuracy: each cached value moves by up to 1/16 of "
               "itself (docs/PERF.md lists the measured logit error). Not "
               "for MLA's latent cache"),
      cl::value_desc("auto|fp8_e4m3"), cl::init("auto"), cl::cat(category));
  cl::opt<bool> fp8Activations(
      "fp8-activations",
      cl::desc("FP8-block weights (an fp8 checkpoint or --quantize "
               "fp8-block): quantize each linear's input too, per token and "
               "128 input features (max|x| / 448, round to nearest even), and "
               "multiply e4m3 by e4m3 on FP8 tensor cores (sm_89 and newer "
               "targets), as DeepSeek-V3 runs its linears (the checkpoint's "
               "activation_scheme \"dynamic\"). Default: activations stay in "
               "the model dtype and only the weights are FP8. Routed experts "
               "keep 16-bit activations"),
      cl::cat(category));
  cl::opt<bool> report(
      "report",
      cl::desc("With --quantize and -o: after writing the plan, print each "
               "quantized weight's error against the checkpoint's values "
               "(max|q - w| / max|w| and rms(q - w) / rms(w)) to stdout"),
      cl::cat(category));
  cl::opt<bool> quiet(
      "quiet",
      cl::desc("Print no progress (errors are still printed). Progress goes "
               "to stderr only when it is a terminal"),
      cl::cat(category));
  cl::alias quietShort("q", cl::desc("Alias for --quiet"),
                       cl::aliasopt(quiet), cl::cat(category));
  cl::opt<bool> progressLines(
      "progress",
      cl::desc("Print progress even when stderr is not a terminal, one line "
               "per phase and every 10% of the weights (for logs)"),
      cl::cat(category));
  cl::opt<bool> timePhases(
      "time-phases",
      cl::desc("Print one table of where the time went: parse, every MLIR "
               "pass, code generation (NVRTC), weights, write (the same "
               "table as --mlir-timing)"),
      cl::cat(category));

  // Passes first: --mlir-print-ir-before=<pass> resolves names from the
  // registry when the pass manager options are created.
  llmc::registerAllPassesAndPipelines();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();

  // --help shows our options and the IR inspection ones, not all of LLVM's.
  cl::OptionCategory inspect("IR inspection options");
  cl::HideUnrelatedOptions(category);
  auto &options = cl::getRegisteredOptions();
  for (const char *name :
       {"mlir-print-ir-after-all", "mlir-print-ir-before-all",
        "mlir-print-ir-after", "mlir-print-ir-before",
        "mlir-print-ir-after-change", "mlir-print-ir-after-failure",
        "mlir-print-ir-module-scope", "mlir-print-debuginfo",
        "mlir-print-local-scope", "mlir-pass-statistics", "mlir-timing",
        "mlir-timing-display"}) {
    auto it = options.find(name);
    if (it == options.end())
      continue;
    it->second->setHiddenFlag(cl::NotHidden);
    it->second->addCategory(inspect);
  }
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc compile: Hugging Face model -> llm IR -> kernels -> CUDA C++ "
      "(NVRTC) -> plan file\n\n"
      "  `llmc compile <model dir> -o model.plan` reads config.json and the\n"
      "  safetensors weights and writes the plan. Without -o it prints the IR\n"
      "  (--emit=llm by default).\n\n"
      "  Quantized checkpoints are read as shipped, their weights kept\n"
      "  quantized in the plan and dequantized in the kernels\n"
      "  (quantization_config): fp8 (128 x 128 blocks: Qwen3-*-FP8, and with\n"
      "  routed experts and MLA, DeepSeek V3/R1, Kimi K2, MiniMax-M2),\n"
      "  mxfp4 (gpt-oss's experts), compressed-tensors (int4/int8\n"
      "  pack-quantized, FP8 float-quantized; dense models), awq (gemm) and\n"
      "  gptq (desc_act false; dense models). Activations are not quantized;\n"
      "  the compile says so in a note. Others are refused by name.\n\n"
      "  The IR of every stage can be inspected with "
      "--mlir-print-ir-after-all\n"
      "  or --mlir-print-ir-before=<pass>; `llmc-opt --llm-optimize` on the\n"
      "  output of --emit=llm-import reproduces --emit=llm, and\n"
      "  `llmc-opt --kernel-lower=\"max-tokens=N max-seq-len=S\"` on that "
      "reproduces --emit=kernel.\n");

  // --time-phases and --mlir-timing: one table, printed when this returns.
  mlir::DefaultTimingManager timing;
  mlir::applyDefaultTimingManagerCLOptions(timing);
  if (timePhases)
    timing.setEnabled(true);
  mlir::TimingScope rootTimer = timing.getRootScope();
  llmc::support::Progress progress(
      llmc::support::Progress::modeFor(quiet, progressLines));
  auto start = std::chrono::steady_clock::now();
  mlir::TimingScope parseTimer = rootTimer.nest("parse");

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
  if (quantize.getNumOccurrences()) {
    if (quantize != "fp8-block" && quantize != "fp8-tensor" &&
        quantize != "w4-g128" && quantize != "w8")
      return fail("--quantize: unsupported scheme '" + quantize +
                  "' (supported: fp8-block, fp8-tensor, w4-g128, w8)");
    if (!config->quantMethod.empty())
      return fail("--quantize: " + config->path +
                  " is already quantized (quant_method \"" +
                  config->quantMethod + "\")");
    if (config->moe || config->mla || config->fusedProjections)
      return fail("--quantize: " + config->path + ": " +
                  (config->moe   ? "Mixture-of-Experts"
                   : config->mla ? "Multi-head Latent Attention"
                                 : "fused-projection (" + config->modelType +
                                       ")") +
                  " models are not quantized yet");
    if (quantize == "fp8-block")
      config->fp8 = llmc::hf::ModelConfig::FP8Block{};
    else if (quantize == "fp8-tensor") // one block: the whole weight
      config->fp8 = llmc::hf::ModelConfig::FP8Block{
          std::numeric_limits<int64_t>::max(),
          std::numeric_limits<int64_t>::max(), {}};
    else if (quantize == "w8") { // one f32 scale per row
      config->intWeights = llmc::hf::ModelConfig::IntWeights{};
      config->intWeights->bits = 8;
      config->intWeights->group = std::numeric_limits<int64_t>::max();
      config->intWeights->scaleDtype = llmc::hf::DType::F32;
    }
    else
      config->intWeights = llmc::hf::ModelConfig::IntWeights{};
    config->quantizeAtCompile = true;
  }

  if (kvDtype == "fp8_e4m3") {
    if (config->mla)
      return fail("--kv-dtype fp8_e4m3: " + config->path +
                  ": Multi-head Latent Attention's latent cache (" +
                  config->modelType + ") is not stored in FP8 yet");
    config->fp8KVCache = true;
  } else if (kvDtype != "auto") {
    return fail("--kv-dtype: unsupported KV cache dtype '" + kvDtype +
                "' (supported: auto, fp8_e4m3)");
  }
  if (fp8Activations) {
    if (!config->fp8 ||
        config->fp8->cols != llmc::llm::kFp8ActivationGroup)
      return fail(
          "--fp8-activations: " + config->path +
          (!config->fp8 ? " has no FP8-block weights (an fp8 checkpoint or "
                          "--quantize fp8-block)"
           : config->fp8->cols == std::numeric_limits<int64_t>::max()
               ? ": its FP8 weights have one scale per row or per weight; "
                 "activation groups need blocks of 128 input features"
               : ": its FP8 weights' blocks are " +
                     std::to_string(config->fp8->cols) +
                     " input features wide; activation groups need blocks "
                     "of 128"));
    config->fp8Activations = true;
  }
  if (report && !quantize.getNumOccurrences())
    return fail("--report measures --quantize: give a --quantize scheme");
  if (report && (randomWeights.getNumOccurrences() || output == "-" ||
                 (emit.getNumOccurrences() && emit != Emit::Plan)))
    return fail("--report compares the quantized weights with the "
                "checkpoint's: it needs a checkpoint (no --random-weights) "
                "and a plan written with -o <file>");
  if (emit.getNumOccurrences() == 0)
    emit = output == "-" ? Emit::LLM : Emit::Plan;
  if (emit == Emit::Plan && output == "-")
    return fail("--emit=plan writes a binary file: give it with -o <file>");
  std::vector<std::string> targetList(targets.begin(), targets.end());
  if (targetList.empty())
    targetList.push_back("sm_90a");
  for (const std::string &t : targetList) {
    if (t == "cpu")
      continue;
    auto parsed = llmc::codegen::cuda::parseTarget(t);
    if (!parsed)
      return fail("--target: " + toString(parsed.takeError()));
    if (std::count(targetList.begin(), targetList.end(), t) > 1)
      return fail("--target: '" + t + "' given twice");
    if (fp8Activations && parsed->major * 10 + parsed->minor < 89)
      return fail("--fp8-activations multiplies on FP8 tensor cores, which " +
                  t + " does not have (sm_89 and newer do)");
  }
  llmc::plan_writer::PlanOptions planOptions;
  planOptions.targets = targetList;
  planOptions.dumpKernelsDir = dumpKernels;
  planOptions.nvrtcOptions.assign(nvrtcOptions.begin(), nvrtcOptions.end());
  std::optional<llmc::support::SigningKey> signingKey;
  if (!signKey.empty()) {
    if (emit != Emit::Plan)
      return fail("--sign-key signs a plan: it needs --emit=plan (-o file)");
    auto key = llmc::support::readSigningKey(signKey);
    if (!key)
      return fail("--sign-key: " + toString(key.takeError()));
    signingKey = *key;
    planOptions.signingKey = &*signingKey;
  }
  if (emit == Emit::CudaReport &&
      llmc::plan_writer::cudaTargets(planOptions).empty())
    return fail("--emit=cuda-report needs a GPU --target");
  if (maxSeqLen.getNumOccurrences() && maxSeqLen < 1)
    return fail("--max-seq-len must be at least 1");
  if (maxSeqLen > INT32_MAX)
    return fail("--max-seq-len " + std::to_string(maxSeqLen) +
                " exceeds the runtime's limit of 2147483647 (2^31 - 1) "
                "tokens");
  if (maxSeqLen > config->maxPositionEmbeddings) {
    if (!allowLongerContext)
      return fail("--max-seq-len " + std::to_string(maxSeqLen) +
                  " exceeds " + config->path +
                  "'s max_position_embeddings (" +
                  std::to_string(config->maxPositionEmbeddings) +
                  "); pass --allow-longer-context to compile for it anyway");
    if (!quiet)
      errs() << "llmc: warning: --max-seq-len " << maxSeqLen
             << " exceeds max_position_embeddings ("
             << config->maxPositionEmbeddings
             << "): the model was not trained for such lengths\n";
  }
  if (maxTokens.getNumOccurrences() && maxTokens < 1)
    return fail("--max-tokens must be at least 1");
  if (kvPageTokens < 1 || kvPageTokens > llmc::runtime::kMaxKvPageTokens ||
      (kvPageTokens & (kvPageTokens - 1)) != 0)
    return fail("--kv-page-tokens " + std::to_string(kvPageTokens) +
                " is not a power of two in [1, " +
                std::to_string(llmc::runtime::kMaxKvPageTokens) + "]");

  if (mlaAbsorb != "decode" && mlaAbsorb != "all" && mlaAbsorb != "none")
    return fail("--mla-absorb must be decode, all or none, got '" +
                mlaAbsorb + "'");
  int64_t seqLen = maxSeqLen ? int64_t(maxSeqLen)
                             : config->maxPositionEmbeddings;
  // A page longer than the longest sequence would only waste memory.
  planOptions.kvPageTokens = std::min<int64_t>(
      kvPageTokens, int64_t(std::bit_ceil(uint64_t(seqLen))));
  int64_t stepTokens = maxTokens ? std::min<int64_t>(maxTokens, seqLen)
                                 : std::min<int64_t>(512, seqLen);
  std::optional<uint64_t> randomSeed;
  if (randomWeights.getNumOccurrences()) {
    uint64_t seed = 0;
    if (!randomWeights.empty() &&
        StringRef(randomWeights).getAsInteger(0, seed))
      return fail("--random-weights: '" + randomWeights +
                  "' is not a seed (an unsigned integer)");
    randomSeed = seed;
  }

  // Quantized checkpoints are refused where weights are read; without
  // weights the model compiles in its dtype. What the compile leaves out is
  // said now and kept in the plan for `llmc inspect`.
  if (config->quantizeAtCompile && config->intWeights &&
      config->intWeights->bits == 8) {
    planOptions.notes.push_back(
        "--quantize w8: decoder linear weights quantized to signed int8 "
        "with one f32 scale per output row (max|w| / 127, round to "
        "nearest) from the " +
        llmc::hf::dtypeName(config->dtype).str() + " checkpoint");
  } else if (config->quantizeAtCompile && config->intWeights) {
    planOptions.notes.push_back(
        "--quantize w4-g128: decoder linear weights quantized to signed "
        "int4 in groups of 128 input features (a whole row when shorter) "
        "with f16 scales (max|w| / 7, round to nearest) from the " +
        llmc::hf::dtypeName(config->dtype).str() + " checkpoint");
  } else if (config->quantizeAtCompile) {
    planOptions.notes.push_back(
        "--quantize " + quantize +
        ": decoder linear weights quantized to float8_e4m3fn " +
        (quantize == "fp8-tensor" ? "with one scale per weight"
                                  : "in 128 x 128 blocks") +
        " (scale max|w| / 448, round to nearest) from the " +
        llmc::hf::dtypeName(config->dtype).str() + " checkpoint");
  } else if (config->fp8 && config->quantMethod == "compressed-tensors") {
    const int64_t whole = std::numeric_limits<int64_t>::max();
    const std::string layout =
        config->fp8->rows == whole ? "with one scale per weight"
        : config->fp8->cols == whole
            ? "with one scale per row"
            : "in " + std::to_string(config->fp8->rows) + " x " +
                  std::to_string(config->fp8->cols) + " blocks";
    planOptions.notes.push_back(
        "quantization_config (compressed-tensors, float-quantized): decoder "
        "linear weights kept as float8_e4m3fn " +
        layout + ", dequantized exactly; " +
        (config->fp8Activations
             ? std::string("activations quantized too (--fp8-activations)")
             : "activations stay " + llmc::hf::dtypeName(config->dtype).str() +
                   " (a W8A8 checkpoint's kernels also quantize them to FP8 "
                   "per token)"));
  } else if (config->fp8) {
    planOptions.notes.push_back(
        std::string("quantization_config (quant_method \"fp8\"): decoder "
                    "linear weights") +
        (config->moe ? " and routed experts" : "") +
        (config->mla ? " (MLA's kv_b_proj, which the absorbed attention reads "
                       "dense, is dequantized into " +
                           llmc::hf::dtypeName(config->dtype).str() +
                           " when the plan is written)"
                     : std::string()) +
        " kept as float8_e4m3fn in " +
        std::to_string(config->fp8->rows) + " x " +
        std::to_string(config->fp8->cols) +
        " blocks with f32 scales, dequantized exactly; " +
        (config->fp8Activations
             ? std::string("activations quantized too (--fp8-activations)")
             : "activations stay " + llmc::hf::dtypeName(config->dtype).str() +
                   " (transformers' FP8 kernels also quantize them, per "
                   "token and block of " +
                   std::to_string(config->fp8->cols) +
                   "; --fp8-activations does too)"));
  } else if (config->intWeights) {
    const bool perRow =
        config->intWeights->group == std::numeric_limits<int64_t>::max();
    planOptions.notes.push_back(
        std::string(config->intWeights->awq ? "quantization_config (awq, gemm)"
                    : config->intWeights->gptq
                        ? (config->intWeights->gptqZeroOffset
                               ? "quantization_config (gptq)"
                               : "quantization_config (gptq, gptq_v2)")
                        : "quantization_config (compressed-tensors, "
                          "pack-quantized)") +
        ": decoder linear weights kept as " +
        std::string(config->intWeights->zeros ? "asymmetric" : "symmetric") +
        " int" +
        std::to_string(config->intWeights->bits) + " " +
        (perRow ? std::string("with one scale per row")
                : "in groups of " + std::to_string(config->intWeights->group) +
                      " input features") +
        ", dequantized exactly; activations stay " +
        llmc::hf::dtypeName(config->dtype).str());
  } else if (config->mxfp4) {
    planOptions.notes.push_back(
        "quantization_config (quant_method \"mxfp4\"): the routed experts' "
        "gate_up and down kept as float4_e2m1 in blocks of 32 input features "
        "with e8m0 scales, dequantized exactly; every other weight and the "
        "activations stay " +
        llmc::hf::dtypeName(config->dtype).str());
  } else if (!config->quantMethod.empty()) {
    if (emit == Emit::Plan && !randomSeed)
      return fail(llmc::hf::quantizedError(*config));
    planOptions.notes.push_back(
        "quantization_config (quant_method \"" + config->quantMethod +
        "\") ignored: no checkpoint is read, the model compiles in " +
        llmc::hf::dtypeName(config->dtype).str());
  }
  if (config->fp8Activations)
    planOptions.notes.push_back(
        "--fp8-activations: the FP8 linears' inputs quantized to "
        "float8_e4m3fn per token and 128 input features (max|x| / 448, "
        "round to nearest even) and multiplied on FP8 tensor cores" +
        std::string(config->moe ? "; routed experts keep " +
                                      llmc::hf::dtypeName(config->dtype).str() +
                                      " activations"
                                : ""));
  if (config->fp8KVCache)
    planOptions.notes.push_back(
        "--kv-dtype fp8_e4m3: keys and values cached as float8_e4m3fn with "
        "one f32 scale per token and KV head (max|x| / 448, round to nearest "
        "even)");
  // dynamic and longrope frequencies depend on the sequence length; a plan
  // fixes them for --max-seq-len. Up to the length where transformers
  // starts to rescale they are exact; past it, say how they differ.
  for (const llmc::rope::Params *rp :
       {&config->rope, config->localRope ? &*config->localRope : nullptr}) {
    if (!rp)
      continue;
    if (rp->kind == llmc::rope::Kind::Dynamic && seqLen > rp->maxPosition)
      planOptions.notes.push_back(
          "rope_type dynamic: the frequencies are fixed for --max-seq-len " +
          std::to_string(seqLen) + "; transformers rescales them from each "
          "forward's length past " + std::to_string(rp->maxPosition) +
          " tokens, so positions of shorter sequences past that differ");
    if (rp->kind == llmc::rope::Kind::LongRope &&
        seqLen > rp->originalMaxPosition)
      planOptions.notes.push_back(
          "rope_type longrope: long_factor for every sequence (--max-seq-len " +
          std::to_string(seqLen) + " > original_max_position_embeddings " +
          std::to_string(rp->originalMaxPosition) +
          "); transformers uses short_factor while a sequence stays within " +
          std::to_string(rp->originalMaxPosition) +
          " tokens (compile with --max-seq-len " +
          std::to_string(rp->originalMaxPosition) + " for that)");
  }
  if (config->mtpLayers > 0)
    planOptions.notes.push_back(
        "num_nextn_predict_layers " + std::to_string(config->mtpLayers) +
        ": the multi-token-prediction layers (model.layers." +
        std::to_string(config->numLayers) +
        ".* on) are not part of the forward pass and are not read");
  if (!quiet)
    for (const std::string &note : planOptions.notes)
      errs() << "llmc: note: " << config->path << ": " << note << "\n";

  // Open the checkpoint before any output exists, so that a missing or bad
  // weight file fails the compile without leaving anything behind.
  std::unique_ptr<llmc::hf::SafetensorsArchive> archive;
  if (emit == Emit::Plan && !randomSeed) {
    SmallString<256> dir(config->path);
    sys::path::remove_filename(dir);
    if (dir.empty())
      dir = ".";
    auto hasFile = [&](StringRef name) {
      SmallString<256> p(dir);
      sys::path::append(p, name);
      return sys::fs::exists(p);
    };
    if (!hasFile("model.safetensors") &&
        !hasFile("model.safetensors.index.json"))
      return fail(dir + ": no model.safetensors or "
                        "model.safetensors.index.json next to config.json "
                        "(to compile without a checkpoint, use "
                        "--random-weights)");
    auto opened = llmc::hf::SafetensorsArchive::open(dir);
    if (!opened)
      return fail(toString(opened.takeError()));
    archive = std::move(*opened);
    // A compressed-tensors checkpoint's scales are read as stored: their
    // dtype is the first weight_scale tensor's.
    if (config->intWeights && !config->quantizeAtCompile &&
        !config->intWeights->awq && !config->intWeights->gptq)
      for (const llmc::hf::TensorView &t : archive->tensors())
        if (StringRef(t.name).ends_with(".weight_scale")) {
          using TD = llmc::hf::TensorDType;
          if (t.dtype == TD::F32 || t.dtype == TD::F16 || t.dtype == TD::BF16)
            config->intWeights->scaleDtype =
                t.dtype == TD::F32   ? llmc::hf::DType::F32
                : t.dtype == TD::F16 ? llmc::hf::DType::F16
                                     : llmc::hf::DType::BF16;
          else
            return fail(t.file + ": tensor \"" + t.name + "\" has dtype " +
                        llmc::hf::tensorDTypeName(t.dtype).str() +
                        "; int4 scales must be F32, F16 or BF16");
          break;
        }
    // transformers' loader: a checkpoint that ships both the embedding and
    // its own LM head is not tied, whatever tie_word_embeddings says
    // (Mistral-Small-3.1 leaves the wrapper's default true).
    if (config->tieWordEmbeddings &&
        (archive->find(config->weightPrefix + "lm_head.weight") ||
         archive->find("lm_head.weight"))) {
      config->tieWordEmbeddings = false;
      planOptions.notes.push_back(
          "tie_word_embeddings is true but the checkpoint has its own "
          "lm_head.weight: used as stored, as transformers does");
      if (!quiet)
        errs() << "llmc: note: " << config->path << ": "
               << planOptions.notes.back() << "\n";
    }
  }

  mlir::DialectRegistry registry;
  registry.insert<llmc::llm::LLMDialect, llmc::kernel::KernelDialect,
                  mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      llmc::hf::buildModule(context, *config);
  if (failed(mlir::verify(*module)))
    return fail(config->path + ": internal error: the imported IR does not "
                               "verify (please report this)");
  if (config->fp8Activations) {
    // Every FP8 linear quantizes its input, or the compile stops.
    std::string unfit;
    module->walk([&](llmc::llm::LinearOp l) {
      auto q = dyn_cast<llmc::llm::QuantWeightType>(l.getWeight().getType());
      if (unfit.empty() && q && !l.getFp8Activations())
        if (auto name = dyn_cast<mlir::NameLoc>(l.getLoc()))
          unfit = name.getName().str() + " (" +
                  std::to_string(q.getShape()[1]) + " input features in " +
                  std::to_string(q.getBlock()[1]) + "-wide blocks)";
        else
          unfit = "a linear of " + std::to_string(q.getShape()[1]) +
                  " input features";
    });
    if (!unfit.empty())
      return fail("--fp8-activations: " + config->path + ": " + unfit +
                  " cannot quantize its input in groups of " +
                  std::to_string(llmc::llm::kFp8ActivationGroup) +
                  " features (its FP8 blocks must be 128 wide and its "
                  "input a multiple of 128)");
  }
  parseTimer.stop();
  if (progress.enabled()) {
    std::string detail = config->path + ": " + config->modelType + ", " +
                         std::to_string(config->numLayers) + " layers";
    if (archive) {
      uint64_t bytes = 0;
      for (const llmc::hf::TensorView &t : archive->tensors())
        bytes += t.size;
      detail += ", " + std::to_string(archive->tensors().size()) +
                " tensors (" + llmc::support::Progress::formatBytes(bytes) +
                ")";
    } else if (randomSeed) {
      detail += ", random weights";
    }
    progress.done("parse", detail, llmc::support::secondsSince(start));
  }

  if (emit != Emit::LLMImport) {
    auto passesStart = std::chrono::steady_clock::now();
    mlir::TimingScope passesTimer = rootTimer.nest("passes");
    mlir::PassManager pm(&context);
    if (failed(mlir::applyPassManagerCLOptions(pm)))
      return fail("invalid pass manager options");
    pm.enableTiming(passesTimer);
    llmc::buildLLMOptimizePipeline(pm, mlaAbsorb);
    // A plan for the CPU backend alone needs no generated kernels.
    const bool selectKernels =
        emit != Emit::Plan || !llmc::plan_writer::cudaTargets(planOptions).empty();
    if (emit != Emit::LLM)
      llmc::buildKernelLoweringPipeline(pm, stepTokens, seqLen,
                                        selectKernels);
    if (failed(pm.run(*module)))
      return fail(config->path + ": the compile pipeline failed");
    if (progress.enabled()) {
      std::string detail = emit == Emit::LLM ? "llm-optimize"
                                             : "llm-optimize, kernel-lower";
      for (auto fn : module->getOps<mlir::func::FuncOp>()) {
        auto launches = fn.getBody().front().getOps<llmc::kernel::LaunchOp>();
        if (fn.getSymName() == "decode" && !launches.empty())
          detail += ": " +
                    std::to_string(
                        std::distance(launches.begin(), launches.end())) +
                    " kernels per decode step";
      }
      progress.done("passes", detail,
                    llmc::support::secondsSince(passesStart));
    }
  }

  if (emit == Emit::Plan) {
    llmc::plan_writer::QuantReport quantReport;
    std::unique_ptr<llmc::plan_writer::WeightSource> weights =
        randomSeed ? llmc::plan_writer::makeRandomSource(*randomSeed)
                   : llmc::plan_writer::makeSafetensorsSource(
                         *archive, config->tieWordEmbeddings,
                         config->quantizeAtCompile,
                         report ? &quantReport : nullptr);
    planOptions.maxSeqLen = seqLen;
    planOptions.progress = &progress;
    planOptions.timing = &rootTimer;
    Error err = Error::success();
    if (llmc::plan_writer::cudaTargets(planOptions).empty()) {
      err = llmc::plan_writer::writePlan(*module, *weights, planOptions,
                                         output);
    } else {
      // NVRTC compiles while the weights stream; a kernel it rejects stops
      // them and leaves no file behind.
      auto pending = pendingCode(*module, planOptions, progress);
      if (!pending)
        return fail(toString(pending.takeError()));
      err = llmc::plan_writer::writePlan(*module, *weights, planOptions,
                                         output, std::move(*pending));
    }
    if (err) {
      progress.clear();
      return fail(toString(std::move(err)));
    }
    if (report)
      quantReport.print(outs());
    return 0;
  }

  std::string text;
  raw_string_ostream os(text);
  if (emit == Emit::Cuda || emit == Emit::CudaReport) {
    planOptions.maxSeqLen = seqLen;
    bool spills = false;
    if (Error err = emitCuda(*module, planOptions, emit == Emit::CudaReport,
                             os, spills))
      return fail(config->path + ": " + toString(std::move(err)));
    if (emit == Emit::CudaReport && spills) {
      outs() << text;
      return fail(config->path +
                  ": a hot kernel spills registers (see the report)");
    }
  } else {
    module->print(os);
  }
  os << "\n";
  if (output == "-") {
    outs() << text;
    return 0;
  }
  if (Error err = llmc::support::writeOutputFile(output, text))
    return fail(toString(std::move(err)));
  return 0;
}

} // namespace

namespace {

int dispatch(int argc, char **argv) {
  if (argc < 2) {
    printUsage(errs());
    return 1;
  }
  StringRef command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    printUsage(outs());
    return 0;
  }
  if (command == "--version" || command == "version") {
    llmc::tools::printVersion(outs());
    return 0;
  }
  // Present the subcommand as the program name in messages.
  std::string name = std::string(argv[0]) + " " + command.str();
  if (command == "compile") {
    argv[1] = name.data();
    return compileMain(argc - 1, argv + 1);
  }
  if (command == "inspect") {
    argv[1] = name.data();
    return llmc::tools::inspectMain(argc - 1, argv + 1);
  }
  if (command == "bench") {
    argv[1] = name.data();
    return llmc::tools::benchMain(argc - 1, argv + 1);
  }
  if (command == "run") {
    argv[1] = name.data();
    return llmc::tools::runMain(argc - 1, argv + 1);
  }
  if (command == "keygen") {
    argv[1] = name.data();
    return llmc::tools::keygenMain(argc - 1, argv + 1);
  }
  if (command == "sign") {
    argv[1] = name.data();
    return llmc::tools::signMain(argc - 1, argv + 1);
  }
  errs() << "llmc: error: unknown command '" << command << "'\n\n";
  printUsage(errs());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  llmc::tools::installVersionPrinter();
  // InitLLVM makes a failed allocation abort ("LLVM ERROR: out of memory").
  // The runtime turns std::bad_alloc into LLMC_ERROR_OUT_OF_MEMORY, and the
  // rest ends here with a message: let operator new throw again.
  std::set_new_handler(nullptr);
  try {
    return dispatch(argc, argv);
  } catch (const std::bad_alloc &) {
    errs() << "llmc: error: out of memory\n";
    return 1;
  }
}
