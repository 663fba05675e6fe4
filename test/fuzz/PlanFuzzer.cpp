//===- PlanFuzzer.cpp - libFuzzer target: a plan file ---------------------===//
//
// Any bytes as a plan: llmc_plan_open refuses them with one error, or
// everything that reads a plan copes: llmc_plan_get_info, llmc_plan_get_header,
// the text of `llmc inspect --weights` (printPlanSummary), and a CPU session
// that prefills two tokens and decodes one (when the plan's arena is small
// enough to be worth it). The plan's checksums would stop almost every
// mutation at the door, so the fuzzer checks them only on inputs whose first
// byte is odd: on the others, each checksum is recomputed first, so that the
// mutations reach the flatbuffer verifier and the content checks.
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/PlanSummary.h"
#include "llmc/llmc.h"
#include "runtime/schema/PlanFormat.h"

#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

/// Recomputes the header checksum (and so reaches the verifier) where the
/// size prefix leaves room for one.
void fixHeaderChecksum(std::vector<uint8_t> &bytes) {
  if (bytes.size() < 4)
    return;
  uint32_t prefix;
  std::memcpy(&prefix, bytes.data(), 4);
  uint64_t at = llmc::runtime::headerChecksumOffset(prefix);
  if (at + 8 > bytes.size())
    return;
  uint64_t sum = llmc::runtime::checksum(bytes.data(), 4 + uint64_t(prefix));
  std::memcpy(bytes.data() + at, &sum, 8);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size > 0 && (data[0] & 1) == 0)
    fixHeaderChecksum(bytes);
  static int fd = ::memfd_create("llmc-fuzz-plan", 0);
  if (fd < 0)
    std::abort();
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, bytes.data(), bytes.size(), 0) != ssize_t(bytes.size()))
    std::abort();
  std::string path = "/proc/self/fd/" + std::to_string(fd);

  llmc_plan *plan = nullptr;
  if (llmc_plan_open(path.c_str(), &plan) != LLMC_OK)
    return 0;
  llmc_plan_info info;
  if (llmc_plan_get_info(plan, &info) != LLMC_OK)
    std::abort(); // a plan that opened must describe itself
  const void *header = nullptr;
  size_t headerSize = 0;
  uint64_t fileSize = 0;
  if (llmc_plan_get_header(plan, &header, &headerSize, &fileSize) != LLMC_OK)
    std::abort();
  llvm::raw_null_ostream os;
  llmc::tools::printPlanSummary(
      os, *llmc::plan::GetSizePrefixedPlan(header), path, fileSize,
      /*listKernels=*/true, /*listWeights=*/true);

  if (info.arena_bytes <= (1u << 20) && info.vocab_size <= (1 << 16)) {
    llmc_session_options options = llmc_session_options_default();
    options.max_seq_len = int32_t(info.max_seq_len < 16 ? info.max_seq_len : 16);
    options.num_threads = 1;
    llmc_session *session = nullptr;
    if (llmc_session_create(plan, &options, &session) == LLMC_OK) {
      int32_t tokens[2] = {0, int32_t(info.vocab_size - 1)}, seq = 0;
      std::vector<float> logits(size_t(info.vocab_size) * 2);
      if (llmc_prefill(session, 0, tokens, 2, logits.data(), nullptr) ==
          LLMC_OK)
        (void)llmc_decode(session, 1, &seq, tokens, logits.data());
      llmc_session_destroy(session);
    }
  }
  llmc_plan_close(plan);
  return 0;
}
