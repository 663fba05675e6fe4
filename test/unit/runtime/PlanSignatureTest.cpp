//===- PlanSignatureTest.cpp - llmc_plan_open_ex with a verify key --------===//
//
// A plan signed here with libsodium (the block of PlanFormat.h, as llmc sign
// writes it) opens with the signer's public key and reports its signer; it
// is refused with another key, after any byte changes, or unsigned; and a
// malformed signature block is refused even without a key.
//
//===----------------------------------------------------------------------===//

#include "ApiHelpers.h"
#include "TestPlan.h"

#include "runtime/schema/PlanFormat.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>

namespace llmc::runtime::test {
namespace {

struct Keys {
  uint8_t pub[crypto_sign_PUBLICKEYBYTES];
  uint8_t secret[crypto_sign_SECRETKEYBYTES];
  Keys() { crypto_sign_keypair(pub, secret); }
};

std::vector<uint8_t> sign(std::vector<uint8_t> bytes, const Keys &k) {
  crypto_sign_state state;
  crypto_sign_init(&state);
  crypto_sign_update(&state, bytes.data(), bytes.size());
  uint8_t block[kSignatureBlockSize] = {};
  std::memcpy(block, kSignatureMagic, 8);
  std::memcpy(block + 8, kSignatureAlgorithm, 8);
  std::memcpy(block + kSignatureKeyOffset, k.pub, kSignatureKeyBytes);
  crypto_sign_final_create(&state, block + kSignatureOffset, nullptr,
                           k.secret);
  bytes.insert(bytes.end(), block, block + sizeof block);
  return bytes;
}

class PlanSignatureTest : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
  llmc_status open(const std::vector<uint8_t> &bytes, const uint8_t *key,
                   PlanPtr *out = nullptr) {
    writeFile(path_, bytes);
    llmc_plan_open_options options = llmc_plan_open_options_default();
    options.verify_key = key;
    llmc_plan *plan = nullptr;
    llmc_status s = llmc_plan_open_ex(path_.c_str(), &options, &plan);
    if (out)
      out->reset(plan);
    else
      llmc_plan_close(plan);
    return s;
  }
  TempDir dir_;
  std::string path_ = dir_.file("signed.plan");
};

TEST_F(PlanSignatureTest, OpensWithTheSignersKeyOnly) {
  Keys alice, mallory;
  std::vector<uint8_t> plain = tinyLlama(4).serialize();
  std::vector<uint8_t> signedPlan = sign(plain, alice);
  PlanPtr plan;
  ASSERT_EQ(open(signedPlan, alice.pub, &plan), LLMC_OK) << llmc_last_error();
  int32_t isSigned = 0;
  uint8_t signer[32];
  ASSERT_EQ(llmc_plan_get_signer(plan.get(), &isSigned, signer), LLMC_OK);
  EXPECT_EQ(isSigned, 1);
  EXPECT_EQ(std::memcmp(signer, alice.pub, 32), 0);
  // Without a key the signature is not checked, but the plan opens.
  EXPECT_EQ(open(signedPlan, nullptr), LLMC_OK) << llmc_last_error();

  EXPECT_EQ(open(signedPlan, mallory.pub), LLMC_ERROR_INVALID_PLAN);
  EXPECT_NE(std::string(llmc_last_error()).find("does not verify"),
            std::string::npos);
  for (size_t at : {size_t(20), plain.size() / 2, plain.size() - 1}) {
    std::vector<uint8_t> changed = signedPlan;
    changed[at] ^= 0x04;
    EXPECT_EQ(open(changed, alice.pub), LLMC_ERROR_INVALID_PLAN) << at;
    EXPECT_NE(std::string(llmc_last_error()).find("does not verify"),
              std::string::npos)
        << at;
  }
  EXPECT_EQ(open(plain, alice.pub), LLMC_ERROR_INVALID_PLAN);
  EXPECT_NE(std::string(llmc_last_error()).find("not signed"),
            std::string::npos);
  PlanPtr unsignedPlan;
  ASSERT_EQ(open(plain, nullptr, &unsignedPlan), LLMC_OK);
  ASSERT_EQ(llmc_plan_get_signer(unsignedPlan.get(), &isSigned, nullptr),
            LLMC_OK);
  EXPECT_EQ(isSigned, 0);
}

TEST_F(PlanSignatureTest, MalformedBlocksAreRefusedWithoutAKey) {
  Keys alice;
  std::vector<uint8_t> signedPlan = sign(tinyLlama(4).serialize(), alice);
  std::vector<uint8_t> algorithm = signedPlan;
  algorithm[algorithm.size() - kSignatureBlockSize + 8] = 'x';
  EXPECT_EQ(open(algorithm, nullptr), LLMC_ERROR_INVALID_PLAN);
  EXPECT_NE(std::string(llmc_last_error()).find("unknown algorithm"),
            std::string::npos);
  std::vector<uint8_t> reserved = signedPlan;
  reserved.back() = 1;
  EXPECT_EQ(open(reserved, nullptr), LLMC_ERROR_INVALID_PLAN);
  EXPECT_NE(std::string(llmc_last_error()).find("corrupted signature block"),
            std::string::npos);
}

} // namespace
} // namespace llmc::runtime::test
