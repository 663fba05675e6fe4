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
// the C++ compiler this project was built with. With LLMC_EMU_CACHE set to a
// directory, each shared object is kept there under the FNV-1a hash of all
// it is built from (compiler, flags, the emulation headers, the source and
// its launcher), so the golden tests build a kernel that another test
// already built only once (about half of them).
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

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
                  "l->block[2]}, l->sharedBytes, [&] {\n    " +
                  e.name + "(";
  for (size_t i = 0; i < e.paramTypes.size(); ++i)
    s += (i ? ", *(" : "*(") + e.paramTypes[i] + " *)params[" +
         std::to_string(i) + "]";
  s += ");\n  });\n}\n";
  return s;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

uint64_t fnv1a(const std::string &text, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

const char kFlags[] = " -std=c++17 -O2 -fPIC -shared -w -DLLMC_EMULATION";
/// cuda_emu.h's fibers switch with Boost.Context.
const char kLibs[] = " -lboost_context";

/// What every shared object depends on besides its own source.
std::string commonInputs() {
  std::string all = std::string(LLMC_EMU_CXX) + kFlags + kLibs +
                    readFile(LLMC_EMU_HEADER);
  for (const char *header : {"cuda_bf16.h", "cuda_fp16.h"})
    all += readFile(std::string(LLMC_EMU_INCLUDE) + "/" + header);
  return all;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::cerr << "usage: llmc-emu-compile <outdir> <entry.cu>...\n";
    return 2;
  }
  std::string outDir = argv[1];
  std::vector<std::string> inputs(argv + 2, argv + argc);
  const char *cacheEnv = std::getenv("LLMC_EMU_CACHE");
  const std::string cacheDir = cacheEnv ? cacheEnv : "";
  const std::string common = cacheDir.empty() ? "" : commonInputs();
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
      const std::string unit = source + wrapper(entry);
      std::string cached;
      if (!cacheDir.empty()) {
        char key[17];
        std::snprintf(key, sizeof key, "%016llx",
                      (unsigned long long)fnv1a(unit, fnv1a(common)));
        cached = cacheDir + "/" + key + ".so";
        std::error_code ec;
        if (std::filesystem::exists(cached, ec) &&
            std::filesystem::copy_file(
                cached, base + ".so",
                std::filesystem::copy_options::overwrite_existing, ec))
          continue;
      }
      std::ofstream(base + ".cc") << unit;
      std::string command = std::string(LLMC_EMU_CXX) + kFlags +
                            " -include " LLMC_EMU_HEADER " -I" LLMC_EMU_INCLUDE
                            " -x c++ '" +
                            base + ".cc' -o '" + base + ".so'" + kLibs;
      if (std::system(command.c_str()) != 0) {
        std::cerr << "llmc-emu-compile: failed: " << command << "\n";
        ++failures;
        continue;
      }
      if (!cached.empty()) {
        // Another test may store the same object at the same time: write a
        // private copy, then rename it into place.
        std::error_code ec;
        std::string tmp = cached + "." + std::to_string(::getpid()) + "." +
                          std::to_string(i) + ".tmp";
        std::filesystem::create_directories(cacheDir, ec);
        if (std::filesystem::copy_file(base + ".so", tmp, ec))
          std::filesystem::rename(tmp, cached, ec);
        if (ec)
          std::filesystem::remove(tmp, ec);
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
