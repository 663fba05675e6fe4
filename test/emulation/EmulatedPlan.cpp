//===- EmulatedPlan.cpp - a test plan with generated code, emulated ------===//

#include "test/emulation/EmulatedPlan.h"

#include <cstdlib>

namespace llmc::runtime::test {

namespace cg = llmc::test::plan_codegen;

namespace {

std::vector<LaunchSpec> toTestLaunches(const std::vector<cg::LaunchSpec> &in) {
  std::vector<LaunchSpec> out;
  for (const cg::LaunchSpec &l : in) {
    LaunchSpec t;
    t.entry = l.entry;
    t.args = l.args;
    t.grid.assign(l.grid.begin(), l.grid.end());
    t.block = l.block;
    t.dynamicSharedBytes = l.dynamicSharedBytes;
    t.tokensPerBlock = l.tokensPerBlock;
    t.tokenAxis = l.tokenAxis;
    t.minTokens = l.minTokens;
    t.maxTokens = l.maxTokens;
    out.push_back(std::move(t));
  }
  return out;
}

} // namespace

llvm::Expected<cg::CudaProgram> addEmulatedCode(TestPlan &t,
                                                const std::string &kernelsDir) {
  std::vector<uint8_t> header = t.serialize();
  auto program = cg::generateCuda(*P::GetSizePrefixedPlan(header.data()));
  if (!program)
    return program.takeError();
  if (llvm::Error e =
          llmc::codegen::cuda::dumpSources(program->entries, kernelsDir))
    return e;

  // The code section: the fake driver runs the sources, not these bytes.
  CudaSpec cuda;
  cuda.targets = {"sm_90a"};
  cuda.scratchBytes = program->scratchBytes;
  for (const cg::KernelSource &k : program->entries)
    cuda.entries.push_back(
        {k.name,
         {{"sm_90a", nulTerminated("emulated cubin"),
           nulTerminated("emulated ptx"), k.name}}});
  t.cuda = cuda;
  t.targets = {"cpu", "sm_90a"};
  t.prefillLaunches.clear();
  t.decodeLaunches.clear();
  for (const cg::KernelLaunches &k : program->prefill)
    t.prefillLaunches.push_back(toTestLaunches(k.launches));
  for (const cg::KernelLaunches &k : program->decode)
    t.decodeLaunches.push_back(toTestLaunches(k.launches));
  t.prefillGreedy = toTestLaunches(program->prefillGreedy);
  t.decodeGreedy = toTestLaunches(program->decodeGreedy);
  t.greedyTokens = program->greedyTokens;

  ::setenv("LLMC_CUDA_DRIVER", LLMC_FAKE_CUDA_EMU_PATH, 1);
  ::setenv("LLMC_EMU_SOURCES", kernelsDir.c_str(), 1);
  ::setenv("LLMC_EMU_COMPILE", LLMC_EMU_COMPILE_PATH, 1);
  return program;
}

} // namespace llmc::runtime::test
