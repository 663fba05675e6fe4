//===- ConfigFuzzer.cpp - libFuzzer target: config.json -------------------===//
//
// Any bytes as config.json: parseConfig returns a config or an error, never
// crashes, hangs or aborts.
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/HFConfig.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  auto config = llmc::hf::parseConfig(text, "config.json");
  if (!config)
    llvm::consumeError(config.takeError());
  return 0;
}
