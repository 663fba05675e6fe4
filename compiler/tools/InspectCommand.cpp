//===- InspectCommand.cpp - llmc inspect ----------------------------------===//
//
// Opens a plan through the public C API (which maps and verifies the whole
// file) and prints what it holds (PlanSummary.h).
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/Commands.h"
#include "compiler/tools/PerfModel.h"
#include "compiler/tools/PlanSummary.h"
#include "compiler/tools/ToolSupport.h"

#include "llmc/llmc.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

using namespace llvm;
namespace pl = llmc::plan;

namespace llmc::tools {
namespace {

/// Writes every code entry of `plan` to `dir`: <entry>.cu (its source) and
/// per target <entry>.<target>.cubin and .ptx, for nvdisasm / cuobjdump and
/// readers of the generated code. Names are the entries' symbols, which the
/// verifier kept to [A-Za-z0-9_].
Error dumpCode(const pl::Plan &plan, StringRef dir) {
  const pl::CudaCode *cuda = plan.cuda();
  if (!cuda || !cuda->entries())
    return createStringError(inconvertibleErrorCode(),
                             "the plan holds no CUDA code (compiled with "
                             "--target cpu)");
  if (std::error_code ec = sys::fs::create_directories(dir))
    return createStringError(ec, "cannot create '" + dir + "': " +
                                     ec.message());
  auto write = [&](const std::string &name, const uint8_t *data,
                   size_t size) -> Error {
    SmallString<256> path(dir);
    sys::path::append(path, name);
    return writeToOutput(path, [&](raw_ostream &os) {
      os.write(reinterpret_cast<const char *>(data), size);
      return Error::success();
    });
  };
  for (const pl::CodeEntry *e : *cuda->entries()) {
    const std::string name = e->name()->str();
    for (char c : name)
      if (!llvm::isAlnum(c) && c != '_')
        return createStringError(inconvertibleErrorCode(),
                                 "entry name '" + name +
                                     "' is not a file name");
    if (Error err = write(name + ".cu",
                          reinterpret_cast<const uint8_t *>(
                              e->source()->c_str()),
                          e->source()->size()))
      return err;
    for (const pl::CodeBinary *b : *e->binaries()) {
      const std::string base = name + "." + b->target()->str();
      if (b->cubin())
        if (Error err = write(base + ".cubin", b->cubin()->data(),
                              b->cubin()->size()))
          return err;
      if (b->ptx() && b->ptx()->size() > 1) // without the terminating NUL
        if (Error err = write(base + ".ptx", b->ptx()->data(),
                              b->ptx()->size() - 1))
          return err;
    }
  }
  return Error::success();
}

} // namespace

int inspectMain(int argc, char **argv) {
  cl::OptionCategory category("llmc inspect options");
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.plan>"), cl::cat(category));
  cl::opt<bool> listKernels("kernels",
                            cl::desc("List every kernel of both programs "
                                     "with its fused body and, in plans with "
                                     "CUDA code, its launches (default: on)"),
                            cl::init(true), cl::cat(category));
  cl::opt<bool> listWeights("weights",
                            cl::desc("List every weight: name, dtype, shape, "
                                     "offset, size, checksum"),
                            cl::cat(category));
  cl::opt<std::string> dumpCodeDir(
      "dump-code",
      cl::desc("Also write each generated kernel to <dir>: <entry>.cu and, "
               "per target, <entry>.<target>.cubin (SASS: nvdisasm, "
               "cuobjdump) and .ptx"),
      cl::value_desc("dir"), cl::cat(category));
  cl::opt<bool> perf(
      "perf",
      cl::desc("Also print a roofline model (not a measurement) of a prefill "
               "chunk and a decode step: per kernel the launches, the bytes "
               "of weights, activations and KV cache it must move, its "
               "FLOPs and its ideal time on --perf-device"),
      cl::cat(category));
  std::string deviceNames;
  for (const DeviceModel &d : deviceModels())
    deviceNames += (deviceNames.empty() ? "" : ", ") + std::string(d.name);
  cl::opt<std::string> perfDevice(
      "perf-device",
      cl::desc("The device of --perf: " + deviceNames + " (default " +
               deviceModels().front().name + ")"),
      cl::init(deviceModels().front().name), cl::cat(category));
  cl::opt<int64_t> perfPrefill(
      "perf-prefill-tokens",
      cl::desc("Tokens of --perf's prefill chunk (default 512; at most the "
               "plan's max_tokens)"),
      cl::init(512), cl::cat(category));
  cl::opt<int64_t> perfBatch("perf-batch",
                             cl::desc("Sequences of --perf's decode step "
                                      "(default 1)"),
                             cl::init(1), cl::cat(category));
  cl::opt<int64_t> perfContext(
      "perf-context",
      cl::desc("Positions each sequence holds before --perf's decode step "
               "(default 1024)"),
      cl::init(1024), cl::cat(category));
  PlanOpenFlags openFlags(category);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc inspect: what a plan holds (verifies the whole file first)\n\n"
      "  Model, memory plan, KV cache, weights; parameters (for\n"
      "  Mixture-of-Experts models also those active per token) and the\n"
      "  weight bytes a batch-1 decode step reads (the chosen experts only,\n"
      "  one embedding row); the generated code with its resources; the\n"
      "  kernels of each program and their launches; with --perf a\n"
      "  roofline model of a prefill chunk and a decode step.\n");

  std::optional<DeviceModel> device = findDeviceModel(perfDevice);
  if (!device)
    return fail("--perf-device: unknown device '" + perfDevice +
                "' (known: " + deviceNames + ")");
  if (perfPrefill < 1 || perfBatch < 1 || perfContext < 0)
    return fail("--perf-prefill-tokens and --perf-batch must be at least 1, "
                "--perf-context not negative");

  // The runtime's C API maps and verifies the whole file; its header is then
  // read with the schema's generated accessors.
  std::string error;
  PlanHandle owner = openFlags.open(input, error);
  if (!owner)
    return fail(error);
  llmc_plan *opened = owner.get();
  const void *headerData = nullptr;
  size_t headerSize = 0;
  uint64_t fileSize = 0;
  if (llmc_plan_get_header(opened, &headerData, &headerSize, &fileSize) !=
      LLMC_OK)
    return fail(llmc_last_error());
  const pl::Plan &plan = *pl::GetSizePrefixedPlan(headerData);
  if (!dumpCodeDir.empty())
    if (Error err = dumpCode(plan, dumpCodeDir))
      return fail("--dump-code: " + toString(std::move(err)));
  const int64_t maxSeq = plan.model() ? plan.model()->max_seq_len() : 0;
  if (perf && perfContext + 1 > maxSeq)
    return fail("--perf-context " + std::to_string(perfContext) +
                ": the plan's sequences hold at most " +
                std::to_string(maxSeq) + " positions (" + input +
                ", compiled with --max-seq-len " + std::to_string(maxSeq) +
                ")");
  printPlanSummary(outs(), plan, input, fileSize, listKernels, listWeights);
  if (perf)
    printPerfModel(outs(), plan, *device, perfPrefill, perfBatch, perfContext);
  int32_t isSigned = 0;
  uint8_t signer[32];
  if (llmc_plan_get_signer(opened, &isSigned, signer) != LLMC_OK)
    return fail(llmc_last_error());
  outs() << "signature: ";
  if (!isSigned)
    outs() << "none\n";
  else
    outs() << "ed25519 by " << support::hexKey(signer, sizeof signer)
           << (openFlags.verifyKey.empty()
                   ? " (not checked: give --verify-key)"
                                 : " (verified)")
           << "\n";
  return 0;
}

} // namespace llmc::tools
