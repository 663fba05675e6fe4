//===- Signing.cpp - Ed25519 keys and plan signatures (libsodium) ---------===//

#include "compiler/support/Signing.h"

#include "compiler/support/InputFile.h"
#include "runtime/schema/PlanFormat.h"

#include "llvm/ADT/StringExtras.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sodium.h>
#include <string>
#include <unistd.h>

namespace llmc::support {
namespace {

constexpr const char *kSecretTag = "llmc-ed25519-secret-key";
constexpr const char *kPublicTag = "llmc-ed25519-public-key";

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Error initSodium() {
  if (sodium_init() < 0)
    return error("libsodium failed to initialize");
  return llvm::Error::success();
}

/// Reads `tag <hex>` from `path` into `out`.
llvm::Error readKeyFile(llvm::StringRef path, llvm::StringRef tag,
                        uint8_t *out, size_t size) {
  auto buffer = readInputFile(path, 4096, /*isText=*/true);
  if (!buffer)
    return buffer.takeError();
  llvm::StringRef text = (*buffer)->getBuffer().trim();
  auto [head, hex] = text.split(' ');
  std::string bytes;
  if (head != tag || hex.size() != 2 * size ||
      !llvm::tryGetFromHex(hex, bytes) || bytes.size() != size)
    return error(path.str() + ": not an llmc key file (expected one line \"" +
                 tag.str() + " <" + std::to_string(2 * size) +
                 " hex digits>\")");
  std::memcpy(out, bytes.data(), size);
  return llvm::Error::success();
}

llvm::Error writeKeyFile(const std::string &path, llvm::StringRef tag,
                         const uint8_t *key, size_t size, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return error(path + ": cannot create: " + std::strerror(errno) +
                 (errno == EEXIST ? " (llmc keygen never overwrites a key)"
                                  : ""));
  std::string line = tag.str() + " " + hexKey(key, size) + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size());
  int code = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return error(path + ": write failed: " + std::strerror(code));
  }
  return llvm::Error::success();
}

} // namespace

std::string hexKey(const uint8_t *key, size_t size) {
  return llvm::toHex(llvm::ArrayRef<uint8_t>(key, size), /*LowerCase=*/true);
}

llvm::Error generateKeyPair(llvm::StringRef base) {
  if (llvm::Error e = initSodium())
    return e;
  SigningKey key;
  crypto_sign_keypair(key.publicKey.data(), key.secret.data());
  std::string secretPath = (base + ".key").str(),
              publicPath = (base + ".pub").str();
  if (llvm::Error e = writeKeyFile(secretPath, kSecretTag, key.secret.data(),
                                   key.secret.size(), 0600))
    return e;
  if (llvm::Error e = writeKeyFile(publicPath, kPublicTag,
                                   key.publicKey.data(),
                                   key.publicKey.size(), 0644)) {
    ::unlink(secretPath.c_str());
    return e;
  }
  sodium_memzero(key.secret.data(), key.secret.size());
  return llvm::Error::success();
}

llvm::Expected<SigningKey> readSigningKey(llvm::StringRef path) {
  if (llvm::Error e = initSodium())
    return e;
  SigningKey key;
  if (llvm::Error e =
          readKeyFile(path, kSecretTag, key.secret.data(), key.secret.size()))
    return e;
  crypto_sign_ed25519_sk_to_pk(key.publicKey.data(), key.secret.data());
  return key;
}

llvm::Expected<PublicKey> readPublicKey(llvm::StringRef path) {
  PublicKey key;
  if (llvm::Error e = readKeyFile(path, kPublicTag, key.data(), key.size()))
    return e;
  return key;
}

struct PlanSigner::State {
  crypto_sign_state sign;
};

PlanSigner::PlanSigner() : state_(new State) {
  // readSigningKey ran sodium_init (a signer needs a key); it is idempotent.
  if (sodium_init() < 0)
    std::abort();
  crypto_sign_init(&state_->sign);
}

PlanSigner::~PlanSigner() = default;

void PlanSigner::update(const uint8_t *data, uint64_t size) {
  crypto_sign_update(&state_->sign, data, (unsigned long long)size);
}

std::array<uint8_t, 128> PlanSigner::finish(const SigningKey &key) {
  namespace rt = llmc::runtime;
  std::array<uint8_t, 128> block{};
  std::memcpy(block.data(), rt::kSignatureMagic, 8);
  std::memcpy(block.data() + 8, rt::kSignatureAlgorithm, 8);
  std::memcpy(block.data() + rt::kSignatureKeyOffset, key.publicKey.data(),
              rt::kSignatureKeyBytes);
  crypto_sign_final_create(&state_->sign, block.data() + rt::kSignatureOffset,
                           nullptr, key.secret.data());
  return block;
}

} // namespace llmc::support
