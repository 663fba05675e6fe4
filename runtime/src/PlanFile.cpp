//===- PlanFile.cpp - map a plan and verify its container -----------------===//
//
// The container checks, in the order a reader can trust the bytes: size,
// identifier, size prefix, header checksum, format version, flatbuffer
// verifier. The contents are checked by verifyPlanContents (verify/PlanVerifier.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/PlanFile.h"

#include "runtime/schema/PlanFormat.h"

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <new>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace llmc::runtime {

namespace {

/// `bytes` as a C string literal body: printable ASCII as is, others \xNN.
std::string quoteBytes(const uint8_t *bytes, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
  return buf;
}

uint32_t readU32(const uint8_t *p) {
  return flatbuffers::ReadScalar<uint32_t>(p);
}
uint64_t readU64(const uint8_t *p) {
  return flatbuffers::ReadScalar<uint64_t>(p);
}

/// Reads Plan.version with a verifier of its own, so that a plan of another
/// major version is reported as such even if the rest of its flatbuffer no
/// longer matches this schema. `data` is the size-prefixed flatbuffer.
Status checkVersion(const uint8_t *data, size_t size, const std::string &path) {
  flatbuffers::Verifier::Options options;
  options.max_depth = kVerifierMaxDepth;
  options.max_tables = kVerifierMaxTables;
  flatbuffers::Verifier verifier(data, size, options);
  auto bad = [&] {
    return invalidPlan(path + ": corrupted plan: the flatbuffer's root table "
                              "is out of bounds");
  };
  // Offsets are relative to the start of the size-prefixed buffer, as in
  // Verifier::VerifySizePrefixedBuffer, so that alignment checks hold.
  flatbuffers::uoffset_t rootOffset = verifier.VerifyOffset(4);
  if (rootOffset == 0)
    return bad();
  const auto *root =
      reinterpret_cast<const flatbuffers::Table *>(data + 4 + rootOffset);
  if (!root->VerifyTableStart(verifier) ||
      !root->VerifyField<llmc::plan::FormatVersion>(
          verifier, llmc::plan::Plan::VT_VERSION,
          alignof(llmc::plan::FormatVersion)))
    return bad();
  const auto *version = root->GetStruct<const llmc::plan::FormatVersion *>(
      llmc::plan::Plan::VT_VERSION);
  if (!version)
    return invalidPlan(path + ": corrupted plan: no format version");
  std::string theirs =
      std::to_string(version->major()) + "." + std::to_string(version->minor());
  std::string ours =
      std::to_string(kFormatMajor) + "." + std::to_string(kFormatMinor);
  if (version->major() > kFormatMajor ||
      (version->major() == kFormatMajor && version->minor() > kFormatMinor))
    return Status(LLMC_ERROR_UNSUPPORTED, path + ": plan format " + theirs +
                                              " is newer than this runtime's " +
                                              ours + "; upgrade llmc");
  if (version->major() < kFormatMajor)
    return Status(LLMC_ERROR_UNSUPPORTED, path + ": plan format " + theirs +
                                              " is older than this runtime's " +
                                              ours + "; recompile the model");
  return Status::success();
}


/// Whether `signature` is the Ed25519ph signature by `key` of the `size`
/// bytes at `data` (libsodium's multi-part API: any plan size).
bool verifySignature(const uint8_t *data, uint64_t size,
                     const uint8_t *signature, const uint8_t *key) {
  static const bool ready = sodium_init() >= 0;
  if (!ready)
    return false;
  crypto_sign_state state;
  crypto_sign_init(&state);
  constexpr uint64_t kChunk = uint64_t(1) << 30;
  for (uint64_t at = 0; at < size; at += kChunk)
    crypto_sign_update(&state, data + at,
                       (unsigned long long)std::min(kChunk, size - at));
  return crypto_sign_final_verify(&state, signature, key) == 0;
}
} // namespace

Status PlanFile::open(const std::string &path, std::unique_ptr<PlanFile> &out,
                      const uint8_t *verifyKey, bool readIntoMemory) {
  out.reset();
  std::unique_ptr<PlanFile> file(new PlanFile(path));

  // Non-blocking: a FIFO must not wait for a writer (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return Status(LLMC_ERROR_IO,
                  path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status(LLMC_ERROR_IO, path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(LLMC_ERROR_IO, path + ": not a regular file");
  }
  uint64_t size = uint64_t(st.st_size);
  if (size < kMinFileSize) {
    ::close(fd);
    return invalidPlan(path + ": truncated: file is " + std::to_string(size) +
                       " bytes, smaller than the " +
                       std::to_string(kMinFileSize) + "-byte plan header");
  }
  if (readIntoMemory) {
    // A private copy: later changes to the file (or its truncation) cannot
    // reach this process. Page-aligned, like a mapping.
    uint8_t *copy = nullptr;
    try {
      copy = static_cast<uint8_t *>(
          ::operator new(size_t(size), std::align_val_t(kPlanMemoryAlignment)));
    } catch (const std::bad_alloc &) {
      ::close(fd);
      return Status(LLMC_ERROR_OUT_OF_MEMORY,
                    path + ": cannot read the plan into memory (" +
                        std::to_string(size) + " bytes)");
    }
    file->copy_ = copy;
    for (uint64_t at = 0; at < size;) {
      ssize_t n = ::pread(fd, copy + at,
                          size_t(std::min<uint64_t>(size - at, 1u << 30)),
                          off_t(at));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        ::close(fd);
        return Status(LLMC_ERROR_IO, path + ": cannot read: " +
                                         (n < 0 ? std::strerror(err)
                                                : "the file shrank"));
      }
      at += uint64_t(n);
    }
    ::close(fd);
    file->data_ = copy;
  } else {
    void *mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int mapErr = errno;
    ::close(fd);
    if (mapping == MAP_FAILED)
      return Status(LLMC_ERROR_IO,
                    path + ": cannot map: " + std::strerror(mapErr));
    file->data_ = static_cast<const uint8_t *>(mapping);
  }
  file->size_ = size;
  LLMC_RETURN_IF_ERROR(file->verify(verifyKey));
  out = std::move(file);
  return Status::success();
}

Status PlanFile::openMemory(const void *bytes, uint64_t size,
                            std::unique_ptr<PlanFile> &out,
                            const uint8_t *verifyKey, bool copy) {
  out.reset();
  std::unique_ptr<PlanFile> file(new PlanFile("plan in memory"));
  const std::string &name = file->path_;
  if (!bytes)
    return invalidArgument("llmc_plan_open_memory: data is NULL");
  if (size < kMinFileSize)
    return invalidPlan(name + ": truncated: " + std::to_string(size) +
                       " bytes, smaller than the " +
                       std::to_string(kMinFileSize) + "-byte plan header");
  if (copy) {
    uint8_t *data = nullptr;
    try {
      data = static_cast<uint8_t *>(
          ::operator new(size_t(size), std::align_val_t(kPlanMemoryAlignment)));
    } catch (const std::bad_alloc &) {
      return Status(LLMC_ERROR_OUT_OF_MEMORY,
                    name + ": cannot copy the plan (" + std::to_string(size) +
                        " bytes)");
    }
    std::memcpy(data, bytes, size_t(size));
    file->copy_ = data;
    file->data_ = data;
  } else {
    if (reinterpret_cast<uintptr_t>(bytes) % kPlanMemoryAlignment != 0)
      return invalidArgument(
          "llmc_plan_open_memory: data at " +
          std::to_string(reinterpret_cast<uintptr_t>(bytes)) +
          " is not aligned to " + std::to_string(kPlanMemoryAlignment) +
          " bytes (the weights are read in place; align the buffer, or set "
          "read_into_memory to copy it)");
    file->data_ = static_cast<const uint8_t *>(bytes);
    file->borrowed_ = true;
  }
  file->size_ = size;
  LLMC_RETURN_IF_ERROR(file->verify(verifyKey));
  out = std::move(file);
  return Status::success();
}

Status PlanFile::verify(const uint8_t *verifyKey) {
  const std::string &path = path_;
  uint64_t size = size_;
  const uint8_t *data = data_;

  // [0, 4): size prefix S; [4, 8): root offset; [8, 12): identifier.
  if (std::memcmp(data + 8, kFileIdentifier, 4) != 0)
    return invalidPlan(path + ": not an llmc plan (file identifier \"" +
                       quoteBytes(data + 8, 4) + "\", expected \"" +
                       kFileIdentifier + "\")");
  uint32_t sizePrefix = readU32(data);
  if (sizePrefix > kMaxFlatbufferSize)
    return invalidPlan(path + ": corrupted plan: header of " +
                       std::to_string(sizePrefix) +
                       " bytes exceeds the limit of " +
                       std::to_string(kMaxFlatbufferSize) + " bytes");
  uint64_t checksumOffset = headerChecksumOffset(sizePrefix);
  uint64_t headerEnd = checksumOffset + 8;
  if (headerEnd > size)
    return invalidPlan(path + ": truncated: file is " + std::to_string(size) +
                       " bytes, header says " + std::to_string(headerEnd));
  // A signature block at the end: the plan proper is what precedes it.
  if (size >= headerEnd + kSignatureBlockSize &&
      std::memcmp(data + size - kSignatureBlockSize, kSignatureMagic, 8) == 0) {
    const uint8_t *block = data + size - kSignatureBlockSize;
    if (std::memcmp(block + 8, kSignatureAlgorithm, 8) != 0)
      return invalidPlan(path + ": signature block of an unknown algorithm \"" +
                         quoteBytes(block + 8, 7) + "\"");
    for (uint64_t i = kSignatureReservedOffset; i < kSignatureBlockSize; ++i)
      if (block[i] != 0)
        return invalidPlan(path + ": corrupted signature block");
    size -= kSignatureBlockSize;
    signer_ = block + kSignatureKeyOffset;
  }
  if (verifyKey) {
    if (!signer_)
      return invalidPlan(path + ": not signed, and a verify key was given "
                                "(sign it with llmc sign)");
    if (!verifySignature(data, size, signer_ + kSignatureKeyBytes,
                         verifyKey))
      return invalidPlan(path + ": the signature does not verify with the "
                                "given key: the plan was changed after "
                                "signing, or signed with another key");
  }

  uint64_t stored = readU64(data + checksumOffset);
  uint64_t computed = checksum(data, 4 + uint64_t(sizePrefix));
  if (stored != computed)
    return invalidPlan(path + ": header checksum mismatch (stored " +
                       hex64(stored) + ", computed " + hex64(computed) +
                       "): the file is corrupted");

  if (Status s = checkVersion(data, 4 + size_t(sizePrefix), path); !s.ok())
    return s;

  flatbuffers::Verifier::Options options;
  options.max_depth = kVerifierMaxDepth;
  options.max_tables = kVerifierMaxTables;
  flatbuffers::Verifier verifier(data, 4 + size_t(sizePrefix), options);
  if (!llmc::plan::VerifySizePrefixedPlanBuffer(verifier))
    return invalidPlan(path + ": corrupted plan: the flatbuffer does not "
                              "verify against plan.fbs");
  plan_ = llmc::plan::GetSizePrefixedPlan(data);

  return verifyPlanContents(*plan_, data, size, headerEnd, path);
}

PlanFile::~PlanFile() {
  if (copy_)
    ::operator delete(copy_, std::align_val_t(kPlanMemoryAlignment));
  else if (data_ && !borrowed_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

const uint8_t *PlanFile::weightData(uint32_t index) const {
  const auto *weights = plan_->weights();
  if (!weights || index >= weights->size())
    return nullptr;
  return data_ + plan_->weights_offset() + weights->Get(index)->offset();
}

Status PlanFile::requireTarget(const char *target) const {
  std::string list;
  if (const auto *targets = plan_->targets()) {
    for (const auto *t : *targets) {
      if (t->string_view() == target)
        return Status::success();
      list += (list.empty() ? "" : ", ") + t->str();
    }
  }
  return Status(
      LLMC_ERROR_UNSUPPORTED,
      path_ + ": compiled for " +
          (list.empty() ? std::string("no targets") : "targets " + list) +
          ", not " + target + "; recompile with --target " + target);
}

} // namespace llmc::runtime
