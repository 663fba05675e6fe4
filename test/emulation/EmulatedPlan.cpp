//===- EmulatedPlan.cpp - a plan with generated code, emulated ------------===//

#include "test/emulation/EmulatedPlan.h"

#include <cstdlib>

namespace llmc::runtime::test {

llvm::Expected<llmc::codegen::cuda::CudaProgram>
writeEmulatedPlan(mlir::ModuleOp module, plan_writer::WeightSource &weights,
                  int64_t maxSeqLen, const std::string &path,
                  const std::string &kernelsDir) {
  namespace cg = llmc::codegen::cuda;
  namespace pw = llmc::plan_writer;
  auto program = cg::generateCuda(module);
  if (!program)
    return program.takeError();
  if (llvm::Error e = cg::dumpSources(*program, kernelsDir))
    return e;

  // The code section: the fake driver runs the sources, not these bytes.
  pw::CodeSection code;
  code.targets = {"sm_90a"};
  code.nvrtcVersion = "emulated";
  for (const cg::KernelSource &k : program->entries) {
    pw::CodeEntry &entry = code.entries.emplace_back();
    entry.name = k.name;
    entry.source = k.source;
    pw::CodeBinary &bin = entry.binaries.emplace_back();
    bin.target = "sm_90a";
    const char cubin[] = "emulated cubin";
    bin.cubin.assign(cubin, cubin + sizeof cubin);
    bin.ptx = "emulated ptx";
    bin.symbol = k.name;
  }
  pw::PlanOptions options;
  options.targets = {"cpu", "sm_90a"};
  options.maxSeqLen = maxSeqLen;
  if (llvm::Error e = pw::writePlan(module, weights, options, path, &code))
    return e;

  ::setenv("LLMC_CUDA_DRIVER", LLMC_FAKE_CUDA_EMU_PATH, 1);
  ::setenv("LLMC_EMU_SOURCES", kernelsDir.c_str(), 1);
  ::setenv("LLMC_EMU_COMPILE", LLMC_EMU_COMPILE_PATH, 1);
  return program;
}

} // namespace llmc::runtime::test
