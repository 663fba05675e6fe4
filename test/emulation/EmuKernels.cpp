//===- EmuKernels.cpp - generated kernels run on the CPU, for fake drivers ===//

#include "EmuKernels.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <vector>
#include <map>
#include <mutex>

namespace llmc::test::emu {
namespace {

struct LaunchShape { // LLMCEmuLaunch (cuda_emu.h)
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes;
};
using LaunchFn = void (*)(const LaunchShape *, void **);

std::mutex mutex;
std::map<std::string, LaunchFn> loaded;

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

} // namespace

std::string sourcesDir() {
  const char *dir = std::getenv("LLMC_EMU_SOURCES");
  return dir ? dir : "";
}

bool signature(const std::string &symbol, std::string &out,
               std::string &error) {
  std::string path = sourcesDir() + "/" + symbol + ".cu";
  std::ifstream in(path);
  if (sourcesDir().empty() || !in) {
    error = path + ": no kernel source (set LLMC_EMU_SOURCES to the "
                   "--dump-kernels directory)";
    return false;
  }
  std::string line, marker = " " + symbol + "(int num_tokens";
  while (std::getline(in, line)) {
    size_t at = line.find(marker);
    if (at == std::string::npos)
      continue;
    out = "i";
    size_t close = line.find(") {", at);
    std::string params = line.substr(at + marker.size(), close - at - marker.size());
    size_t pos = 0;
    while ((pos = params.find(", ", pos)) != std::string::npos) {
      pos += 2;
      if (params.compare(pos, 7, "llmc_kv") == 0)
        out += 'k';
      else if (params.compare(pos, 4, "int ") == 0 &&
               params.compare(pos, 5, "int *") != 0)
        out += 'i';
      else
        out += 'p';
    }
    return true;
  }
  error = path + ": no entry named " + symbol;
  return false;
}

bool run(const std::string &symbol, const std::string &signature,
         const unsigned grid[3], const unsigned block[3],
         unsigned sharedBytes, const uint64_t *params, std::string &error) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = loaded.find(symbol);
  if (it == loaded.end()) {
    const char *compiler = std::getenv("LLMC_EMU_COMPILE");
    std::string dir = sourcesDir();
    if (dir.empty() || !compiler) {
      error = "LLMC_EMU_SOURCES and LLMC_EMU_COMPILE must both be set";
      return false;
    }
    std::string base = dir + "/" + symbol;
    if (!exists(base + ".so")) {
      std::string command =
          std::string(compiler) + " '" + dir + "' '" + base + ".cu'";
      if (std::system(command.c_str()) != 0) {
        error = "cannot build the emulated kernel: " + command;
        return false;
      }
    }
    void *library = ::dlopen((base + ".so").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      error = std::string("dlopen: ") + ::dlerror();
      return false;
    }
    auto fn = reinterpret_cast<LaunchFn>(::dlsym(library, "llmc_emu_launch"));
    if (!fn) {
      error = base + ".so has no llmc_emu_launch";
      return false;
    }
    it = loaded.emplace(symbol, fn).first;
  }
  // Rebuild cuLaunchKernel's parameter array from the decoded values.
  struct Kv { // llmc_kv (KernelABI.h)
    void *keys;
    void *values;
    int capacity;
    float *key_scales;
    float *value_scales;
    const int *page_table;
    int table_pages;
    int page_shift;
  };
  std::vector<int32_t> ints(signature.size());
  std::vector<void *> pointers(signature.size());
  std::vector<Kv> kvs(signature.size());
  std::vector<void *> array;
  size_t j = 0;
  for (size_t i = 0; i < signature.size(); ++i) {
    switch (signature[i]) {
    case 'i':
      ints[i] = int32_t(params[j++]);
      array.push_back(&ints[i]);
      break;
    case 'p':
      pointers[i] = reinterpret_cast<void *>(params[j++]);
      array.push_back(&pointers[i]);
      break;
    default:
      kvs[i] = Kv{reinterpret_cast<void *>(params[j]),
                  reinterpret_cast<void *>(params[j + 1]),
                  int(params[j + 2]),
                  reinterpret_cast<float *>(params[j + 3]),
                  reinterpret_cast<float *>(params[j + 4]),
                  reinterpret_cast<const int *>(params[j + 5]),
                  int(params[j + 6]), int(params[j + 7])};
      j += 8;
      array.push_back(&kvs[i]);
      break;
    }
  }
  LaunchShape shape{{grid[0], grid[1], grid[2]},
                    {block[0], block[1], block[2]},
                    sharedBytes};
  it->second(&shape, array.data());
  return true;
}

} // namespace llmc::test::emu
