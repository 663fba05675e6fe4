//===- EmuKernels.h - generated kernels run on the CPU, for fake drivers --===//
//
// Test-only. With LLMC_EMU_SOURCES=<dir> (where `llmc compile
// --dump-kernels <dir>` wrote the plan's kernel sources) and
// LLMC_EMU_COMPILE=<llmc-emu-compile>, a fake CUDA driver runs each launch
// of entry E by building <dir>/E.so from <dir>/E.cu on first use (see
// EmuCompile.cpp and cuda_emu.h) and calling its llmc_emu_launch.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_EMULATION_EMUKERNELS_H
#define LLMC_TEST_EMULATION_EMUKERNELS_H

#include <cstdint>
#include <string>

namespace llmc::test::emu {

/// The parameter kinds of entry `symbol`, read from its source: one letter
/// per parameter, 'i' an int, 'p' a pointer, 'k' an llmc_kv (the fake
/// driver's launch signature, FakeCudaControl.h).
bool signature(const std::string &symbol, std::string &out,
               std::string &error);

/// Runs entry `symbol` over grid x block, with `sharedBytes` of dynamic
/// shared memory per block, on the launch's decoded parameters (a KVCache
/// 'k' takes eight, FakeCudaControl.h). On failure returns false with
/// `error` set.
bool run(const std::string &symbol, const std::string &signature,
         const unsigned grid[3], const unsigned block[3],
         unsigned sharedBytes, const uint64_t *params, std::string &error);

} // namespace llmc::test::emu

#endif // LLMC_TEST_EMULATION_EMUKERNELS_H
