//===- EmuCompile.cpp - llmc-emu-compile: generated kernels as host code --===//
//
// Test-only. `llmc-emu-compile <outdir> <entry.cu>...` turns each kernel
// source that `llmc compile --dump-kernels` wrote into <outdir>/<entry>.so:
// the source, force-included with cuda_emu.h, plus a launcher whose
// parameter types come from <entry>.params (written with the source):
//
//   extern "C" void llmc_emu_launch(const LLMCEmuLaunch *, void **params)
//
// which runs the entry over the grid with cuLaunchKernel's parameter array
// (the fake driver in FakeCudaEmu.cpp calls it). Compiles in parallel with
// the C++ compiler this project was built with.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Entry {
  std::string name;
  std::vector<std::string> paramTypes;
};

/// The entry of `<dir>/<name>.cu`: its name, and its parameter types from
/// `<dir>/<name>.params`, which the emitter writes next to it from the
/// kernel.call (CudaEmitter.h, entryParamTypes): nothing is parsed from the
/// source.
bool readEntry(const std::string &cuPath, Entry &entry, std::string &error) {
  const std::string suffix = ".cu";
  if (cuPath.size() <= suffix.size() ||
      cuPath.compare(cuPath.size() - suffix.size(), suffix.size(), suffix)) {
    error = "not a .cu file";
    return false;
  }
  std::string base = cuPath.substr(0, cuPath.size() - suffix.size());
  size_t slash = base.rfind('/');
  entry.name = slash == std::string::npos ? base : base.substr(slash + 1);
  std::ifstream params(base + ".params");
  if (!params) {
    error = "no " + base + ".params next to it (llmc compile --dump-kernels "
            "writes one per entry)";
    return false;
  }
  for (std::string type; std::getline(params, type);)
    if (!type.empty())
      entry.paramTypes.push_back(type);
  if (entry.paramTypes.empty() || entry.paramTypes[0] != "int") {
    error = base + ".params: the first parameter must be int (num_tokens)";
    return false;
  }
  return true;
}

std::string wrapper(const Entry &e) {
  std::string s = "\nextern \"C\" void llmc_emu_launch(const LLMCEmuLaunch *l, "
                  "void **params) {\n  llmc_emu::launch(dim3{l->grid[0], "
                  "l->grid[1], l->grid[2]}, dim3{l->block[0], l->block[1], "
                  "l->block[2]}, [&] {\n    " +
                  e.name + "(";
  for (size_t i = 0; i < e.paramTypes.size(); ++i)
    s += (i ? ", *(" : "*(") + e.paramTypes[i] + " *)params[" +
         std::to_string(i) + "]";
  s += ");\n  });\n}\n";
  return s;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::cerr << "usage: llmc-emu-compile <outdir> <entry.cu>...\n";
    return 2;
  }
  std::string outDir = argv[1];
  std::vector<std::string> inputs(argv + 2, argv + argc);
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  auto work = [&] {
    for (size_t i; (i = next++) < inputs.size();) {
      std::ifstream in(inputs[i]);
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::string source = buffer.str(), error;
      Entry entry;
      if (!in || !readEntry(inputs[i], entry, error)) {
        std::cerr << inputs[i] << ": " << (error.empty() ? "unreadable" : error)
                  << "\n";
        ++failures;
        continue;
      }
      std::string base = outDir + "/" + entry.name;
      std::ofstream(base + ".cc") << source << wrapper(entry);
      std::string command = std::string(LLMC_EMU_CXX) +
                            " -std=c++17 -O2 -fPIC -shared -w -DLLMC_EMULATION"
                            " -include " LLMC_EMU_HEADER " -I" LLMC_EMU_INCLUDE
                            " -x c++ '" +
                            base + ".cc' -o '" + base + ".so'";
      if (std::system(command.c_str()) != 0) {
        std::cerr << "llmc-emu-compile: failed: " << command << "\n";
        ++failures;
      }
    }
  };
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned j = 0; j < jobs; ++j)
    pool.emplace_back(work);
  for (std::thread &t : pool)
    t.join();
  return failures ? 1 : 0;
}
