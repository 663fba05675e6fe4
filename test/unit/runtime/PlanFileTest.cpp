//===- PlanFileTest.cpp - opening good, damaged and inconsistent plans ----===//
//
// Every rejection returns the right status and one message naming the file
// and the problem; no damaged file crashes the loader or, when it still
// verifies, the interpreter.
//
//===----------------------------------------------------------------------===//

#include "ApiHelpers.h"
#include "TestPlan.h"

#include "runtime/src/PlanFile.h"

#include <gtest/gtest.h>

#include <functional>

#include <cstring>

// Under AddressSanitizer, let impossible allocations from damaged plans throw
// std::bad_alloc (as they do without it) instead of aborting.
extern "C" const char *__asan_default_options() {
  return "allocator_may_return_null=1";
}

namespace llmc::runtime::test {
namespace {

class PlanFileTest : public ::testing::Test {
protected:
  /// Writes `bytes` and opens them; returns the status, `message` gets
  /// llmc_last_error().
  llmc_status openBytes(const std::vector<uint8_t> &bytes,
                        std::string *message = nullptr) {
    writeFile(path_, bytes);
    llmc_status status;
    PlanPtr plan = openPlan(path_, &status);
    EXPECT_EQ(status == LLMC_OK, plan != nullptr);
    if (message)
      *message = status == LLMC_OK ? "" : llmc_last_error();
    return status;
  }
  /// Expects `status` with a message that contains the path and `fragment`.
  void expectRejected(const std::vector<uint8_t> &bytes, llmc_status status,
                      const std::string &fragment) {
    std::string message;
    EXPECT_EQ(openBytes(bytes, &message), status) << message;
    EXPECT_EQ(message.rfind(path_ + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }

  TempDir dir_;
  std::string path_ = dir_.file("model.plan");
};

uint64_t headerEnd(const std::vector<uint8_t> &bytes) {
  uint32_t size;
  std::memcpy(&size, bytes.data(), 4);
  return headerChecksumOffset(size) + 8;
}

TEST_F(PlanFileTest, OpensAValidPlan) {
  std::vector<uint8_t> bytes = tinyLlama(4).serialize();
  std::unique_ptr<PlanFile> file;
  writeFile(path_, bytes);
  Status s = PlanFile::open(path_, file);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(file->fileSize(), bytes.size());
  EXPECT_EQ(file->path(), path_);
  EXPECT_EQ(file->plan()->weights_offset() % 4096, 0u);
  EXPECT_EQ(file->plan()->model()->vocab_size(), 16);
  // weightData points at the tensor's bytes in the file.
  const auto *w = file->plan()->weights()->Get(0);
  EXPECT_EQ(file->weightData(0),
            file->data() + file->plan()->weights_offset() + w->offset());
  EXPECT_EQ(file->weightData(1000), nullptr);
  EXPECT_TRUE(file->requireTarget("cpu").ok());
  Status other = file->requireTarget("sm_90a");
  EXPECT_EQ(other.code(), LLMC_ERROR_UNSUPPORTED);
  EXPECT_EQ(other.message(), path_ + ": compiled for targets cpu, not sm_90a; "
                                     "recompile with --target sm_90a");
}

TEST_F(PlanFileTest, MissingFileIsAnIOError) {
  llmc_status status;
  PlanPtr plan = openPlan(dir_.file("absent.plan"), &status);
  EXPECT_EQ(status, LLMC_ERROR_IO);
  EXPECT_NE(std::string(llmc_last_error()).find("absent.plan: cannot open"),
            std::string::npos)
      << llmc_last_error();
}

TEST_F(PlanFileTest, TruncationIsReported) {
  std::vector<uint8_t> bytes = tinyLlama(4).serialize();
  uint64_t header = headerEnd(bytes);
  uint64_t weights = (header + 4095) / 4096 * 4096;
  for (uint64_t size :
       {uint64_t(0), uint64_t(7), uint64_t(12), header / 2, header - 1,
        weights + 100, uint64_t(bytes.size() - 1)}) {
    SCOPED_TRACE("truncated to " + std::to_string(size));
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + ptrdiff_t(size));
    expectRejected(cut, LLMC_ERROR_INVALID_PLAN,
                   "truncated: file is " + std::to_string(size) + " bytes");
  }
}

TEST_F(PlanFileTest, FlippedHeaderByteFailsTheChecksum) {
  std::vector<uint8_t> bytes = tinyLlama(4).serialize();
  bytes[40] ^= 0x10;
  expectRejected(bytes, LLMC_ERROR_INVALID_PLAN, "header checksum mismatch");
}

TEST_F(PlanFileTest, FlippedWeightByteNamesTheWeight) {
  std::vector<uint8_t> bytes = tinyLlama(4).serialize();
  const P::Plan *plan = P::GetSizePrefixedPlan(bytes.data());
  uint32_t index = 9;
  const P::Weight *w = plan->weights()->Get(index);
  ASSERT_EQ(w->name()->str(), "model.layers.0.mlp.up_proj.weight");
  bytes[plan->weights_offset() + w->offset() + 5] ^= 0x01;
  expectRejected(bytes, LLMC_ERROR_INVALID_PLAN,
                 "weight 9 \"model.layers.0.mlp.up_proj.weight\": checksum "
                 "mismatch");
}

// Every byte is covered: a checksum, or the rule that padding is zero; and
// the file ends with its weight section.
TEST_F(PlanFileTest, EveryByteOutsideTheChecksumsMustBeZeroPadding) {
  std::vector<uint8_t> good = tinyLlama(4).serialize();
  const P::Plan *plan = P::GetSizePrefixedPlan(good.data());
  uint32_t prefix;
  std::memcpy(&prefix, good.data(), 4);
  const uint64_t end = headerEnd(good), base = plan->weights_offset();
  // A gap between two weights (weights are 256-byte aligned).
  uint64_t gap = 0;
  for (const P::Weight *w : *plan->weights())
    if (w->size() % 256 != 0) {
      gap = base + w->offset() + w->size();
      break;
    }
  ASSERT_NE(gap, 0u);
  struct Case {
    uint64_t at;
    const char *where;
  } cases[] = {
      {4 + uint64_t(prefix), "padding before the header checksum"},
      {end, "padding before the weight section"},
      {base - 1, "padding before the weight section"},
      {gap, "padding between weights"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.where);
    if (c.at == 4 + uint64_t(prefix) && c.at >= end - 8)
      continue; // this flatbuffer needs no padding before its checksum
    std::vector<uint8_t> bytes = good;
    bytes[c.at] = 0x5a;
    expectRejected(bytes, LLMC_ERROR_INVALID_PLAN,
                   "byte " + std::to_string(c.at) + " (" + c.where +
                       ") is not zero");
  }
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  expectRejected(trailing, LLMC_ERROR_INVALID_PLAN,
                 "1 bytes of trailing data after the weight section");
}

TEST_F(PlanFileTest, WrongIdentifier) {
  std::vector<uint8_t> bytes = tinyLlama(4).serialize();
  std::memcpy(&bytes[8], "GGUF", 4);
  expectRejected(bytes, LLMC_ERROR_INVALID_PLAN,
                 "not an llmc plan (file identifier \"GGUF\", expected "
                 "\"LLMP\")");
  bytes[8] = 0;
  expectRejected(bytes, LLMC_ERROR_INVALID_PLAN, "\"\\x00GUF\"");
}

TEST_F(PlanFileTest, NewerMajorVersionAsksForAnUpgrade) {
  TestPlan t = tinyLlama(4);
  t.major = 2;
  t.minor = 3;
  expectRejected(t.serialize(), LLMC_ERROR_UNSUPPORTED,
                 "plan format 2.3 is newer than this runtime's 1." +
                     std::to_string(kFormatMinor) + "; upgrade llmc");
  t.major = 0;
  expectRejected(t.serialize(), LLMC_ERROR_UNSUPPORTED, "is older");
  // A newer minor version may carry fields this runtime would ignore.
  t.major = 1;
  t.minor = kFormatMinor + 1;
  expectRejected(t.serialize(), LLMC_ERROR_UNSUPPORTED,
                 "plan format 1." + std::to_string(kFormatMinor + 1) +
                     " is newer than this runtime's 1." +
                     std::to_string(kFormatMinor) + "; upgrade llmc");
  // Older minor versions are read.
  t.minor = 0;
  EXPECT_EQ(openBytes(t.serialize()), LLMC_OK) << llmc_last_error();
}

TEST_F(PlanFileTest, ArenaOperandOutOfRange) {
  TestPlan t = tinyLlama(4);
  t.arenaBytes -= 4; // the last region (the logits) no longer fits
  expectRejected(t.serialize(), LLMC_ERROR_INVALID_PLAN,
                 "exceeds the arena of");
}

TEST_F(PlanFileTest, WeightIndexOutOfRange) {
  TestPlan t = tinyLlama(4);
  t.prefill[0][0].inputs[1] =
      P::Operand(P::OperandKind::Weight, P::DType::F32, 99, 0, 0);
  expectRejected(t.serialize(), LLMC_ERROR_INVALID_PLAN,
                 "prefill kernel 0 op 0 (Embedding \"model.embed_tokens\"): "
                 "table: weight index 99 is out of range (the plan has 13 "
                 "weights)");
}

TEST_F(PlanFileTest, WeightShapeMismatch) {
  TestPlan t = tinyLlama(4);
  // q_proj [8, 8] stored as [4, 16]: same size, wrong shape.
  t.weights[2].shape = {4, 16};
  expectRejected(t.serialize(), LLMC_ERROR_INVALID_PLAN,
                 "weight 2 \"model.layers.0.self_attn.q_proj.weight\" has "
                 "shape [4, 16], expected [8, 8]");
}

/// Replaces tinyLlama's attention (prefill kernel 1, op 0) by one with
/// `window` and `chunk`, on the same operands.
/// Replaces the first layer's attention; `sinkCount` > 0 adds a sinks
/// weight of that many values.
OpSpec &setAttention(TestPlan &t, int64_t window, int64_t chunk,
                     int64_t sinkCount = 0) {
  OpSpec &op = t.prefill[1][0];
  AttentionParams p;
  p.heads = TinyLlama::kHeads;
  p.kvHeads = TinyLlama::kKVHeads;
  p.headDim = TinyLlama::kHeadDim;
  p.window = window;
  p.chunk = chunk;
  P::Operand sinks;
  if (sinkCount > 0)
    sinks = t.weight("sinks", {sinkCount},
                     std::vector<float>(size_t(sinkCount), 0.5f));
  op = attentionOp(p, op.inputs[0], op.inputs[1], op.outputs[0],
                   sinkCount > 0 ? &sinks : nullptr);
  return op;
}

TEST_F(PlanFileTest, InconsistentPlansAreRejected) {
  struct Case {
    const char *name;
    std::function<void(TestPlan &)> damage;
    const char *fragment;
  };
  std::vector<Case> cases = {
      {"linear output row",
       [](TestPlan &t) { t.prefill[0][2].outputs[0] = t.arena(7); },
       "output has 7 elements per token, expected 8"},
      {"rope inv_freq",
       [](TestPlan &t) {
         t.prefill[0][5] =
             ropeOp(2, 4, 4, P::RopeLayout::HalfSplit, 1.0, {1.0f},
                    t.prefill[0][5].inputs[0], t.prefill[0][5].outputs[0]);
       },
       "inv_freq has 1 entries, expected rotary_dim / 2 = 2"},
      {"rope odd rotary_dim",
       [](TestPlan &t) {
         t.prefill[0][5] =
             ropeOp(2, 4, 3, P::RopeLayout::HalfSplit, 1.0, {1.0f},
                    t.prefill[0][5].inputs[0], t.prefill[0][5].outputs[0]);
       },
       "rotary_dim 3 is not even"},
      {"kv cache count", [](TestPlan &t) { t.kvCaches.clear(); },
       "0 KV cache layouts for 1 layers"},
      {"attention heads", [](TestPlan &t) { t.kvCaches[0].kvHeads = 2; },
       "key has 4 elements per token, expected 8"},
      {"input kind",
       [](TestPlan &t) { t.prefill[1][0].inputs[2] = TestPlan::input(0); },
       "slots is step input 0, expected 2"},
      {"operand count", [](TestPlan &t) { t.decode[1][1].inputs.pop_back(); },
       "decode kernel 1 op 1 (Linear"},
      {"missing params", [](TestPlan &t) { t.prefill[0][1].params = nullptr; },
       "has no params"},
      {"logits row", [](TestPlan &t) { t.prefillLogits = t.arena(15); },
       "prefill program: logits has 15 elements per token, expected 16"},
      {"weight alignment", [](TestPlan &t) { t.weightAlignment = 128; },
       "weight_alignment 128"},
      {"max_tokens", [](TestPlan &t) { t.maxTokens = 0; },
       "memory.max_tokens 0"},
      {"max_seq_len", [](TestPlan &t) { t.maxSeqLen = 0; },
       "model.max_seq_len 0"},
      {"KV cache dtype",
       [](TestPlan &t) { t.kvCaches[0].dtype = P::DType::I8; },
       "KV cache 0: dtype is i8; expected f32, f16, bf16 or f8e4m3"},
      // Format 1.8's FP8 caches are key/value ones: a latent row has no
      // scales.
      {"FP8 latent cache",
       [](TestPlan &t) {
         t.kvCaches[0] = {1, 6, P::DType::F8E4M3, 0, 4};
       },
       "KV cache 0: dtype is f8e4m3; expected f32, f16 or bf16 for a latent "
       "cache"},
      // Format 1.8: activation groups are the FP8 weight's scale blocks.
      {"fp8 activations over a float weight",
       [](TestPlan &t) {
         for (auto &kernel : t.prefill)
           for (OpSpec &op : kernel)
             if (op.type == P::OpParams::Linear) {
               const int64_t in = op.inputs[0].row_elems(),
                             out = op.outputs[0].row_elems();
               const bool bias = op.inputs.size() == 3;
               op.params = [=](flatbuffers::FlatBufferBuilder &fbb) {
                 return P::CreateLinear(fbb, in, out, bias, true).Union();
               };
               return;
             }
       },
       "fp8_activations needs an f8e4m3 weight in blocks of 128 input "
       "features"},
      {"activation dtype", [](TestPlan &t) { t.dtype = P::DType::I32; },
       "model.dtype is i32"},
      {"weight dtype",
       [](TestPlan &t) {
         t.prefill[0][2].inputs[1] =
             P::Operand(P::OperandKind::Weight, P::DType::BF16, 2, 0, 0);
       },
       "is f32 but the operand says bf16"},
      // Kernels issue 16-byte loads and stores on arena operands.
      {"memory alignment", [](TestPlan &t) { t.memoryAlignment = 8; },
       "memory.alignment 8 is not a power of two in [16, 4096]"},
      // The same rules as llm.attention's verifier (test/dialects/llm/
      // invalid.mlir): a window or a chunk, and a windowed cache serves only
      // a window no wider than its own.
      {"window and chunk",
       [](TestPlan &t) { setAttention(t, /*window=*/4, /*chunk=*/4); },
       "takes a window or a chunk, not both"},
      {"chunk on a windowed cache",
       [](TestPlan &t) {
         t.kvCaches[0].window = 8;
         setAttention(t, /*window=*/0, /*chunk=*/8);
       },
       "attends further back than KV cache 0's window of 8 (chunked "
       "attention needs a full cache)"},
      {"window wider than the cache's",
       [](TestPlan &t) {
         t.kvCaches[0].window = 8;
         setAttention(t, /*window=*/9, /*chunk=*/0);
       },
       "attends further back than KV cache 0's window of 8"},
      {"sinks of the wrong width",
       [](TestPlan &t) { setAttention(t, 0, 0, TinyLlama::kHeads + 1); },
       "sinks: weight"},
      {"sinks flag without the operand",
       [](TestPlan &t) {
         setAttention(t, 0, 0, TinyLlama::kHeads).inputs.pop_back();
       },
       "inputs"},
  };
  for (Case &c : cases) {
    SCOPED_TRACE(c.name);
    TestPlan t = tinyLlama(4);
    c.damage(t);
    expectRejected(t.serialize(), LLMC_ERROR_INVALID_PLAN, c.fragment);
  }
}

/// A plan of one MoE block: router, experts and a sigmoid gate.
TestPlan moePlan(const std::function<void(MoERouterParams &, int64_t &)> &edit =
                     nullptr) {
  TestPlan t;
  MoERouterParams p;
  p.hidden = 8;
  p.experts = 4;
  p.topK = 2;
  int64_t experts = 4;
  if (edit)
    edit(p, experts);
  const int64_t H = 8, I = 4;
  P::Operand gate = t.weight("gate", {p.experts, H}, randomValues(size_t(p.experts * H), 1));
  P::Operand gu = t.weight("gate_up", {experts, 2 * I, H},
                           randomValues(size_t(experts * 2 * I * H), 2));
  P::Operand down = t.weight("down", {experts, H, I},
                             randomValues(size_t(experts * H * I), 3));
  P::Operand sg = t.weight("shared_gate", {1, H}, randomValues(size_t(H), 4));
  P::Operand x = t.arena(uint64_t(H)), w = t.arena(uint64_t(p.topK)),
             ids = t.arena(uint64_t(p.topK), P::DType::I32),
             y = t.arena(uint64_t(H)), g = t.arena(uint64_t(H));
  t.setOps({moeRouterOp(p, x, gate, nullptr, w, ids),
            moeExpertsOp(H, I, experts, p.topK, P::Activation::Silu, x, w, ids,
                         gu, down, y),
            sigmoidGateOp(H, H, x, sg, y, g)},
           t.arena(uint64_t(t.vocab)));
  return t;
}

TEST_F(PlanFileTest, MoEPlansAreChecked) {
  std::string message;
  EXPECT_EQ(openBytes(moePlan().serialize(), &message), LLMC_OK) << message;
  struct Case {
    const char *name;
    std::function<void(MoERouterParams &, int64_t &)> edit;
    const char *fragment;
  };
  std::vector<Case> cases = {
      {"k above E", [](MoERouterParams &p, int64_t &) { p.topK = 5; },
       "top_k 5 exceeds the experts of the top groups"},
      {"groups not dividing",
       [](MoERouterParams &p, int64_t &) {
         p.groups = 3;
         p.topGroups = 1;
       },
       "3 groups (top 1) do not fit 4 experts"},
      {"top groups above groups",
       [](MoERouterParams &p, int64_t &) {
         p.groups = 2;
         p.topGroups = 3;
       },
       "2 groups (top 3) do not fit 4 experts"},
      {"negative scaling",
       [](MoERouterParams &p, int64_t &) { p.scaling = -1.0; },
       "scaling > 0"},
      // The router picks ids below its E; the experts must hold as many.
      {"fewer experts than the router's",
       [](MoERouterParams &, int64_t &experts) { experts = 3; },
       "the router chooses among 4 experts, the experts op holds 3"},
  };
  for (Case &c : cases) {
    SCOPED_TRACE(c.name);
    expectRejected(moePlan(c.edit).serialize(), LLMC_ERROR_INVALID_PLAN,
                   c.fragment);
  }
}

/// A plan of one linear over a 16 x 32 f8e4m3 weight in blocks of 8 x 16
/// (scales [2, 2]); `edit` damages it.
TestPlan quantizedPlan(
    const std::function<void(TestPlan &, P::Operand &)> &edit = {}) {
  TestPlan t;
  P::Operand w = t.quantizedWeight("w", {16, 32},
                                   std::vector<float>(16 * 32, 0.5f), {8, 16},
                                   {1.0f, 2.0f, 3.0f, 4.0f});
  if (edit)
    edit(t, w);
  P::Operand x = t.arena(32), y = t.arena(16);
  t.setOps({linearOp(32, 16, x, w, nullptr, y)}, t.arena(uint64_t(t.vocab)));
  return t;
}

TEST_F(PlanFileTest, QuantizedWeightsAreChecked) {
  std::string message;
  EXPECT_EQ(openBytes(quantizedPlan().serialize(), &message), LLMC_OK)
      << message;
  struct Case {
    const char *name;
    std::function<void(TestPlan &, P::Operand &)> edit;
    const char *fragment;
  };
  std::vector<Case> cases = {
      {"scales of the wrong shape",
       [](TestPlan &t, P::Operand &) { t.weights[1].shape = {4, 1}; },
       "weight 0 \"w\": its scales have shape [4, 1], expected [2, 2]"},
      {"a block per dimension",
       [](TestPlan &t, P::Operand &) { t.weights[0].block = {8}; },
       "quant.block needs one extent per dimension (2)"},
      {"block beyond the dimension",
       [](TestPlan &t, P::Operand &) { t.weights[0].block = {8, 64}; },
       "quant.block extent 64 of dimension 1 is not in [1, 32]"},
      {"scales that are the weight itself",
       [](TestPlan &t, P::Operand &) { t.weights[0].scales = 0; },
       "quant.scales 0 is not another weight of the plan"},
      {"f8e4m3 without scales",
       [](TestPlan &t, P::Operand &) { t.weights[0].block.clear(); },
       "weight 0 \"w\": f8e4m3 values without their scales (quant)"},
      {"quantized f32 values",
       [](TestPlan &t, P::Operand &w) {
         t.weights[0].dtype = P::DType::F32;
         w = P::Operand(P::OperandKind::Weight, P::DType::F32, 0, 0, 0);
       },
       "quantized values must be f8e4m3, i4, i8 or f4e2m1, got f32"},
      {"e8m0 scales of f8e4m3 values",
       [](TestPlan &t, P::Operand &) {
         t.weights[1].dtype = P::DType::E8M0;
         t.weights[1].values = {1.0f, 2.0f, 4.0f, 8.0f};
       },
       "its scales (weight 1) must be plain f32"},
      {"f32 scales of f4e2m1 values",
       [](TestPlan &t, P::Operand &w) {
         t.weights[0].dtype = P::DType::F4E2M1;
         t.weights[0].values.assign(16 * 32, 0.5f);
         w = P::Operand(P::OperandKind::Weight, P::DType::F4E2M1, 0, 0, 0);
       },
       "its scales (weight 1) must be plain e8m0"},
      {"zero points of f8e4m3 values",
       [](TestPlan &t, P::Operand &) { t.weights[0].zeros = 1; },
       "weight 0 \"w\": zero points need i4 or i8 values"},
      {"f16 scales of f8e4m3 values",
       [](TestPlan &t, P::Operand &) { t.weights[1].dtype = P::DType::F16; },
       "its scales (weight 1) must be plain f32"},
  };
  for (Case &c : cases) {
    SCOPED_TRACE(c.name);
    expectRejected(quantizedPlan(c.edit).serialize(), LLMC_ERROR_INVALID_PLAN,
                   c.fragment);
  }
  // Only a linear reads a quantized weight.
  TestPlan t;
  P::Operand w = t.quantizedWeight("w", {16, 32},
                                   std::vector<float>(16 * 32, 0.5f), {8, 16},
                                   {1.0f, 2.0f, 3.0f, 4.0f});
  P::Operand x = t.arena(32), y = t.arena(16);
  t.setOps({gatedLinearOp(32, 16, P::Activation::Silu, x, w, w, y)},
           t.arena(uint64_t(t.vocab)));
  expectRejected(t.serialize(), LLMC_ERROR_INVALID_PLAN,
                 "gate weight: weight 0 \"w\" is quantized; only a linear's "
                 "and the experts' weights may be");
}

/// A plan of one linear over a 16 x 32 i4 weight in groups of 16 along
/// its rows with f16 scales (scales [16, 2]); `edit` damages it.
TestPlan int4Plan(
    const std::function<void(TestPlan &, P::Operand &)> &edit = {}) {
  TestPlan t;
  std::vector<float> codes(16 * 32);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = float(int(i % 16) - 8);
  P::Operand w = t.quantizedWeight("w", {16, 32}, codes, {1, 16},
                                   std::vector<float>(32, 0.25f),
                                   P::DType::I4, P::DType::F16);
  if (edit)
    edit(t, w);
  P::Operand x = t.arena(32), y = t.arena(16);
  t.setOps({linearOp(32, 16, x, w, nullptr, y)}, t.arena(uint64_t(t.vocab)));
  return t;
}

TEST_F(PlanFileTest, Int4WeightsAreChecked) {
  std::string message;
  EXPECT_EQ(openBytes(int4Plan().serialize(), &message), LLMC_OK) << message;
  for (P::DType scales : {P::DType::BF16, P::DType::F32}) {
    TestPlan t = int4Plan([&](TestPlan &t, P::Operand &) {
      t.weights[1].dtype = scales;
    });
    EXPECT_EQ(openBytes(t.serialize(), &message), LLMC_OK) << message;
  }
  struct Case {
    const char *name;
    std::function<void(TestPlan &, P::Operand &)> edit;
    const char *fragment;
  };
  std::vector<Case> cases = {
      {"i4 without scales",
       [](TestPlan &t, P::Operand &) { t.weights[0].block.clear(); },
       "weight 0 \"w\": i4 values without their scales (quant)"},
      {"an odd row length",
       [](TestPlan &t, P::Operand &) {
         t.weights[0].shape = {32, 15};
         t.weights[0].values.resize(32 * 15);
         t.weights[1].shape = {32, 1};
       },
       "weight 0 \"w\": i4 values need an even last dimension"},
      {"i8 without scales",
       [](TestPlan &t, P::Operand &w) {
         t.weights[0].dtype = P::DType::I8;
         t.weights[0].block.clear();
         w = P::Operand(P::OperandKind::Weight, P::DType::I8, 0, 0, 0);
       },
       "weight 0 \"w\": i8 values without their scales (quant)"},
      {"i32 scales",
       [](TestPlan &t, P::Operand &) { t.weights[1].dtype = P::DType::I32; },
       "its scales (weight 1) must be plain f32, f16 or bf16"},
  };
  for (Case &c : cases) {
    SCOPED_TRACE(c.name);
    expectRejected(int4Plan(c.edit).serialize(), LLMC_ERROR_INVALID_PLAN,
                   c.fragment);
  }
  // Zero points: plain i8 of the scales' shape, for integer values only.
  auto withZeros = [](TestPlan &t, P::Operand &) {
    t.addZeroPoints(std::vector<float>(32, 3.0f));
  };
  EXPECT_EQ(openBytes(int4Plan(withZeros).serialize(), &message), LLMC_OK)
      << message;
  std::vector<Case> zeroCases = {
      {"zero points of another shape",
       [&](TestPlan &t, P::Operand &w) {
         withZeros(t, w);
         t.weights[2].shape = {32, 1};
       },
       "weight 0 \"w\": its zero points have shape [32, 1], expected [16, 2]"},
      {"f32 zero points",
       [&](TestPlan &t, P::Operand &w) {
         withZeros(t, w);
         t.weights[2].dtype = P::DType::F32;
       },
       "its zero points (weight 2) must be plain i8"},
      {"zero points that are the scales",
       [&](TestPlan &t, P::Operand &w) {
         withZeros(t, w);
         t.weights[0].zeros = 1;
       },
       "quant.zeros 1 is not another weight of the plan"},
  };
  for (Case &c : zeroCases) {
    SCOPED_TRACE(c.name);
    expectRejected(int4Plan(c.edit).serialize(), LLMC_ERROR_INVALID_PLAN,
                   c.fragment);
  }
}

TEST_F(PlanFileTest, EveryTruncationFailsCleanly) {
  std::vector<uint8_t> bytes = tinyLlama(4).serialize();
  uint64_t header = headerEnd(bytes);
  for (uint64_t size = 0; size < bytes.size();
       size += size < header + 16 ? 1 : 61) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + ptrdiff_t(size));
    ASSERT_EQ(openBytes(cut), LLMC_ERROR_INVALID_PLAN) << size;
  }
}

/// Random damage to the flatbuffer with a recomputed header checksum, so
/// that it reaches the flatbuffer verifier and the content checks; a plan
/// that still verifies must run without crashing.
TEST_F(PlanFileTest, DamagedFlatbuffersFailCleanlyOrRun) {
  std::vector<uint8_t> good = tinyLlama(4).serialize();
  uint32_t size;
  std::memcpy(&size, good.data(), 4);
  uint64_t checksumAt = headerChecksumOffset(size);
  uint64_t state = 12345;
  auto next = [&](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  int opened = 0, ran = 0;
  for (int iteration = 0; iteration < 1500; ++iteration) {
    std::vector<uint8_t> bytes = good;
    int flips = 1 + int(next(3));
    for (int i = 0; i < flips; ++i) {
      // Skip the size prefix and identifier: those have their own tests.
      size_t at = 12 + size_t(next(size - 8));
      bytes[at] = iteration % 2 ? uint8_t(next(256)) : bytes[at] ^ 0x80;
    }
    uint64_t sum = checksum(bytes.data(), 4 + uint64_t(size));
    std::memcpy(&bytes[checksumAt], &sum, 8);
    std::string message;
    llmc_status status = openBytes(bytes, &message);
    if (status != LLMC_OK) {
      EXPECT_EQ(message.rfind(path_ + ": ", 0), 0u) << message;
      continue;
    }
    ++opened;
    llmc_status s;
    PlanPtr plan = openPlan(path_, &s);
    ASSERT_TRUE(plan);
    llmc_plan_info info;
    ASSERT_EQ(llmc_plan_get_info(plan.get(), &info), LLMC_OK);
    if (info.arena_bytes > (1u << 20))
      continue;
    SessionPtr session = createSession(
        plan.get(), 1, 2, &s, int32_t(std::min<int64_t>(info.max_seq_len, 16)));
    if (!session)
      continue;
    std::vector<int32_t> tokens = {0, 1, int32_t(info.vocab_size - 1)};
    std::vector<float> logits(size_t(info.vocab_size) * 3);
    if (llmc_prefill(session.get(), 0, tokens.data(), 3, logits.data(),
                     nullptr) == LLMC_OK)
      ++ran;
    int32_t seq = 0;
    (void)llmc_decode(session.get(), 1, &seq, tokens.data(), logits.data());
  }
  // Some damage is harmless (a weight's name, a float parameter): make sure
  // the loop exercised running too.
  EXPECT_GT(opened, 0);
  EXPECT_GT(ran, 0);
}

} // namespace
} // namespace llmc::runtime::test
