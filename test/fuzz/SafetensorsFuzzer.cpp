//===- SafetensorsFuzzer.cpp - libFuzzer target: a .safetensors file ------===//
//
// Any bytes as a .safetensors image: the header, every tensor's dtype, shape
// and offsets are validated, or one error is returned. Tensors that pass are
// converted to f32 (reading every byte they claim).
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/safetensors/Safetensors.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace llmc::hf;
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "fuzz.safetensors");
  auto archive =
      SafetensorsArchive::openBuffer(std::move(buffer), "fuzz.safetensors");
  if (!archive) {
    llvm::consumeError(archive.takeError());
    return 0;
  }
  for (const TensorView &t : (*archive)->tensors()) {
    if (!isFloatingTensorDType(t.dtype) || t.numElements() > (1 << 20))
      continue;
    std::vector<uint8_t> out(size_t(t.numElements()) * 4);
    if (llvm::Error e = convertTensor(t, TensorDType::F32, out))
      llvm::consumeError(std::move(e));
  }
  return 0;
}
