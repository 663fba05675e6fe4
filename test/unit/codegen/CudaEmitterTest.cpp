//===- CudaEmitterTest.cpp - every op kind through codegen and NVRTC -----===//
//
// The examples' kernels are checked by lit (test/codegen/cuda); these
// tests cover the op kinds and variants no example family uses yet, in each
// activation dtype, through NVRTC for sm_80 and sm_90a (no GPU needed).
//
//===----------------------------------------------------------------------===//

#include "test/unit/codegen/PlanCodegen.h"
#include "runtime/schema/KernelABI.h"
#include "test/unit/codegen/AllOpsPlan.h"

#include <gtest/gtest.h>

#include <set>

namespace {

namespace cg = llmc::test::plan_codegen;
namespace P = llmc::plan;
using llmc::runtime::test::allOpsPlan;

cg::CudaProgram generate(const std::vector<uint8_t> &bytes) {
  auto program = cg::generateCuda(*P::GetSizePrefixedPlan(bytes.data()));
  if (!program) {
    ADD_FAILURE() << llvm::toString(program.takeError());
    return {};
  }
  return std::move(*program);
}

/// The first entry whose name starts with `prefix`, or null.
const cg::KernelSource *entry(const cg::CudaProgram &p,
                              const std::string &prefix) {
  for (const cg::KernelSource &k : p.entries)
    if (k.name.rfind(prefix, 0) == 0)
      return &k;
  return nullptr;
}

bool hasEntry(const cg::CudaProgram &p, const std::string &prefix) {
  return entry(p, prefix) != nullptr;
}

class EveryOpKind : public ::testing::TestWithParam<P::DType> {};

TEST_P(EveryOpKind, GeneratesEachKernelKind) {
  cg::CudaProgram p = generate(allOpsPlan(GetParam(), 32, 64).serialize());
  ASSERT_FALSE(p.entries.empty());
  const char *t = GetParam() == P::DType::F32    ? "f32"
                  : GetParam() == P::DType::F16 ? "f16"
                                                 : "bf16";
  std::string tt = std::string(t) + "_" + t + "_" + t;
  EXPECT_TRUE(hasEntry(p, "embedding_v80_h64_"));
  EXPECT_TRUE(hasEntry(p, "rms_norm_s64_g1_var2_")); // 1 + w
  // The per-head Q and K norms in one launch.
  EXPECT_TRUE(hasEntry(p, "rms_norm2_s16_g4_g2_var3_" + std::string(t) + "_none_"));
  EXPECT_FALSE(hasEntry(p, "rms_norm_s16_"));
  EXPECT_TRUE(hasEntry(p, "rms_norm_s64_g1_var0_"));
  EXPECT_TRUE(hasEntry(p, "add_rms_norm_s64_var1_"));
  // Q (biased), K and V projections of the same x: one GEMV launch.
  EXPECT_TRUE(hasEntry(p, "linear_gemv3_n64_n32_n32_k64_" + tt + "_bias100"));
  // RoPE of Q and K fused with layer 0's cache write; layer 1's stays.
  EXPECT_TRUE(hasEntry(p, "rope_kv_cache_write_hq4_hk2_d16_r8_interleaved_"));
  EXPECT_FALSE(hasEntry(p, "rope_h"));
  EXPECT_TRUE(hasEntry(p, "kv_cache_write_r32_"));
  EXPECT_TRUE(hasEntry(p, "attention_prefill_h4_kv2_d16_w0_c8_softcap_"));
  EXPECT_TRUE(hasEntry(p, "attention_prefill_h4_kv2_d16_w6_c0_"));
  EXPECT_TRUE(hasEntry(p, "attention_decode_split1_h4_kv2_d16_w0_c8_softcap_"));
  EXPECT_TRUE(hasEntry(p, "attention_decode_combine1_h4_d16_"));
  EXPECT_TRUE(hasEntry(p, "glu_s96_"));
  EXPECT_TRUE(hasEntry(p, "gated_linear_gemv_n96_k64_" + tt + "_act2"));
  EXPECT_TRUE(hasEntry(p, "add_s96_"));
  EXPECT_TRUE(hasEntry(p, "add_s64_"));
  EXPECT_TRUE(hasEntry(p, "softcap_s64_"));
  EXPECT_TRUE(hasEntry(p, "lm_head_gemv_n80_k64_"));
  // Tensor cores for 16-bit types (K = 64 and 96 are multiples of 32),
  // CUDA cores for fp32.
  bool mma = GetParam() != P::DType::F32;
  EXPECT_EQ(hasEntry(p, "linear_gemm_mma_n64_k96_" + tt), mma);
  EXPECT_EQ(hasEntry(p, "linear_gemm_simt_n64_k96_" + tt), !mma);
  EXPECT_EQ(hasEntry(p, "gated_linear_gemm_mma_n96_k64_" + tt + "_act2"), mma);
  if (GetParam() == P::DType::F16) {
    const cg::KernelSource *k = entry(p, "linear_gemm_mma_n64_k96_");
    ASSERT_NE(k, nullptr);
    EXPECT_NE(k->source.find("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"),
              std::string::npos);
  }
  // The GELU activations and the softcap constant reach the sources.
  const cg::KernelSource *glu = entry(p, "glu_s96_");
  ASSERT_NE(glu, nullptr);
  EXPECT_NE(glu->source.find("glu<96, 1, "), std::string::npos) << glu->source;
  const cg::KernelSource *cap = entry(p, "softcap_s64_");
  ASSERT_NE(cap, nullptr);
  EXPECT_NE(cap->source.find(", 0x1.4p+2f)"), std::string::npos); // 5.0
  // Decode attention needs scratch: T x heads x splits x (head_dim + 2).
  EXPECT_EQ(p.scratchBytes, uint64_t(32 * 4 * 1 * (16 + 2) * 4));
}

TEST_P(EveryOpKind, CompilesForSm80AndSm90aWithoutHotSpills) {
  cg::CudaProgram p = generate(allOpsPlan(GetParam(), 32, 1024).serialize());
  ASSERT_FALSE(p.entries.empty());
  std::vector<cg::Target> targets{cantFail(cg::parseTarget("sm_80")),
                                  cantFail(cg::parseTarget("sm_90a"))};
  auto compiled = cg::compileAll(p.entries, targets);
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  ASSERT_EQ(compiled->size(), p.entries.size() * 2);
  for (size_t i = 0; i < p.entries.size(); ++i)
    for (size_t j = 0; j < 2; ++j) {
      const cg::CompiledKernel &c = (*compiled)[i * 2 + j];
      EXPECT_FALSE(c.cubin.empty()) << p.entries[i].name;
      EXPECT_NE(c.ptx.find(".entry " + p.entries[i].name), std::string::npos)
          << p.entries[i].name;
      auto usage = c.usage.find(p.entries[i].name);
      ASSERT_NE(usage, c.usage.end()) << p.entries[i].name;
      if (p.hot[i]) {
        EXPECT_EQ(usage->second.spillStoreBytes, 0) << p.entries[i].name;
        EXPECT_EQ(usage->second.spillLoadBytes, 0) << p.entries[i].name;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(DTypes, EveryOpKind,
                         ::testing::Values(P::DType::F32, P::DType::F16,
                                           P::DType::BF16),
                         [](const auto &info) {
                           return std::string(P::EnumNameDType(info.param));
                         });

TEST(CudaEmitter, EntriesAreSharedAcrossLayersAndDistinctByConstants) {
  cg::CudaProgram p = generate(allOpsPlan(P::DType::BF16, 32, 64).serialize());
  std::set<std::string> names, sources;
  for (const cg::KernelSource &k : p.entries) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_TRUE(sources.insert(k.source).second) << k.name;
    ASSERT_EQ(k.entryPoints.size(), 1u);
    EXPECT_EQ(k.entryPoints[0], k.name);
  }
  // Every launch names an entry and says which steps it runs for.
  for (const auto *program : {&p.prefill, &p.decode})
    for (const cg::KernelLaunches &k : *program)
      for (const cg::LaunchSpec &l : k.launches) {
        EXPECT_LT(l.entry, p.entries.size());
        EXPECT_GE(l.minTokens, 1u);
        EXPECT_LE(l.block, 1024u);
      }
}

TEST(CudaEmitter, PreludeDeclaresTheRuntimesKvStruct) {
  cg::CudaProgram p = generate(allOpsPlan(P::DType::F32, 8, 64).serialize());
  ASSERT_FALSE(p.entries.empty());
  EXPECT_NE(p.entries[0].source.find(
                llmc::runtime::cuda::kKvArgDeclaration),
            std::string::npos);
}

TEST(CudaEmitter, SmallStepsGetNoGemm) {
  cg::CudaProgram p = generate(allOpsPlan(P::DType::BF16, 16, 64).serialize());
  EXPECT_FALSE(hasEntry(p, "linear_gemm_"));
  EXPECT_TRUE(hasEntry(p, "linear_gemv_"));
}

TEST(CudaEmitter, RopeAndCacheWriteFuseUnlessTheyWouldRace) {
  using namespace llmc::runtime::test;
  auto build = [](bool qOverV) {
    TestPlan t;
    t.maxTokens = 4;
    t.kvCaches = {{1, 8, P::DType::F32, 0}};
    P::Operand q = t.arena(16), k = t.arena(8), v = t.arena(8);
    P::Operand kr = t.arena(8);
    // Rotated queries over the values: run at once, the write would race
    // the cache write's read of them.
    P::Operand qr = qOverV ? P::Operand(P::OperandKind::Arena, P::DType::F32,
                                        0, v.offset(), 16)
                           : t.arena(16);
    std::vector<float> freq = ropeInvFreq(8, 10000.0);
    t.prefill = t.decode = {
        {ropeOp(2, 8, 8, P::RopeLayout::HalfSplit, 1.0, freq, q, qr),
         ropeOp(1, 8, 8, P::RopeLayout::HalfSplit, 1.0, freq, k, kr),
         kvCacheWriteOp(0, kr, v, t.cache(0))}};
    t.prefillLogits = t.decodeLogits = qr;
    t.vocab = 16;
    return t.serialize();
  };
  cg::CudaProgram fused = generate(build(false));
  ASSERT_EQ(fused.decode.size(), 1u);
  ASSERT_EQ(fused.decode[0].launches.size(), 1u);
  EXPECT_EQ(fused.entries[fused.decode[0].launches[0].entry].name.rfind(
                "rope_kv_cache_write_hq2_hk1_d8_r8_half_f32_f32_f32_f32_f32_f32_",
                0),
            0u);
  // 2 query heads and 1 key head of 4 pairs, then 8 values: 20 threads.
  EXPECT_EQ(fused.decode[0].launches[0].grid[0], 1u);

  cg::CudaProgram apart = generate(build(true));
  ASSERT_EQ(apart.decode.size(), 1u);
  ASSERT_EQ(apart.decode[0].launches.size(), 3u);
  EXPECT_TRUE(hasEntry(apart, "rope_h2_d8_r8_half_f32_f32_"));
  EXPECT_TRUE(hasEntry(apart, "rope_h1_d8_r8_half_f32_f32_"));
  EXPECT_TRUE(hasEntry(apart, "kv_cache_write_r8_f32_f32_f32"));
  EXPECT_FALSE(hasEntry(apart, "rope_kv_cache_write"));
  // Both forms compile.
  std::vector<cg::KernelSource> sources = fused.entries;
  llvm::append_range(sources, apart.entries);
  auto compiled = cg::compileAll(sources, {*cg::parseTarget("sm_80")});
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
}

TEST(CudaEmitter, LinearsOfOneInputShareAGemvUnlessTheyWouldRace) {
  using namespace llmc::runtime::test;
  auto build = [](bool overlapping, bool otherInput) {
    TestPlan t;
    t.maxTokens = 32; // GEMV up to 16 tokens, GEMMs above
    P::Operand x = t.arena(64), x2 = t.arena(64), y1 = t.arena(32);
    P::Operand w1 = t.weight("w1", {32, 64}, randomValues(32 * 64, 1));
    P::Operand w2 = t.weight("w2", {48, 64}, randomValues(48 * 64, 2));
    P::Operand b2 = t.weight("b2", {48}, randomValues(48, 3));
    // The second output over the first: run at once they would race.
    P::Operand y2 = overlapping ? P::Operand(P::OperandKind::Arena,
                                             P::DType::F32, 0, y1.offset(), 48)
                                : t.arena(48);
    t.setOps({linearOp(64, 32, x, w1, nullptr, y1),
              linearOp(64, 48, otherInput ? x2 : x, w2, &b2, y2)},
             y2);
    t.vocab = 48;
    return t.serialize();
  };
  cg::CudaProgram fused = generate(build(false, false));
  ASSERT_EQ(fused.prefill.size(), 1u);
  // One GEMV for T <= 16, then each GEMM for T > 16.
  const auto &launches = fused.prefill[0].launches;
  ASSERT_EQ(launches.size(), 3u);
  EXPECT_EQ(fused.entries[launches[0].entry].name,
            "linear_gemv2_n32_n48_k64_f32_f32_f32_bias010");
  EXPECT_EQ(launches[0].grid[0], 4u + 6u); // 8 rows per block
  EXPECT_EQ(launches[0].maxTokens, 16u);
  EXPECT_EQ(launches[1].minTokens, 17u);
  EXPECT_EQ(launches[2].minTokens, 17u);
  for (bool overlapping : {true, false}) {
    cg::CudaProgram apart = generate(build(overlapping, !overlapping));
    ASSERT_EQ(apart.prefill.size(), 1u);
    EXPECT_EQ(apart.prefill[0].launches.size(), 4u);
    EXPECT_FALSE(hasEntry(apart, "linear_gemv2"));
  }
  auto compiled = cg::compileAll(fused.entries, {*cg::parseTarget("sm_80")});
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
}

TEST(CudaEmitter, QAndKNormsShareALaunchUnlessTheyWouldRace) {
  using namespace llmc::runtime::test;
  auto build = [](bool overlapping) {
    TestPlan t;
    t.maxTokens = 4;
    P::Operand q = t.arena(32), k = t.arena(16), qn = t.arena(32);
    P::Operand wq = t.weight("wq", {8}, randomValues(8, 1));
    P::Operand wk = t.weight("wk", {8}, randomValues(8, 2));
    // K's output over Q's input: run at once they would race.
    P::Operand kn = overlapping ? P::Operand(P::OperandKind::Arena,
                                             P::DType::F32, 0, q.offset(), 16)
                                : t.arena(16);
    auto variant = P::RMSNormVariant::CastBeforeWeight;
    t.setOps({rmsNormOp(8, variant, 1e-6, q, &wq, qn),
              rmsNormOp(8, variant, 1e-6, k, &wk, kn)},
             qn);
    t.vocab = 32;
    return t.serialize();
  };
  cg::CudaProgram paired = generate(build(false));
  ASSERT_EQ(paired.prefill.size(), 1u);
  const auto &launches = paired.prefill[0].launches;
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(paired.entries[launches[0].entry].name,
            "rms_norm2_s8_g4_g2_var0_f32_f32_f32");
  EXPECT_EQ(launches[0].grid[0], 6u); // 4 + 2 groups per token
  EXPECT_EQ(launches[0].tokensPerBlock, 1u);
  cg::CudaProgram apart = generate(build(true));
  EXPECT_EQ(apart.prefill[0].launches.size(), 2u);
  EXPECT_FALSE(hasEntry(apart, "rms_norm2"));
  auto compiled = cg::compileAll(paired.entries, {*cg::parseTarget("sm_80")});
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
}

TEST(CudaEmitter, RejectsAHeadTooLargeForTheAttentionTiles) {
  using namespace llmc::runtime::test;
  TestPlan t;
  t.maxTokens = 4;
  t.kvCaches = {{1, 1024, P::DType::F32, 0}};
  P::Operand q = t.arena(1024), y = t.arena(1024);
  AttentionParams ap;
  ap.heads = 1;
  ap.kvHeads = 1;
  ap.headDim = 1024;
  t.setOps({attentionOp(ap, q, t.cache(0), y)}, y);
  std::vector<uint8_t> bytes = t.serialize();
  auto program = cg::generateCuda(*P::GetSizePrefixedPlan(bytes.data()));
  ASSERT_FALSE(bool(program));
  std::string message = llvm::toString(program.takeError());
  EXPECT_NE(message.find("head_dim 1024 too large"), std::string::npos)
      << message;
  EXPECT_NE(message.find("attention"), std::string::npos) << message;
}

} // namespace
