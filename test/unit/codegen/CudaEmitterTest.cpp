//===- CudaEmitterTest.cpp - every op kind through codegen and NVRTC -----===//
//
// The examples' kernels are checked by lit (test/codegen/cuda); these
// tests take test/codegen/all-ops.mlir (the op kinds and variants no
// example family uses yet) through the real pipeline in each activation
// dtype, print it, and compile it with NVRTC for sm_80 and sm_90a (no GPU
// needed). The fusions' refusals are lit tests
// (test/passes/kernel-select-races.mlir); here their unfused kernels compile.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaEmitter.h"
#include "dialects/kernel/IR/KernelOps.h"
#include "passes/Passes.h"
#include "runtime/schema/KernelABI.h"
#include "test/support/TestModule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <set>

namespace {

namespace cg = llmc::codegen::cuda;

struct Generated {
  llmc::test::TestModule lowered;
  cg::CudaProgram program;
};

/// all-ops.mlir in `type` for steps of up to `maxTokens`, printed.
Generated generate(const std::string &type, int64_t maxTokens,
                   int64_t maxSeqLen) {
  Generated g;
  auto lowered = llmc::test::lowerTestModule(llmc::test::allOpsSource(type),
                                             maxTokens, maxSeqLen);
  if (!lowered) {
    ADD_FAILURE() << llvm::toString(lowered.takeError());
    return g;
  }
  g.lowered = std::move(*lowered);
  auto program = cg::generateCuda(*g.lowered.module);
  if (!program) {
    ADD_FAILURE() << llvm::toString(program.takeError());
    return g;
  }
  g.program = std::move(*program);
  return g;
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

class EveryOpKind : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryOpKind, GeneratesEachKernelKind) {
  const std::string t = GetParam();
  Generated g = generate(t, 32, 64);
  const cg::CudaProgram &p = g.program;
  ASSERT_FALSE(p.entries.empty());
  std::string tt = std::string(t) + "_" + t + "_" + t;
  EXPECT_TRUE(hasEntry(p, "embedding_v80_h64_"));
  EXPECT_TRUE(hasEntry(p, "rms_norm_s64_g1_var2_")); // 1 + w
  // The per-head Q and K norms in one launch.
  EXPECT_TRUE(hasEntry(p, "rms_norm2_s16_g4_g2_var3_" + t + "_none_"));
  EXPECT_FALSE(hasEntry(p, "rms_norm_s16_"));
  EXPECT_TRUE(hasEntry(p, "rms_norm_s64_g1_var0_"));
  EXPECT_TRUE(hasEntry(p, "add_rms_norm_s64_var1_"));
  // Q (biased), K and V projections of the same x: one GEMV launch.
  EXPECT_TRUE(hasEntry(p, "linear_gemv3_n64_n32_n32_k64_" + tt + "_bias100"));
  // RoPE of Q and K fused with layer 0's cache write; layer 1's stays.
  EXPECT_TRUE(hasEntry(p, "rope_kv_cache_write_hq4_hk2_d16_r8_interleaved_"));
  EXPECT_FALSE(hasEntry(p, "rope_h4_d16_"));
  EXPECT_FALSE(hasEntry(p, "rope_h2_d16_"));
  // MLA: RoPE of the queries' trailing 8 of 24 in fp32, the latent write,
  // the absorbed query, split-KV latent attention (f32: 16 warps of 2 heads
  // per block; 16-bit caches: tensor cores, the 32 heads as two 16-row MMA
  // groups of a block, 64 latent rows a tile) and the value up-projection.
  EXPECT_TRUE(hasEntry(p, "rope_h32_d24_r8_o16_interleaved_fp32_"));
  EXPECT_TRUE(hasEntry(p, "latent_cache_write_l32_r8_interleaved_fp32_"));
  EXPECT_TRUE(hasEntry(p, "mla_absorb_query_h32_n16_r8_v12_l32_" + t + "_" + t +
                              "_f32"));
  EXPECT_TRUE(hasEntry(p, t == "f32" ? "latent_attn_split1_h32_l32_r8_g32_"
                                      : "latent_attn_mma1_h32_l32_r8_g32_k64_"));
  EXPECT_TRUE(hasEntry(p, "attention_decode_combine1_h32_d32_f32"));
  EXPECT_TRUE(hasEntry(p, "mla_absorb_output_h32_l32_n16_v12_f32_" + t + "_" +
                              t));
  EXPECT_TRUE(hasEntry(p, "kv_cache_write_r32_"));
  // Prefill attention: on tensor cores for 16-bit types, on CUDA cores
  // for f32.
  const std::string prefill =
      t == "f32" ? "attention_prefill_" : "attention_prefill_mma_";
  EXPECT_TRUE(hasEntry(p, prefill + "h4_kv2_d16_w0_c8_softcap_"));
  EXPECT_TRUE(hasEntry(p, prefill + "h4_kv2_d16_w6_c0_sinks"));
  EXPECT_TRUE(hasEntry(p, "attention_decode_split1_g2_h4_kv2_d16_w0_c8_softcap_"));
  EXPECT_TRUE(hasEntry(p, "attention_decode_combine1_h4_d16_"));
  EXPECT_TRUE(hasEntry(p, "glu_s96_"));
  EXPECT_TRUE(hasEntry(p, "gated_linear_gemv_n96_k64_" + tt + "_act2"));
  EXPECT_TRUE(hasEntry(p, "add_s96_"));
  EXPECT_TRUE(hasEntry(p, "add_s64_"));
  EXPECT_TRUE(hasEntry(p, "softcap_s64_"));
  EXPECT_TRUE(hasEntry(p, "lm_head_gemv_n80_k64_"));
  // Quantized weights: FP8 blocks, and int4 groups with f16 and bf16
  // scales, whose pointers have the scales' type.
  EXPECT_TRUE(hasEntry(p, "linear_gemv_e4m3_n80_k64_b32x32_" + t));
  EXPECT_TRUE(hasEntry(p, "linear_gemv_i4_n64_k80_g32_sf16_" + t));
  const cg::KernelSource *i4 = entry(p, "linear_gemv_i4_n64_k64_g64_sbf16_zp_");
  ASSERT_NE(i4, nullptr);
  EXPECT_NE(i4->source.find("const bf16 *__restrict__"), std::string::npos);
  EXPECT_NE(i4->source.find("const signed char *__restrict__"),
            std::string::npos);
  EXPECT_NE(i4->source.find("const unsigned char *__restrict__"),
            std::string::npos);
  EXPECT_TRUE(hasEntry(p, "linear_gemv_i8_n40_k64_g64_sf32_" + t));
  EXPECT_TRUE(hasEntry(p, "linear_gemv_i8_n64_k40_g16_sf16_" + t));
  // Tensor cores for 16-bit types (K = 64 and 96 are multiples of 32),
  // CUDA cores for fp32.
  bool mma = t != "f32";
  EXPECT_EQ(hasEntry(p, "linear_gemm_mma_n64_k96_" + tt), mma);
  EXPECT_EQ(hasEntry(p, "linear_gemm_simt_n64_k96_" + tt), !mma);
  EXPECT_EQ(hasEntry(p, "gated_linear_gemm_mma_n96_k64_" + tt + "_act2"), mma);
  if (t == "f16") {
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
  // Scratch is the largest any op needs: decode attention T x heads x
  // splits x (head_dim + 2) floats; the expanded MLA op run as absorbed
  // kernels: T x heads x (latent + rope) queries, T x heads x splits x
  // (latent + 2) partials and T x heads x latent outputs, floats; or the
  // first MoE block's T x k x
  // moe_intermediate activations between its gate/up and down launches,
  // for 16-bit types followed (256-byte aligned) by the grouped path's
  // T x k x hidden down outputs, 9 segment and 9 tile starts and the T x k
  // permutation.
  auto decode = g.lowered.module->lookupSymbol<mlir::func::FuncOp>("decode");
  ASSERT_TRUE(decode);
  auto scratch = decode->getAttrOfType<mlir::IntegerAttr>(
      llmc::kernel::kScratchBytesAttrName);
  ASSERT_TRUE(scratch);
  const int64_t elem = t == "f32" ? 4 : 2;
  const int64_t moeScratch =
      mma ? 32 * 3 * 32 * elem + 32 * 3 * 64 * elem + 256 + 256 + 32 * 3 * 4
          : 32 * 3 * 32 * elem;
  const int64_t mlaScratch =
      32 * 32 * 40 * 4 + 32 * 32 * 1 * (32 + 2) * 4 + 32 * 32 * 32 * 4;
  EXPECT_EQ(scratch.getInt(),
            std::max({int64_t(32 * 4 * 1 * (16 + 2) * 4), moeScratch,
                      mlaScratch}));
  EXPECT_TRUE(hasEntry(p, "moe_router_e8_h64_k3_sigmoid_" + t + "_" + t));
  EXPECT_TRUE(hasEntry(p, "moe_gate_up_e6_h64_i42_k2_" + t + "_" + t));
  EXPECT_TRUE(hasEntry(p, "moe_down_e6_h64_i42_k2_" + t + "_" + t));
  // Prefill of 16-bit types: the grouped tensor-core path where hidden and
  // moe_intermediate are multiples of 32 (the first block), the per-pair
  // kernels for every T otherwise (the second, I = 42).
  EXPECT_EQ(hasEntry(p, "moe_sort_e8_k3"), mma);
  EXPECT_EQ(hasEntry(p, "moe_gate_up_grouped_e8_h64_i32_k3_" + t), mma);
  EXPECT_EQ(hasEntry(p, "moe_down_grouped_e8_h64_i32_k3_" + t), mma);
  EXPECT_EQ(hasEntry(p, "moe_combine_h64_k3_" + t), mma);
  EXPECT_FALSE(hasEntry(p, "moe_gate_up_grouped_e6_h64_i42"));
  // A shared expert summed with routed ones runs in their decode launches
  // (scaled inputs and no gate; a sigmoid gate with a scalar IS = 36 for
  // 16-bit types), and as its own ops for more tokens.
  EXPECT_TRUE(hasEntry(p, "moe_gate_up_shared_e8_h64_i32_k3_s48_" + t +
                              "_act0_sact0_pairs"));
  EXPECT_TRUE(hasEntry(p, "moe_down_shared_e8_h64_i32_k3_s48_" + t + "_wf32"));
  EXPECT_TRUE(hasEntry(p, "moe_gate_up_shared_e6_h64_i32_k2_s36_" + t +
                              "_act0_sact1"));
  EXPECT_TRUE(hasEntry(p, "moe_down_shared_e6_h64_i32_k2_s36_" + t + "_w" +
                              t + (t == "f32" ? "" : "_sscalar") + "_sgate" +
                              t));
  EXPECT_TRUE(hasEntry(p, "sigmoid_gate_h64_n64_"));
}

TEST_P(EveryOpKind, CompilesForSm80AndSm90aWithoutHotSpills) {
  Generated g = generate(GetParam(), 32, 1024);
  const cg::CudaProgram &p = g.program;
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
                         ::testing::Values("f32", "f16", "bf16"),
                         [](const auto &info) { return info.param; });

TEST(CudaEmitter, EntriesAreSharedAcrossLayersAndDistinctByConstants) {
  Generated g = generate("bf16", 32, 64);
  const cg::CudaProgram &p = g.program;
  std::set<std::string> names, sources;
  for (const cg::KernelSource &k : p.entries) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_TRUE(sources.insert(k.source).second) << k.name;
    ASSERT_EQ(k.entryPoints.size(), 1u);
    EXPECT_EQ(k.entryPoints[0], k.name);
  }
  // Every call names a printed entry and says which steps it runs for.
  size_t calls = 0;
  g.lowered.module->walk([&](llmc::kernel::CallOp call) {
    ++calls;
    EXPECT_TRUE(names.count(call.getEntry().str())) << call.getEntry().str();
    EXPECT_GE(call.getMinTokens(), 1);
    EXPECT_LE(call.getBlock(), 1024);
  });
  EXPECT_GT(calls, p.entries.size()); // layers and steps share entries
}

TEST(CudaEmitter, PreludeDeclaresTheRuntimesKvStruct) {
  Generated g = generate("f32", 8, 64);
  const cg::CudaProgram &p = g.program;
  ASSERT_FALSE(p.entries.empty());
  EXPECT_NE(p.entries[0].source.find(
                llmc::runtime::cuda::kKvArgDeclaration),
            std::string::npos);
}

TEST(CudaEmitter, SmallStepsGetNoGemm) {
  Generated g = generate("bf16", 16, 64);
  const cg::CudaProgram &p = g.program;
  EXPECT_FALSE(hasEntry(p, "linear_gemm_"));
  EXPECT_TRUE(hasEntry(p, "linear_gemv_"));
}

TEST(CudaEmitter, TheFusionsRefusedFormsCompile) {
  // kernel-select-races.mlir: memory planned by hand so that each fusion
  // would race; its functions get the separate kernels, which must compile.
  auto file = llvm::MemoryBuffer::getFile(LLMC_TEST_RACES_MLIR);
  ASSERT_TRUE(bool(file)) << LLMC_TEST_RACES_MLIR;
  auto parsed = llmc::test::parseTestModule((*file)->getBuffer().str());
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  llmc::test::TestModule m = std::move(*parsed);
  mlir::PassManager pm(m.context.get());
  llmc::KernelSelectPassOptions options;
  options.maxSeqLen = 512;
  pm.addPass(llmc::createKernelSelectPass(options));
  ASSERT_TRUE(mlir::succeeded(pm.run(*m.module)));
  auto program = cg::generateCuda(*m.module);
  ASSERT_TRUE(bool(program)) << llvm::toString(program.takeError());
  for (const char *unfused :
       {"linear_gemv_n64_k64_", "rms_norm_s16_g4_var3_", "rope_h2_d8_r8_half_",
        "rope_h1_d8_r8_half_", "kv_cache_write_r8_", "linear_gemv_n48_k64_",
        "rope_kv_cache_write_hq2_hk1_d8_r8_half_"})
    EXPECT_TRUE(hasEntry(*program, unfused)) << unfused;
  auto compiled = cg::compileAll(program->entries, {*cg::parseTarget("sm_80")});
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
}

} // namespace
