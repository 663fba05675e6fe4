//===- Signing.h - Ed25519 keys and plan signatures (libsodium) -*- C++ -*-===//
//
// `llmc keygen` writes a key pair, `llmc compile --sign-key` and `llmc sign`
// append a signature block (runtime/schema/PlanFormat.h) to a plan, and the
// runtime checks it when opened with the public key (llmc_plan_open_ex).
// Key files are one line of text each:
//   llmc-ed25519-secret-key <128 hex digits>   (libsodium's 64-byte key)
//   llmc-ed25519-public-key <64 hex digits>
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_SUPPORT_SIGNING_H
#define LLMC_COMPILER_SUPPORT_SIGNING_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <memory>

namespace llmc::support {

using PublicKey = std::array<uint8_t, 32>;

struct SigningKey {
  std::array<uint8_t, 64> secret;
  PublicKey publicKey;
};

/// Writes `base`.key (the secret key; mode 0600, never over an existing
/// file) and `base`.pub.
llvm::Error generateKeyPair(llvm::StringRef base);
llvm::Expected<SigningKey> readSigningKey(llvm::StringRef path);
llvm::Expected<PublicKey> readPublicKey(llvm::StringRef path);
std::string hexKey(const uint8_t *key, size_t size);

/// Signs the bytes given to update(), in order (Ed25519ph: any size).
class PlanSigner {
public:
  PlanSigner();
  ~PlanSigner();
  void update(const uint8_t *data, uint64_t size);
  /// The signature block that follows the signed bytes in the file.
  std::array<uint8_t, 128> finish(const SigningKey &key);

private:
  struct State;
  std::unique_ptr<State> state_;
};

} // namespace llmc::support

#endif // LLMC_COMPILER_SUPPORT_SIGNING_H
