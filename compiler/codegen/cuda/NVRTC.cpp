//===- NVRTC.cpp - CUDA C++ source to cubin and PTX through NVRTC ---------===//
//
// One NVRTC program per (kernel, target): compiled for the real architecture,
// from which NVRTC gives both the cubin and the PTX, so each pair costs one
// compile. Resource usage is read from ptxas's -v report in the program log.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/NVRTC.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Demangle/Demangle.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/raw_ostream.h"

#include <nvrtc.h>

#include <cstdlib>
#include <memory>
#include <optional>

#ifndef LLMC_CUDA_INCLUDE_DIR
#error "LLMC_CUDA_INCLUDE_DIR must name the CUDA toolkit's include directory"
#endif
#ifndef LLMC_CCCL_INCLUDE_DIR
#error "LLMC_CCCL_INCLUDE_DIR must be defined (empty if CCCL is not separate)"
#endif

namespace llmc::codegen::cuda {

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The architectures the code generator has templates for.
constexpr llvm::StringLiteral kKnownTargets[] = {
    "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", "sm_100", "sm_120"};

/// "sm_90a" -> 90; the caller has checked the name is one of kKnownTargets.
int archNumber(llvm::StringRef name) {
  int number = 0;
  name.drop_front(3).take_while(llvm::isDigit).getAsInteger(10, number);
  return number;
}

struct ProgramDeleter {
  void operator()(_nvrtcProgram *program) const {
    nvrtcDestroyProgram(&program);
  }
};
using Program = std::unique_ptr<_nvrtcProgram, ProgramDeleter>;

std::string programLog(nvrtcProgram program) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0)
    return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(program, log.data()) != NVRTC_SUCCESS)
    return "";
  log.resize(size - 1); // the terminating NUL
  return log;
}

/// A file name from a kernel name: anything but [A-Za-z0-9_.-] becomes '_',
/// so that a name can never leave dumpDir.
std::string dumpFileName(llvm::StringRef kernelName) {
  std::string file = kernelName.empty() ? "kernel" : kernelName.str();
  for (char &c : file)
    if (!llvm::isAlnum(c) && c != '_' && c != '.' && c != '-')
      c = '_';
  return file + ".cu";
}

/// Writes the source to dumpDir/<name>.cu through a temporary file, so that
/// two targets of one kernel failing at once leave one whole file.
llvm::Expected<std::string> dumpSource(const KernelSource &kernel,
                                       llvm::StringRef dumpDir) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dumpDir))
    return makeError("cannot create '" + dumpDir + "': " + ec.message());
  llvm::SmallString<256> path(dumpDir);
  llvm::sys::path::append(path, dumpFileName(kernel.name));
  if (llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
        os << kernel.source;
        return llvm::Error::success();
      }))
    return err;
  return std::string(path);
}

/// The toolkit headers NVRTC compiles against: $LLMC_CUDA_INCLUDE (the
/// include directory of a toolkit elsewhere than at build time, e.g. on a
/// machine a self-contained llmc was carried to), else the build's. CCCL
/// first: since CUDA 13, <cuda/std/...> and <cub/...> live only there.
std::vector<std::string> includeOptions() {
  std::vector<std::string> out;
  if (const char *dir = std::getenv("LLMC_CUDA_INCLUDE"); dir && *dir) {
    std::string cccl = std::string(dir) + "/cccl";
    if (llvm::sys::fs::is_directory(cccl + "/cuda/std"))
      out.push_back("-I" + cccl);
    out.push_back("-I" + std::string(dir));
    return out;
  }
  if (llvm::StringRef(LLMC_CCCL_INCLUDE_DIR).size())
    out.push_back("-I" LLMC_CCCL_INCLUDE_DIR);
  out.push_back("-I" LLMC_CUDA_INCLUDE_DIR);
  return out;
}

llvm::Expected<CompiledKernel>
compileUndumped(const KernelSource &kernel, const Target &target,
                llvm::ArrayRef<std::string> extraOptions) {
  auto fail = [&](llvm::StringRef what, nvrtcResult result) {
    return makeError("NVRTC " + what + " failed for kernel '" + kernel.name +
                     "' (" + target.name + "): " + nvrtcGetErrorString(result));
  };

  nvrtcProgram raw = nullptr;
  std::string fileName = dumpFileName(kernel.name);
  if (nvrtcResult r = nvrtcCreateProgram(&raw, kernel.source.c_str(),
                                         fileName.c_str(), 0, nullptr, nullptr);
      r != NVRTC_SUCCESS)
    return fail("nvrtcCreateProgram", r);
  Program program(raw);

  for (const std::string &entry : kernel.entryPoints)
    if (nvrtcResult r = nvrtcAddNameExpression(raw, entry.c_str());
        r != NVRTC_SUCCESS)
      return fail("nvrtcAddNameExpression('" + entry + "')", r);

  std::vector<std::string> options = {"-arch=" + target.name, "-std=c++17",
                                      "-default-device", "--ptxas-options=-v"};
  llvm::append_range(options, includeOptions());
  llvm::append_range(options, extraOptions);
  std::vector<const char *> argv;
  for (const std::string &option : options)
    argv.push_back(option.c_str());

  nvrtcResult compiled = nvrtcCompileProgram(raw, argv.size(), argv.data());
  CompiledKernel out;
  out.name = kernel.name;
  out.target = target;
  out.log = programLog(raw);
  if (compiled != NVRTC_SUCCESS)
    return makeError("kernel '" + kernel.name + "' failed to compile for " +
                     target.name + " (" + nvrtcGetErrorString(compiled) +
                     "):\n" + out.log);

  size_t size = 0;
  if (nvrtcResult r = nvrtcGetCUBINSize(raw, &size); r != NVRTC_SUCCESS)
    return fail("nvrtcGetCUBINSize", r);
  if (size == 0)
    return makeError("kernel '" + kernel.name + "': NVRTC produced no cubin" +
                     " for " + target.name + " (is it a real architecture?)");
  out.cubin.resize(size);
  if (nvrtcResult r =
          nvrtcGetCUBIN(raw, reinterpret_cast<char *>(out.cubin.data()));
      r != NVRTC_SUCCESS)
    return fail("nvrtcGetCUBIN", r);

  if (nvrtcResult r = nvrtcGetPTXSize(raw, &size); r != NVRTC_SUCCESS)
    return fail("nvrtcGetPTXSize", r);
  out.ptx.assign(size, '\0');
  if (nvrtcResult r = nvrtcGetPTX(raw, out.ptx.data()); r != NVRTC_SUCCESS)
    return fail("nvrtcGetPTX", r);
  if (!out.ptx.empty() && out.ptx.back() == '\0')
    out.ptx.pop_back();

  out.usage = parsePtxasReport(out.log);
  for (const std::string &entry : kernel.entryPoints) {
    const char *lowered = nullptr;
    if (nvrtcResult r = nvrtcGetLoweredName(raw, entry.c_str(), &lowered);
        r != NVRTC_SUCCESS)
      return fail("nvrtcGetLoweredName('" + entry + "')", r);
    // NVRTC already rejects name expressions that are not kernels.
    if (!out.usage.count(llvm::demangle(lowered)))
      return makeError("kernel '" + kernel.name + "': entry point '" + entry +
                       "' (" + lowered + ") is missing from ptxas's report");
    out.symbols[entry] = lowered;
  }
  return out;
}

/// Reads "N bytes <what>" or "Used N registers" style items: the first
/// integer in `item`.
int leadingNumber(llvm::StringRef item) {
  item = item.drop_until(llvm::isDigit);
  int value = 0;
  item.take_while(llvm::isDigit).getAsInteger(10, value);
  return value;
}

} // namespace

const std::vector<std::string> &acceptedTargets() {
  static const std::vector<std::string> accepted = [] {
    std::vector<int> supported;
    int count = 0;
    if (nvrtcGetNumSupportedArchs(&count) == NVRTC_SUCCESS && count > 0) {
      supported.resize(count);
      if (nvrtcGetSupportedArchs(supported.data()) != NVRTC_SUCCESS)
        supported.clear();
    }
    std::vector<std::string> names;
    for (llvm::StringRef name : kKnownTargets)
      if (llvm::is_contained(supported, archNumber(name)))
        names.push_back(name.str());
    return names;
  }();
  return accepted;
}

llvm::Expected<Target> parseTarget(llvm::StringRef name) {
  const std::vector<std::string> &accepted = acceptedTargets();
  if (!llvm::is_contained(accepted, name)) {
    bool known = llvm::is_contained(kKnownTargets, name);
    return makeError("CUDA target '" + name + "' is " +
                     (known ? "not supported by NVRTC " + nvrtcVersion()
                            : std::string("unknown")) +
                     "; accepted targets: " + llvm::join(accepted, ", "));
  }
  Target target;
  target.name = name.str();
  int number = archNumber(name);
  target.major = number / 10;
  target.minor = number % 10;
  target.archSpecific = name.ends_with("a");
  return target;
}

// The report, as NVRTC 13.0 prints it (columns padded with spaces):
//   ptxas info    : 0 bytes gmem
//   ptxas info    : Compiling entry function 'vadd' for 'sm_80'
//   ptxas info    : Function properties for vadd
//   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes
//                       spill loads                        (one line)
//   ptxas info    : Used 12 registers, used 1 barriers, 1024 bytes smem,
//                   380 bytes cmem[0]                      (one line)
// "Function properties" also appears for non-inlined device functions; their
// numbers are already in the calling kernel's cumulative stack size.
std::map<std::string, ResourceUsage> parsePtxasReport(llvm::StringRef log) {
  std::map<std::string, ResourceUsage> usage;
  ResourceUsage *entry = nullptr;      // the kernel being compiled
  ResourceUsage *properties = nullptr; // the kernel "Function properties" for
  llvm::SmallVector<llvm::StringRef> lines;
  log.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    line = line.trim();
    if (!line.consume_front("ptxas"))
      continue;
    if (size_t at = line.find("Compiling entry function '");
        at != llvm::StringRef::npos) {
      llvm::StringRef symbol =
          line.drop_front(at + strlen("Compiling entry function '"))
              .take_until([](char c) { return c == '\''; });
      entry = &usage[llvm::demangle(symbol)];
      properties = nullptr;
      continue;
    }
    if (size_t at = line.find("Function properties for ");
        at != llvm::StringRef::npos) {
      std::string name = llvm::demangle(
          line.drop_front(at + strlen("Function properties for ")).trim());
      auto it = usage.find(name);
      properties = it == usage.end() ? nullptr : &it->second;
      continue;
    }
    llvm::SmallVector<llvm::StringRef> items;
    if (line.contains("bytes stack frame")) {
      if (!properties)
        continue;
      line.split(items, ',');
      for (llvm::StringRef item : items) {
        if (item.contains("stack frame"))
          properties->localBytes =
              std::max(properties->localBytes, leadingNumber(item));
        else if (item.contains("spill stores"))
          properties->spillStoreBytes = leadingNumber(item);
        else if (item.contains("spill loads"))
          properties->spillLoadBytes = leadingNumber(item);
      }
      continue;
    }
    if (size_t at = line.find("Used "); at != llvm::StringRef::npos && entry) {
      line.drop_front(at).split(items, ',');
      for (llvm::StringRef item : items) {
        item = item.trim();
        if (item.ends_with("registers"))
          entry->registers = leadingNumber(item);
        else if (item.ends_with("bytes smem"))
          entry->staticSharedBytes = leadingNumber(item);
        else if (item.ends_with("bytes cmem[0]"))
          entry->constantBytes = leadingNumber(item);
        else if (item.ends_with("bytes cumulative stack size"))
          entry->localBytes = std::max(entry->localBytes, leadingNumber(item));
      }
    }
  }
  return usage;
}

llvm::Expected<CompiledKernel>
compileKernel(const KernelSource &source, const Target &target,
              llvm::ArrayRef<std::string> extraOptions,
              llvm::StringRef dumpDir) {
  llvm::Expected<CompiledKernel> compiled =
      compileUndumped(source, target, extraOptions);
  if (compiled || dumpDir.empty())
    return compiled;
  std::string message = llvm::toString(compiled.takeError());
  llvm::Expected<std::string> path = dumpSource(source, dumpDir);
  if (path)
    return makeError(message + "\nsource written to " + *path);
  return makeError(message +
                   "\nsource not written: " + llvm::toString(path.takeError()));
}

llvm::Expected<std::vector<CompiledKernel>>
compileAll(llvm::ArrayRef<KernelSource> kernels, llvm::ArrayRef<Target> targets,
           unsigned jobs, llvm::StringRef dumpDir,
           llvm::ArrayRef<std::string> extraOptions) {
  size_t count = kernels.size() * targets.size();
  std::vector<std::optional<llvm::Expected<CompiledKernel>>> slots(count);
  {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(jobs));
    for (size_t i = 0; i < count; ++i)
      pool.async([&, i] {
        slots[i].emplace(compileKernel(kernels[i / targets.size()],
                                       targets[i % targets.size()],
                                       extraOptions, dumpDir));
      });
    pool.wait();
  }
  std::vector<CompiledKernel> results;
  results.reserve(count);
  // The first few failures in full; an option every compile rejects would
  // otherwise repeat one log per kernel.
  constexpr size_t kShownFailures = 3;
  llvm::Error errors = llvm::Error::success();
  size_t failures = 0;
  for (std::optional<llvm::Expected<CompiledKernel>> &slot : slots) {
    if (*slot) {
      results.push_back(std::move(**slot));
    } else if (++failures <= kShownFailures) {
      errors = llvm::joinErrors(std::move(errors), slot->takeError());
    } else {
      llvm::consumeError(slot->takeError());
    }
  }
  if (failures > kShownFailures)
    errors = llvm::joinErrors(
        std::move(errors),
        makeError("... and " + llvm::Twine(failures - kShownFailures) +
                  " more of the " + llvm::Twine(count) +
                  " kernel compiles failed"));
  if (errors)
    return errors;
  return results;
}

std::string nvrtcVersion() {
  int major = 0, minor = 0;
  if (::nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

} // namespace llmc::codegen::cuda
