//===- IndexFuzzer.cpp - libFuzzer target: model.safetensors.index.json ---===//
//
// Any bytes as a sharded checkpoint's index, in a model directory without
// shards: the index is read and every shard name checked (no absolute path,
// no "..") before any shard is opened, and the result is one error.
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/safetensors/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

const std::string &modelDir() {
  static const std::string dir = [] {
    char model[] = "/tmp/llmc-fuzz-index-XXXXXX";
    if (!::mkdtemp(model))
      std::abort();
    return std::string(model);
  }();
  return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string index = modelDir() + "/model.safetensors.index.json";
  FILE *f = std::fopen(index.c_str(), "wb");
  if (!f)
    std::abort();
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto archive = llmc::hf::SafetensorsArchive::open(modelDir());
  if (!archive)
    llvm::consumeError(archive.takeError());
  return 0;
}
