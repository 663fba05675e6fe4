//===- SignCommands.cpp - llmc keygen and llmc sign -----------------------===//
//
// `llmc keygen <name>` writes an Ed25519 key pair (<name>.key, kept secret,
// and <name>.pub); `llmc sign <plan> --key <name>.key` appends a signature
// block to a plan (replacing one it already has), which the runtime checks
// when the plan is opened with the public key (--verify-key,
// llmc_plan_open_ex). See docs/RELIABILITY.md for what a signature protects.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/InputFile.h"
#include "compiler/support/OutputFile.h"
#include "compiler/support/Signing.h"
#include "compiler/tools/Commands.h"
#include "compiler/tools/ToolSupport.h"

#include "runtime/schema/PlanFormat.h"

#include "llvm/Support/CommandLine.h"

#include <cstring>

using namespace llvm;

namespace llmc::tools {

int keygenMain(int argc, char **argv) {
  cl::OptionCategory category("llmc keygen options");
  cl::opt<std::string> base(cl::Positional, cl::Required,
                            cl::desc("<name>: writes <name>.key and <name>.pub"),
                            cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc keygen: an Ed25519 key pair for signing plans\n\n"
      "  <name>.key is the secret key (mode 0600; keep it out of what you\n"
      "  ship); <name>.pub is given to --verify-key or llmc_plan_open_ex.\n"
      "  Existing files are never overwritten.\n");
  if (Error e = support::generateKeyPair(base))
    return fail(toString(std::move(e)));
  outs() << "wrote " << base << ".key (secret) and " << base << ".pub\n";
  return 0;
}

int signMain(int argc, char **argv) {
  cl::OptionCategory category("llmc sign options");
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.plan>"), cl::cat(category));
  cl::opt<std::string> keyPath("key", cl::Required,
                               cl::desc("The secret key (llmc keygen's .key)"),
                               cl::value_desc("file.key"), cl::cat(category));
  cl::opt<std::string> output(
      "o", cl::desc("Write the signed plan here (default: replace the input)"),
      cl::value_desc("file"), cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc sign: append an Ed25519 signature of every byte to a plan\n");

  auto key = support::readSigningKey(keyPath);
  if (!key)
    return fail(toString(key.takeError()));
  // Only a plan that opens is signed: a signature vouches for it.
  llmc_plan *opened = nullptr;
  if (llmc_plan_open(input.c_str(), &opened) != LLMC_OK)
    return fail(llmc_last_error());
  PlanHandle plan(opened);
  int32_t wasSigned = 0;
  if (llmc_plan_get_signer(plan.get(), &wasSigned, nullptr) != LLMC_OK)
    return fail(llmc_last_error());
  plan.reset();
  auto bytes = support::readInputFile(input, UINT64_MAX, /*isText=*/false);
  if (!bytes)
    return fail(toString(bytes.takeError()));
  const auto *data =
      reinterpret_cast<const uint8_t *>((*bytes)->getBufferStart());
  uint64_t size = (*bytes)->getBufferSize();
  if (wasSigned)
    size -= runtime::kSignatureBlockSize; // re-signed: the old block goes
  support::PlanSigner signer;
  signer.update(data, size);
  std::array<uint8_t, 128> block = signer.finish(*key);
  auto file = support::OutputFile::open(output.empty() ? input : output);
  if (!file)
    return fail(toString(file.takeError()));
  if (Error e = (*file)->append(data, size))
    return fail(toString(std::move(e)));
  if (Error e = (*file)->append(block.data(), block.size()))
    return fail(toString(std::move(e)));
  if (Error e = (*file)->commit())
    return fail(toString(std::move(e)));
  return 0;
}

} // namespace llmc::tools
