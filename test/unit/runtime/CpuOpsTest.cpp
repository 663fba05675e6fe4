//===- CpuOpsTest.cpp - each CPU op against a double-precision reference --===//
//
// Every test builds a plan whose prefill program is the op under test, fills
// its input rows in the arena directly, runs one step on the CPU backend and
// compares the output rows with Reference.h.
//
//===----------------------------------------------------------------------===//

#include "Reference.h"
#include "TestPlan.h"

#include "runtime/src/PlanFile.h"
#include "runtime/src/cpu/CpuBackend.h"
#include "runtime/src/cpu/Numerics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace llmc::runtime::test {
namespace {

/// Runs the prefill program of a TestPlan on a CpuBackend.
class OpRunner {
public:
  explicit OpRunner(const TestPlan &plan, int threads = 3,
                    int64_t maxBatch = 1) {
    std::string path = plan.write(dir_.file("op.plan"));
    Status s = PlanFile::open(path, file_);
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok())
      return;
    const SessionShape shape{maxBatch, plan.maxSeqLen};
    s = KvPages::create(*file_, shape, 0, kv_);
    EXPECT_TRUE(s.ok()) << s.message();
    s = cpu::CpuBackend::create(*file_, shape, kv_, threads, backend_);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  bool ok() const { return backend_ != nullptr; }
  cpu::CpuBackend &backend() { return *backend_; }
  const P::Program &prefill() const { return *file_->plan()->prefill(); }

  /// Writes rows of `o` (values rounded to its dtype).
  void set(const P::Operand &o, const std::vector<float> &values) {
    cpu::narrow(values.data(), o.dtype(), backend_->arena() + o.offset(),
                values.size());
  }
  std::vector<int32_t> getInts(const P::Operand &o, int64_t rows) {
    const int32_t *p =
        reinterpret_cast<const int32_t *>(backend_->arena() + o.offset());
    return std::vector<int32_t>(p, p + rows * int64_t(o.row_elems()));
  }
  std::vector<float> get(const P::Operand &o, int64_t rows) {
    std::vector<float> out(size_t(rows) * o.row_elems());
    EXPECT_TRUE(backend_->readRows(o, 0, rows, out.data()).ok());
    return out;
  }
  /// One step of positions.size() tokens.
  void run(std::vector<int32_t> positions, std::vector<int32_t> slots = {},
           std::vector<int32_t> tokens = {}) {
    slots.resize(positions.size(), 0);
    tokens.resize(positions.size(), 0);
    StepInputs in{int64_t(positions.size()), tokens.data(), positions.data(),
                  slots.data()};
    EXPECT_TRUE(backend_->run(*file_->plan()->prefill(), in).ok());
  }

private:
  TempDir dir_;
  std::unique_ptr<PlanFile> file_;
  KvPages kv_;
  std::unique_ptr<cpu::CpuBackend> backend_;
};

std::vector<double> toDouble(const std::vector<float> &v) {
  return std::vector<double>(v.begin(), v.end());
}

/// Values exactly representable in bf16.
std::vector<float> bf16Values(size_t n, uint64_t seed, float scale = 1.0f) {
  std::vector<float> v = randomValues(n, seed, scale);
  for (float &x : v)
    x = float(roundBf16(x));
  return v;
}

void expectClose(const std::vector<float> &got, const std::vector<double> &want,
                 double rel = 1e-5, double abs = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], abs + rel * std::fabs(want[i]))
        << "element " << i;
}

/// For bf16 outputs: each within one bf16 ulp of the reference (which
/// rounds at the same points), and most exactly equal.
void expectBf16Close(const std::vector<float> &got,
                     const std::vector<double> &want) {
  ASSERT_EQ(got.size(), want.size());
  size_t exact = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(double(got[i]), roundBf16(got[i])) << "not a bf16 value";
    double ulp = std::ldexp(1.0, std::ilogb(want[i]) - 7);
    EXPECT_LE(std::fabs(got[i] - want[i]), ulp) << "element " << i;
    exact += double(got[i]) == want[i];
  }
  EXPECT_GE(exact * 10, got.size() * 8) << exact << " of " << got.size();
}

/// A plan of the given ops; the logits region is unused.
TestPlan planWith(std::vector<OpSpec> ops, TestPlan t) {
  t.setOps(ops, t.arena(uint64_t(t.vocab)));
  return t;
}

TEST(CpuOps, EmbeddingLooksUpAndScales) {
  TestPlan t;
  std::vector<float> table = randomValues(16 * 8, 1);
  P::Operand w = t.weight("embed", {16, 8}, table);
  P::Operand out = t.arena(8);
  OpRunner r(planWith({embeddingOp(16, 8, 2.5, w, out)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<int32_t> tokens = {3, 0, 15};
  r.run({0, 1, 2}, {}, tokens);
  std::vector<double> want;
  for (int32_t tok : tokens)
    for (int i = 0; i < 8; ++i)
      want.push_back(double(table[size_t(tok) * 8 + i]) * 2.5);
  expectClose(r.get(out, 3), want);
}

TEST(CpuOps, RMSNormVariants) {
  for (auto variant :
       {P::RMSNormVariant::CastBeforeWeight, P::RMSNormVariant::WeightInFp32,
        P::RMSNormVariant::OnePlusWeight, P::RMSNormVariant::NoWeight}) {
    SCOPED_TRACE(P::EnumNameRMSNormVariant(variant));
    TestPlan t;
    std::vector<float> w = randomValues(8, 2);
    P::Operand weight = t.weight("norm", {8}, w);
    // Two groups of 8 per token (rows * size, as a per-head norm).
    P::Operand x = t.arena(16), out = t.arena(16);
    bool noWeight = variant == P::RMSNormVariant::NoWeight;
    OpRunner r(planWith(
        {rmsNormOp(8, variant, 1e-6, x, noWeight ? nullptr : &weight, out)},
        t));
    ASSERT_TRUE(r.ok());
    std::vector<float> xs = randomValues(3 * 16, 3, 2.0f);
    r.set(x, xs);
    r.run({0, 1, 2});
    std::vector<double> scale(8);
    for (int i = 0; i < 8; ++i)
      scale[size_t(i)] = variant == P::RMSNormVariant::OnePlusWeight
                             ? 1.0 + w[size_t(i)]
                         : noWeight ? 1.0
                                    : w[size_t(i)];
    expectClose(r.get(out, 3), rmsNorm(toDouble(xs), scale, 8, 1e-6));
  }
}

TEST(CpuOps, RMSNormCastBeforeWeightRoundsInBf16) {
  TestPlan t;
  std::vector<float> w = bf16Values(64, 4);
  P::Operand weight = t.weight("norm", {64}, w, P::DType::BF16);
  P::Operand x = t.arena(64, P::DType::BF16), out = t.arena(64, P::DType::BF16);
  OpRunner r(planWith({rmsNormOp(64, P::RMSNormVariant::CastBeforeWeight, 1e-6,
                                 x, &weight, out)},
                      t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = bf16Values(2 * 64, 5, 3.0f);
  r.set(x, xs);
  r.run({0, 1});
  // round(round(x * r) * w), the rounding points of Llama's RMSNorm.
  std::vector<double> normed = rmsNorm(toDouble(xs), {}, 64, 1e-6);
  for (size_t i = 0; i < normed.size(); ++i)
    normed[i] = roundBf16(roundBf16(normed[i]) * w[i % 64]);
  expectBf16Close(r.get(out, 2), normed);
}

TEST(CpuOps, AddRMSNormWritesSumAndNorm) {
  for (bool withWeight : {true, false}) {
    TestPlan t;
    std::vector<float> w = randomValues(8, 6);
    P::Operand weight = t.weight("norm", {8}, w);
    P::Operand x = t.arena(8), res = t.arena(8), normed = t.arena(8);
    auto variant = withWeight ? P::RMSNormVariant::WeightInFp32
                              : P::RMSNormVariant::NoWeight;
    // The sum overwrites the residual, as the residual stream does.
    OpRunner r(
        planWith({addRmsNormOp(8, variant, 1e-5, x, res,
                               withWeight ? &weight : nullptr, normed, res)},
                 t));
    ASSERT_TRUE(r.ok());
    std::vector<float> xs = randomValues(16, 7), rs = randomValues(16, 8);
    r.set(x, xs);
    r.set(res, rs);
    r.run({0, 1});
    std::vector<double> s(16);
    for (size_t i = 0; i < 16; ++i)
      s[i] = double(xs[i]) + rs[i];
    expectClose(r.get(res, 2), s);
    expectClose(
        r.get(normed, 2),
        rmsNorm(s, withWeight ? toDouble(w) : std::vector<double>{}, 8, 1e-5));
  }
}

TEST(CpuOps, LinearWithBias) {
  // Sizes that split unevenly over 3 threads and leave a dot-product tail.
  const int64_t in = 40, out = 37, tokens = 3;
  TestPlan t;
  std::vector<float> w = randomValues(out * in, 9), b = randomValues(out, 10);
  P::Operand weight = t.weight("w", {out, in}, w);
  P::Operand bias = t.weight("b", {out}, b);
  P::Operand x = t.arena(in), y = t.arena(out), y2 = t.arena(out);
  OpRunner r(planWith({linearOp(in, out, x, weight, &bias, y),
                       linearOp(in, out, x, weight, nullptr, y2)},
                      t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(tokens * in, 11);
  r.set(x, xs);
  r.run({0, 1, 2});
  expectClose(r.get(y, tokens), matmul(xs, w, &b, tokens, in, out));
  expectClose(r.get(y2, tokens), matmul(xs, w, nullptr, tokens, in, out));
}

TEST(CpuOps, LinearBf16WeightsAndActivations) {
  const int64_t in = 64, out = 24;
  TestPlan t;
  std::vector<float> w = bf16Values(out * in, 12);
  P::Operand weight = t.weight("w", {out, in}, w, P::DType::BF16);
  P::Operand x = t.arena(in, P::DType::BF16), y = t.arena(out, P::DType::BF16);
  OpRunner r(planWith({linearOp(in, out, x, weight, nullptr, y)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = bf16Values(2 * in, 13);
  r.set(x, xs);
  r.run({0, 1});
  std::vector<double> want = matmul(xs, w, nullptr, 2, in, out);
  for (double &v : want)
    v = roundBf16(v); // rounded once
  expectBf16Close(r.get(y, 2), want);
}

TEST(CpuOps, LinearFp8BlockQuantizedWeight) {
  // A 130 x 200 weight in blocks of 64 x 128: partial blocks in both
  // dimensions, so each row and column finds its own scale.
  const int64_t in = 200, out = 130, bn = 64, bk = 128;
  const int64_t sr = (out + bn - 1) / bn, sc = (in + bk - 1) / bk;
  TestPlan t;
  // Exact E4M3 values: every code but NaN, cycled; scales of both signs.
  std::vector<float> q(size_t(out * in)), scales(size_t(sr * sc));
  for (size_t i = 0; i < q.size(); ++i) {
    uint8_t code = uint8_t((i * 37 + 5) % 256);
    if ((code & 0x7f) == 0x7f)
      code = 0x3c;
    q[i] = cpu::f8e4m3ToFloat(code);
  }
  for (size_t i = 0; i < scales.size(); ++i)
    scales[i] = (i % 2 ? -1.0f : 1.0f) * std::ldexp(1.0f + float(i), -9);
  P::Operand weight = t.quantizedWeight("w", {out, in}, q, {bn, bk}, scales);
  P::Operand x = t.arena(in), y = t.arena(out);
  OpRunner r(planWith({linearOp(in, out, x, weight, nullptr, y)}, t));
  ASSERT_TRUE(r.ok());
  // The dequantized weight: value * scale of its block, one fp32 product.
  std::vector<float> w(q.size());
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k)
      w[size_t(n * in + k)] =
          q[size_t(n * in + k)] * scales[size_t((n / bn) * sc + k / bk)];
  std::vector<float> xs = randomValues(3 * in, 17);
  r.set(x, xs);
  r.run({0, 1, 2});
  expectClose(r.get(y, 3), matmul(xs, w, nullptr, 3, in, out));
}

TEST(CpuOps, LinearInt4GroupQuantizedWeight) {
  // A 24 x 200 int4 weight in groups of 64 along its rows (the last group
  // of 8), for each scale type: every code -8..7, scales of both signs.
  const int64_t in = 200, out = 24, bk = 64, sc = (in + bk - 1) / bk;
  for (P::DType scaleType : {P::DType::F16, P::DType::BF16, P::DType::F32}) {
    SCOPED_TRACE(runtime::dtypeName(scaleType));
    TestPlan t;
    std::vector<float> q(size_t(out * in)), scales(size_t(out * sc));
    for (size_t i = 0; i < q.size(); ++i)
      q[i] = float(int((i * 7 + 3) % 16) - 8);
    // Exact in every scale type.
    for (size_t i = 0; i < scales.size(); ++i)
      scales[i] = (i % 3 ? 1.0f : -1.0f) * std::ldexp(1.0f + float(i % 5) / 4,
                                                      -int(i % 7));
    P::Operand weight = t.quantizedWeight("w", {out, in}, q, {1, bk}, scales,
                                          P::DType::I4, scaleType);
    P::Operand x = t.arena(in), y = t.arena(out);
    OpRunner r(planWith({linearOp(in, out, x, weight, nullptr, y)}, t));
    ASSERT_TRUE(r.ok());
    // The dequantized weight: code * scale of its group, one fp32 product.
    std::vector<float> w(q.size());
    for (int64_t n = 0; n < out; ++n)
      for (int64_t k = 0; k < in; ++k)
        w[size_t(n * in + k)] =
            q[size_t(n * in + k)] * scales[size_t(n * sc + k / bk)];
    std::vector<float> xs = randomValues(3 * in, 18);
    r.set(x, xs);
    r.run({0, 1, 2});
    expectClose(r.get(y, 3), matmul(xs, w, nullptr, 3, in, out));
  }
}

TEST(CpuOps, LinearInt8QuantizedWeight) {
  // A 24 x 200 int8 weight, one scale per row (f32) and in groups of 64
  // (bf16): codes across -128..127.
  const int64_t in = 200, out = 24;
  for (int64_t bk : {in, int64_t(64)}) {
    const int64_t sc = (in + bk - 1) / bk;
    const P::DType scaleType = bk == in ? P::DType::F32 : P::DType::BF16;
    TestPlan t;
    std::vector<float> q(size_t(out * in)), scales(size_t(out * sc));
    for (size_t i = 0; i < q.size(); ++i)
      q[i] = float(int((i * 37 + 11) % 256) - 128);
    for (size_t i = 0; i < scales.size(); ++i)
      scales[i] = (i % 2 ? -1.0f : 1.0f) * std::ldexp(1.0f, -7 - int(i % 3));
    P::Operand weight = t.quantizedWeight("w", {out, in}, q, {1, bk}, scales,
                                          P::DType::I8, scaleType);
    P::Operand x = t.arena(in), y = t.arena(out);
    OpRunner r(planWith({linearOp(in, out, x, weight, nullptr, y)}, t));
    ASSERT_TRUE(r.ok());
    std::vector<float> w(q.size());
    for (int64_t n = 0; n < out; ++n)
      for (int64_t k = 0; k < in; ++k)
        w[size_t(n * in + k)] =
            q[size_t(n * in + k)] * scales[size_t(n * sc + k / bk)];
    std::vector<float> xs = randomValues(2 * in, 19);
    r.set(x, xs);
    r.run({0, 1});
    expectClose(r.get(y, 2), matmul(xs, w, nullptr, 2, in, out));
  }
}

TEST(CpuOps, LinearInt4WithZeroPoints) {
  // (code - zero) * scale per group of 64 along rows of 200.
  const int64_t in = 200, out = 24, bk = 64, sc = (in + bk - 1) / bk;
  TestPlan t;
  std::vector<float> q(size_t(out * in)), scales(size_t(out * sc)),
      zeros(scales.size());
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = float(int((i * 5 + 1) % 16) - 8);
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = std::ldexp(1.0f + float(i % 3) / 2, -6);
    zeros[i] = float(int(i % 16) - 8);
  }
  P::Operand weight = t.quantizedWeight("w", {out, in}, q, {1, bk}, scales,
                                        P::DType::I4, P::DType::F16);
  t.addZeroPoints(zeros);
  P::Operand x = t.arena(in), y = t.arena(out);
  OpRunner r(planWith({linearOp(in, out, x, weight, nullptr, y)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> w(q.size());
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k) {
      const size_t g = size_t(n * sc + k / bk);
      w[size_t(n * in + k)] = (q[size_t(n * in + k)] - zeros[g]) * scales[g];
    }
  std::vector<float> xs = randomValues(2 * in, 20);
  r.set(x, xs);
  r.run({0, 1});
  expectClose(r.get(y, 2), matmul(xs, w, nullptr, 2, in, out));
}

TEST(CpuOps, GatedLinear) {
  const int64_t in = 8, out = 16;
  TestPlan t;
  std::vector<float> wg = randomValues(out * in, 14),
                     wu = randomValues(out * in, 15);
  P::Operand gate = t.weight("gate", {out, in}, wg);
  P::Operand up = t.weight("up", {out, in}, wu);
  P::Operand x = t.arena(in), y = t.arena(out);
  OpRunner r(planWith(
      {gatedLinearOp(in, out, P::Activation::Silu, x, gate, up, y)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(2 * in, 16, 2.0f);
  r.set(x, xs);
  r.run({0, 1});
  std::vector<double> g = matmul(xs, wg, nullptr, 2, in, out),
                      u = matmul(xs, wu, nullptr, 2, in, out), want(g.size());
  for (size_t i = 0; i < g.size(); ++i)
    want[i] = silu(g[i]) * u[i];
  expectClose(r.get(y, 2), want);
}

TEST(CpuOps, GLUActivations) {
  for (auto activation :
       {P::Activation::Silu, P::Activation::GELUTanh, P::Activation::GELU}) {
    SCOPED_TRACE(P::EnumNameActivation(activation));
    TestPlan t;
    P::Operand gate = t.arena(12), up = t.arena(12), y = t.arena(12);
    OpRunner r(planWith({gluOp(12, activation, gate, up, y)}, t));
    ASSERT_TRUE(r.ok());
    std::vector<float> gs = randomValues(24, 17, 4.0f),
                       us = randomValues(24, 18, 2.0f);
    r.set(gate, gs);
    r.set(up, us);
    r.run({0, 1});
    std::vector<double> want;
    for (size_t i = 0; i < gs.size(); ++i) {
      double a = activation == P::Activation::Silu       ? silu(gs[i])
                 : activation == P::Activation::GELUTanh ? geluTanh(gs[i])
                                                         : gelu(gs[i]);
      want.push_back(a * us[i]);
    }
    expectClose(r.get(y, 2), want);
  }
}

TEST(CpuOps, GeluVariantsDiffer) {
  // The tanh approximation is not exact GELU: at x = 1 they differ by ~1e-4.
  EXPECT_NEAR(cpu::gelu(1.0f), 0.8413447, 1e-6);
  EXPECT_NEAR(cpu::geluTanh(1.0f), 0.8411920, 1e-6);
  EXPECT_NEAR(cpu::silu(1.0f), 0.7310586, 1e-6);
}

TEST(CpuOps, AddAndSoftcap) {
  TestPlan t;
  P::Operand a = t.arena(10), b = t.arena(10), sum = t.arena(10),
             capped = t.arena(10);
  OpRunner r(
      planWith({addOp(10, a, b, sum), softcapOp(10, 3.0, sum, capped)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> as = randomValues(30, 19, 8.0f),
                     bs = randomValues(30, 20, 8.0f);
  r.set(a, as);
  r.set(b, bs);
  r.run({0, 1, 2});
  std::vector<double> s, c;
  for (size_t i = 0; i < as.size(); ++i) {
    s.push_back(double(as[i]) + bs[i]);
    c.push_back(3.0 * std::tanh((double(as[i]) + bs[i]) / 3.0));
  }
  expectClose(r.get(sum, 3), s);
  expectClose(r.get(capped, 3), c);
}

TEST(CpuOps, AttnTemperatureScalesByPosition) {
  TestPlan t;
  P::Operand x = t.arena(6), y = t.arena(6);
  OpRunner r(planWith({attnTemperatureOp(6, 4.0, 0.1, x, y)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<int32_t> positions = {0, 2, 3, 7, 8, 100};
  std::vector<float> xs = randomValues(6 * positions.size(), 23, 4.0f);
  r.set(x, xs);
  r.run(positions);
  std::vector<double> want;
  for (size_t i = 0; i < positions.size(); ++i) {
    // 1 + 0.1 * ln(1 + floor((p + 1) / 4)): 1 below position 3.
    double s = 1.0 + 0.1 * std::log1p(std::floor((positions[i] + 1) / 4.0));
    for (size_t k = 0; k < 6; ++k)
      want.push_back(xs[i * 6 + k] * s);
  }
  expectClose(r.get(y, int64_t(positions.size())), want);
  // Position 2 (floor(3 / 4) = 0) is the identity, position 100 ln(26).
  EXPECT_EQ(r.get(y, 2)[6], xs[6]);
  EXPECT_NEAR(r.get(y, 6)[30] / xs[30], 1.0 + 0.1 * std::log(26.0), 1e-6);
}

struct RopeCase {
  const char *name;
  P::RopeLayout layout;
  int64_t rotaryDim;
  double scaling;
};

TEST(CpuOps, Rope) {
  const int64_t heads = 2, headDim = 8;
  for (RopeCase c :
       {RopeCase{"half-split", P::RopeLayout::HalfSplit, 8, 1.0},
        RopeCase{"interleaved", P::RopeLayout::Interleaved, 8, 1.0},
        RopeCase{"partial", P::RopeLayout::HalfSplit, 4, 1.0},
        RopeCase{"partial interleaved", P::RopeLayout::Interleaved, 4, 1.0},
        RopeCase{"attention_scaling", P::RopeLayout::HalfSplit, 8, 1.25}}) {
    SCOPED_TRACE(c.name);
    TestPlan t;
    std::vector<float> invFreq = ropeInvFreq(c.rotaryDim, 10000.0);
    P::Operand x = t.arena(heads * headDim), y = t.arena(heads * headDim);
    OpRunner r(planWith({ropeOp(heads, headDim, c.rotaryDim, c.layout,
                                c.scaling, invFreq, x, y)},
                        t));
    ASSERT_TRUE(r.ok());
    std::vector<int32_t> positions = {0, 1, 7, 100};
    std::vector<float> xs =
        randomValues(positions.size() * heads * headDim, 21);
    r.set(x, xs);
    r.run(positions);
    std::vector<double> want;
    for (size_t i = 0; i < positions.size(); ++i) {
      std::vector<double> row(xs.begin() + ptrdiff_t(i * heads * headDim),
                              xs.begin() +
                                  ptrdiff_t((i + 1) * heads * headDim));
      std::vector<double> rotated =
          rope(row, heads, headDim, size_t(c.rotaryDim),
               c.layout == P::RopeLayout::Interleaved, c.scaling, invFreq,
               positions[i]);
      want.insert(want.end(), rotated.begin(), rotated.end());
    }
    expectClose(r.get(y, int64_t(positions.size())), want);
    // Position 0 is the identity (times the scaling).
    std::vector<float> got = r.get(y, 1);
    for (int64_t i = 0; i < c.rotaryDim; ++i)
      EXPECT_NEAR(got[size_t(i)], xs[size_t(i)] * c.scaling, 1e-6);
  }
}

/// KVCacheWrite then Attention in one step, the way a layer runs them.
struct AttentionFixture {
  AttentionParams p;
  TestPlan t;
  P::Operand q, k, v, out;

  AttentionFixture(AttentionParams params, int64_t maxTokens,
                   int64_t cacheWindow)
      : p(params) {
    t.maxTokens = maxTokens;
    t.numLayers = 1;
    t.kvCaches = {{p.kvHeads, p.headDim, P::DType::F32, cacheWindow}};
    q = t.arena(uint64_t(p.heads * p.headDim));
    k = t.arena(uint64_t(p.kvHeads * p.headDim));
    v = t.arena(uint64_t(p.kvHeads * p.headDim));
    out = t.arena(uint64_t(p.heads * p.headDim));
    P::Operand sinks;
    if (!p.sinks.empty())
      sinks = t.weight("sinks", {p.heads}, p.sinks);
    t = planWith({kvCacheWriteOp(0, k, v, t.cache(0)),
                  attentionOp(p, q, t.cache(0), out,
                              p.sinks.empty() ? nullptr : &sinks)},
                 t);
  }
};

/// Keys and values of every position of a sequence, per KV head.
struct History {
  // [kv_head][position] -> headDim values
  std::vector<std::vector<std::vector<double>>> keys, values;
  explicit History(int64_t kvHeads)
      : keys(size_t(kvHeads)), values(size_t(kvHeads)) {}
  void append(const std::vector<float> &k, const std::vector<float> &v,
              size_t row, int64_t headDim) {
    for (size_t g = 0; g < keys.size(); ++g) {
      size_t base = (row * keys.size() + g) * size_t(headDim);
      keys[g].emplace_back(k.begin() + ptrdiff_t(base),
                           k.begin() + ptrdiff_t(base + size_t(headDim)));
      values[g].emplace_back(v.begin() + ptrdiff_t(base),
                             v.begin() + ptrdiff_t(base + size_t(headDim)));
    }
  }
};

/// The expected output row of a token at `position` attending over `h`.
std::vector<double> expectedRow(const AttentionParams &p, const History &h,
                                const std::vector<float> &q, size_t row,
                                int64_t position) {
  std::vector<double> out;
  int64_t first = 0;
  if (p.window > 0)
    first = std::max<int64_t>(first, position - p.window + 1);
  if (p.chunk > 0)
    first = std::max<int64_t>(first, position - position % p.chunk);
  for (int64_t head = 0; head < p.heads; ++head) {
    size_t g = size_t(head / (p.heads / p.kvHeads));
    std::vector<double> qh(
        q.begin() + ptrdiff_t((row * size_t(p.heads) + size_t(head)) *
                              size_t(p.headDim)),
        q.begin() + ptrdiff_t((row * size_t(p.heads) + size_t(head) + 1) *
                              size_t(p.headDim)));
    std::vector<double> o =
        attend(qh.data(), h.keys[g], h.values[g], size_t(first),
               size_t(position), p.scale, p.softcap,
               p.sinks.empty() ? std::nullopt
                               : std::optional<double>(p.sinks[size_t(head)]));
    out.insert(out.end(), o.begin(), o.end());
  }
  return out;
}

/// Runs steps of `stepSize` tokens of one sequence up to `total` positions
/// and checks every output row.
void runSequence(AttentionFixture &f, int64_t total, int64_t stepSize,
                 int64_t expectedCapacity, uint64_t seed) {
  OpRunner r(f.t);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.backend().cacheCapacity(0), expectedCapacity);
  History history(f.p.kvHeads);
  for (int64_t start = 0; start < total; start += stepSize) {
    int64_t n = std::min(stepSize, total - start);
    size_t kvElems = size_t(n * f.p.kvHeads * f.p.headDim);
    std::vector<float> qs = randomValues(size_t(n * f.p.heads * f.p.headDim),
                                         seed + uint64_t(start), 2.0f);
    std::vector<float> ks =
        randomValues(kvElems, seed + 1000 + uint64_t(start));
    std::vector<float> vs =
        randomValues(kvElems, seed + 2000 + uint64_t(start));
    r.set(f.q, qs);
    r.set(f.k, ks);
    r.set(f.v, vs);
    std::vector<int32_t> positions;
    for (int64_t i = 0; i < n; ++i) {
      positions.push_back(int32_t(start + i));
      history.append(ks, vs, size_t(i), f.p.headDim);
    }
    r.run(positions);
    std::vector<double> want;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> row =
          expectedRow(f.p, history, qs, size_t(i), start + i);
      want.insert(want.end(), row.begin(), row.end());
    }
    SCOPED_TRACE("step at position " + std::to_string(start));
    expectClose(r.get(f.out, n), want);
  }
}

TEST(CpuOps, AttentionCausalGQA) {
  AttentionParams p;
  p.heads = 4;
  p.kvHeads = 2;
  p.headDim = 4;
  p.scale = 0.5;
  AttentionFixture f(p, 8, 0);
  // One step of 5 tokens, then single tokens.
  runSequence(f, 5, 5, 64, 30);
  runSequence(f, 7, 1, 64, 31);
}

TEST(CpuOps, AttentionWindowWrapsTheRingBufferOverChunks) {
  AttentionParams p;
  p.heads = 2;
  p.kvHeads = 1;
  p.headDim = 4;
  p.window = 3;
  // capacity = min(64, window + max_tokens - 1) = 4: positions 0..10 wrap
  // the ring almost three times.
  AttentionFixture f(p, 2, 3);
  runSequence(f, 11, 2, 4, 40);
}

TEST(CpuOps, AttentionChunkMask) {
  AttentionParams p;
  p.chunk = 3;
  AttentionFixture f(p, 8, 0);
  runSequence(f, 8, 8, 64, 50);
  runSequence(f, 8, 3, 64, 51);
}

TEST(CpuOps, AttentionSoftcap) {
  AttentionParams p;
  p.scale = 1.0;
  p.softcap = 2.0;
  AttentionFixture f(p, 8, 0);
  runSequence(f, 6, 6, 64, 60);
}

TEST(CpuOps, AttentionSinksJoinEachHeadsDenominator) {
  AttentionParams p;
  p.heads = 4;
  p.kvHeads = 2;
  p.window = 3;
  // A sink far above the scores takes almost all the mass (outputs near 0),
  // one far below takes none; the others sit among the scores.
  p.sinks = {-30.0f, 0.5f, 2.0f, 25.0f};
  AttentionFixture f(p, 8, 0);
  runSequence(f, 7, 7, 64, 65);
  runSequence(f, 7, 1, 64, 66);
}

TEST(CpuOps, AttentionKeepsSequencesApart) {
  AttentionParams p;
  AttentionFixture f(p, 4, 0);
  OpRunner r(f.t, 2, /*maxBatch=*/2);
  ASSERT_TRUE(r.ok());
  std::vector<History> history(2, History(p.kvHeads));
  size_t qRow = size_t(p.heads * p.headDim), kvRow = size_t(p.headDim);
  // Steps of (slot, position) pairs: seq 0 gets 3 tokens, seq 1 gets 2, then
  // one step holds a token of each.
  std::vector<std::vector<std::pair<int32_t, int32_t>>> steps = {
      {{0, 0}, {0, 1}, {0, 2}}, {{1, 0}, {1, 1}}, {{0, 3}, {1, 2}}};
  uint64_t seed = 70;
  for (const auto &step : steps) {
    size_t n = step.size();
    std::vector<float> qs = randomValues(n * qRow, seed++, 2.0f),
                       ks = randomValues(n * kvRow, seed++),
                       vs = randomValues(n * kvRow, seed++);
    r.set(f.q, qs);
    r.set(f.k, ks);
    r.set(f.v, vs);
    std::vector<int32_t> slots, positions;
    for (size_t i = 0; i < n; ++i) {
      slots.push_back(step[i].first);
      positions.push_back(step[i].second);
      history[size_t(step[i].first)].append(ks, vs, i, p.headDim);
    }
    r.run(positions, slots);
    std::vector<double> want;
    for (size_t i = 0; i < n; ++i) {
      std::vector<double> row =
          expectedRow(p, history[size_t(slots[i])], qs, i, positions[i]);
      want.insert(want.end(), row.begin(), row.end());
    }
    expectClose(r.get(f.out, int64_t(n)), want);
  }
}

TEST(CpuOps, LMHead) {
  TestPlan t;
  std::vector<float> w = randomValues(16 * 8, 80);
  P::Operand weight = t.weight("lm_head", {16, 8}, w);
  P::Operand x = t.arena(8), logits = t.arena(16);
  OpRunner r(planWith({lmHeadOp(8, 16, x, weight, logits)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(16, 81);
  r.set(x, xs);
  r.run({0, 1});
  expectClose(r.get(logits, 2), matmul(xs, w, nullptr, 2, 8, 16));
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

TEST(Numerics, Bf16RoundsToNearestEven) {
  EXPECT_EQ(cpu::floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(cpu::floatToBf16(3.14159265f), 0x4049); // 3.140625
  EXPECT_EQ(cpu::bf16ToFloat(0x4049), 3.140625f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.
  EXPECT_EQ(cpu::floatToBf16(1.00390625f), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between odd 1 + 2^-7 and even 1 + 2^-6.
  EXPECT_EQ(cpu::floatToBf16(1.01171875f), 0x3f82);
  EXPECT_EQ(cpu::floatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(cpu::floatToBf16(INFINITY), 0x7f80);
  EXPECT_TRUE(std::isnan(cpu::bf16ToFloat(cpu::floatToBf16(NAN))));
  // Just below the largest float rounds to infinity.
  EXPECT_EQ(cpu::floatToBf16(3.4028235e38f), 0x7f80);
}

TEST(Numerics, F16RoundsToNearestEven) {
  EXPECT_EQ(cpu::floatToF16(1.0f), 0x3c00);
  EXPECT_EQ(cpu::floatToF16(3.14159265f), 0x4248); // 3.140625
  EXPECT_EQ(cpu::floatToF16(65504.0f), 0x7bff);
  EXPECT_EQ(cpu::floatToF16(65519.0f), 0x7bff);
  EXPECT_EQ(cpu::floatToF16(65520.0f), 0x7c00); // rounds to infinity
  EXPECT_EQ(cpu::floatToF16(0x1p-24f), 0x0001); // smallest subnormal
  EXPECT_EQ(cpu::floatToF16(0x1p-25f), 0x0000); // tie to even zero
  EXPECT_EQ(cpu::floatToF16(0x3p-25f), 0x0002); // tie to even 2
  EXPECT_EQ(cpu::floatToF16(-0.0f), 0x8000);
  EXPECT_EQ(cpu::f16ToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(cpu::f16ToFloat(0x03ff), 0x3ffp-24f);
  EXPECT_EQ(cpu::f16ToFloat(0xfc00), -INFINITY);
}

TEST(Numerics, Every16BitValueRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float b = cpu::bf16ToFloat(uint16_t(h)), f = cpu::f16ToFloat(uint16_t(h));
    if (!std::isnan(b)) {
      EXPECT_EQ(cpu::floatToBf16(b), h);
    }
    if (!std::isnan(f)) {
      EXPECT_EQ(cpu::floatToF16(f), h);
    }
  }
}

TEST(Numerics, RoundingMatchesReference) {
  std::vector<float> values = randomValues(100000, 90, 1.0f);
  for (size_t i = 0; i < values.size(); ++i) {
    // Spread over many binades, subnormal f16 included.
    float x = std::ldexp(values[i], int(i % 48) - 30);
    EXPECT_EQ(double(cpu::roundTo(P::DType::BF16, x)), roundBf16(x)) << x;
    EXPECT_EQ(double(cpu::roundTo(P::DType::F16, x)), roundF16(x)) << x;
  }
}

//===----------------------------------------------------------------------===//
// Mixture-of-Experts
//===----------------------------------------------------------------------===//

/// The router in double precision, as plan.fbs's MoERouter states it
/// (selection on score + bias, group-limited; lower index first on ties).
void routerReference(const std::vector<float> &x, const std::vector<float> &w,
                     const std::vector<float> *bias, const MoERouterParams &p,
                     int64_t tokens, std::vector<double> &weights,
                     std::vector<int32_t> &ids) {
  const int64_t E = p.experts, H = p.hidden, per = E / p.groups;
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<double> s(static_cast<size_t>(E), 0.0), c(s.size());
    for (int64_t e = 0; e < E; ++e)
      for (int64_t k = 0; k < H; ++k)
        s[size_t(e)] += double(x[size_t(t * H + k)]) * w[size_t(e * H + k)];
    if (p.scoring == P::RouterScoring::Softmax) {
      double m = *std::max_element(s.begin(), s.end()), sum = 0;
      for (double &v : s)
        sum += v = std::exp(v - m);
      for (double &v : s)
        v /= sum;
    } else {
      for (double &v : s)
        v = 1 / (1 + std::exp(-v));
    }
    for (int64_t e = 0; e < E; ++e)
      c[size_t(e)] = s[size_t(e)] + (bias ? (*bias)[size_t(e)] : 0.0);
    if (p.groups > 1) {
      std::vector<std::pair<double, int64_t>> g;
      for (int64_t q = 0; q < p.groups; ++q) {
        std::vector<double> v(c.begin() + q * per, c.begin() + (q + 1) * per);
        std::sort(v.rbegin(), v.rend());
        g.push_back({-(v[0] + v[1]), q});
      }
      std::sort(g.begin(), g.end()); // best first, lower index on ties
      for (size_t j = size_t(p.topGroups); j < g.size(); ++j)
        for (int64_t e = 0; e < per; ++e)
          c[size_t(g[j].second * per + e)] = -INFINITY;
    }
    std::vector<std::pair<double, int32_t>> order;
    for (int64_t e = 0; e < E; ++e)
      order.push_back({-c[size_t(e)], int32_t(e)});
    std::sort(order.begin(), order.end());
    double sum = 0;
    for (int64_t j = 0; j < p.topK; ++j)
      sum += s[size_t(order[size_t(j)].second)];
    for (int64_t j = 0; j < p.topK; ++j) {
      int32_t e = order[size_t(j)].second;
      ids.push_back(e);
      double v = s[size_t(e)];
      if (p.normalize)
        v /= sum + p.epsilon;
      weights.push_back(v * p.scaling);
    }
  }
}

TEST(CpuOps, MoERouterSoftmaxTopKRenormalized) {
  MoERouterParams p;
  p.hidden = 16;
  p.experts = 6;
  p.topK = 2;
  p.normalize = true;
  const int64_t tokens = 5;
  TestPlan t;
  std::vector<float> w = randomValues(size_t(p.experts * p.hidden), 40, 1.0f);
  P::Operand gate = t.weight("gate", {p.experts, p.hidden}, w);
  P::Operand x = t.arena(uint64_t(p.hidden)), weights = t.arena(2),
             ids = t.arena(2, P::DType::I32);
  OpRunner r(planWith({moeRouterOp(p, x, gate, nullptr, weights, ids)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(size_t(tokens * p.hidden), 41, 1.0f);
  r.set(x, xs);
  r.run({0, 1, 2, 3, 4});
  std::vector<double> want;
  std::vector<int32_t> wantIds;
  routerReference(xs, w, nullptr, p, tokens, want, wantIds);
  EXPECT_EQ(r.getInts(ids, tokens), wantIds);
  expectClose(r.get(weights, tokens), want);
  // The tokens do not all pick the same experts.
  std::set<int32_t> used(wantIds.begin(), wantIds.end());
  EXPECT_GE(used.size(), 4u);
}

TEST(CpuOps, MoERouterSigmoidBiasGroupsScaling) {
  // DeepSeek V3's noaux_tc: sigmoid scores, selection on score + bias, the
  // best 2 of 4 groups (by the sum of their two best), weights from the
  // unbiased scores, renormalized and scaled.
  MoERouterParams p;
  p.hidden = 16;
  p.experts = 8;
  p.topK = 3;
  p.scoring = P::RouterScoring::Sigmoid;
  p.logitsInFp32 = true;
  p.groups = 4;
  p.topGroups = 2;
  p.normalize = true;
  p.epsilon = 1e-20;
  p.scaling = 2.5;
  const int64_t tokens = 6;
  TestPlan t;
  std::vector<float> w = randomValues(size_t(p.experts * p.hidden), 42, 1.0f);
  std::vector<float> b = randomValues(size_t(p.experts), 43, 0.3f);
  P::Operand gate = t.weight("gate", {p.experts, p.hidden}, w);
  P::Operand bias = t.weight("bias", {p.experts}, b);
  P::Operand x = t.arena(uint64_t(p.hidden)), weights = t.arena(3),
             ids = t.arena(3, P::DType::I32);
  OpRunner r(planWith({moeRouterOp(p, x, gate, &bias, weights, ids)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(size_t(tokens * p.hidden), 44, 1.0f);
  r.set(x, xs);
  r.run({0, 1, 2, 3, 4, 5});
  std::vector<double> want, wantNoBias;
  std::vector<int32_t> wantIds, idsNoBias;
  routerReference(xs, w, &b, p, tokens, want, wantIds);
  EXPECT_EQ(r.getInts(ids, tokens), wantIds);
  expectClose(r.get(weights, tokens), want);
  // The bias and the group limit both change choices on these inputs.
  routerReference(xs, w, nullptr, p, tokens, wantNoBias, idsNoBias);
  EXPECT_NE(idsNoBias, wantIds);
  MoERouterParams ungrouped = p;
  ungrouped.groups = ungrouped.topGroups = 1;
  std::vector<double> w1;
  std::vector<int32_t> ids1;
  routerReference(xs, w, &b, ungrouped, tokens, w1, ids1);
  EXPECT_NE(ids1, wantIds);
}

TEST(CpuOps, MoERouterTieRuleIsLowerIndexFirst) {
  // Experts 1, 2 and 4 have identical gate rows, so equal scores for every
  // token: llmc takes the lower index first (1, then 2). torch.topk, which
  // transformers uses, leaves the order of equal values unspecified; on the
  // CPU (torch 2.15) topk([.5, .7, .7, .1, .7], 2) returns indices [2, 4]
  // and the order changes with E and k, so no rule can match it everywhere.
  // Exact ties need identical gate rows; trained routers do not have them.
  MoERouterParams p;
  p.hidden = 8;
  p.experts = 5;
  p.topK = 2;
  TestPlan t;
  std::vector<float> rows = randomValues(8 * 3, 45, 1.0f);
  std::vector<float> w(5 * 8);
  auto setRow = [&](int e, int from) {
    std::copy(rows.begin() + from * 8, rows.begin() + from * 8 + 8,
              w.begin() + e * 8);
  };
  setRow(0, 0);
  setRow(1, 1);
  setRow(2, 1);
  setRow(3, 2);
  setRow(4, 1);
  P::Operand gate = t.weight("gate", {5, 8}, w);
  P::Operand x = t.arena(8), weights = t.arena(2),
             ids = t.arena(2, P::DType::I32);
  OpRunner r(planWith({moeRouterOp(p, x, gate, nullptr, weights, ids)}, t));
  ASSERT_TRUE(r.ok());
  // x along row 1: the tied experts score highest.
  std::vector<float> xs(rows.begin() + 8, rows.begin() + 16);
  r.set(x, xs);
  r.run({0});
  EXPECT_EQ(r.getInts(ids, 1), (std::vector<int32_t>{1, 2}));
  std::vector<float> got = r.get(weights, 1);
  EXPECT_EQ(got[0], got[1]);
}

TEST(CpuOps, MoEExpertsReadTheChosenExperts) {
  // The ids come from a router (the plan verifier requires it); the
  // reference reads the ids and weights the router wrote.
  const int64_t H = 16, I = 12, E = 4, K = 2, tokens = 3;
  TestPlan t;
  MoERouterParams rp;
  rp.hidden = H;
  rp.experts = E;
  rp.topK = K;
  rp.normalize = true;
  std::vector<float> gw = randomValues(size_t(E * H), 49, 1.0f);
  std::vector<float> gu = randomValues(size_t(E * 2 * I * H), 46);
  std::vector<float> dn = randomValues(size_t(E * H * I), 47);
  P::Operand gate = t.weight("gate", {E, H}, gw);
  P::Operand gateUp = t.weight("gate_up", {E, 2 * I, H}, gu);
  P::Operand down = t.weight("down", {E, H, I}, dn);
  P::Operand x = t.arena(uint64_t(H)), weights = t.arena(uint64_t(K)),
             ids = t.arena(uint64_t(K), P::DType::I32), y = t.arena(uint64_t(H));
  OpRunner r(planWith({moeRouterOp(rp, x, gate, nullptr, weights, ids),
                       moeExpertsOp(H, I, E, K, P::Activation::Silu, x,
                                    weights, ids, gateUp, down, y)},
                      t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(size_t(tokens * H), 48, 1.0f);
  r.set(x, xs);
  r.run({0, 1, 2});
  std::vector<float> ws = r.get(weights, tokens);
  std::vector<int32_t> chosen = r.getInts(ids, tokens);
  std::vector<double> want(size_t(tokens * H), 0.0);
  for (int64_t i = 0; i < tokens; ++i)
    for (int64_t j = 0; j < K; ++j) {
      const int64_t e = chosen[size_t(i * K + j)];
      std::vector<double> m(static_cast<size_t>(I));
      for (int64_t n = 0; n < I; ++n) {
        double g = 0, u = 0;
        for (int64_t k = 0; k < H; ++k) {
          g += double(xs[size_t(i * H + k)]) * gu[size_t((e * 2 * I + n) * H + k)];
          u += double(xs[size_t(i * H + k)]) *
               gu[size_t((e * 2 * I + I + n) * H + k)];
        }
        m[size_t(n)] = silu(g) * u;
      }
      for (int64_t n = 0; n < H; ++n) {
        double d = 0;
        for (int64_t k = 0; k < I; ++k)
          d += m[size_t(k)] * dn[size_t((e * H + n) * I + k)];
        want[size_t(i * H + n)] += ws[size_t(i * K + j)] * d;
      }
    }
  expectClose(r.get(y, tokens), want, 1e-5, 1e-5);
}

/// Quantized experts (plan format 1.7) compute exactly what dense experts
/// holding their dequantized values do: each element code * scale of its
/// block in fp32 (WeightRows).
TEST(CpuOps, MoEExpertsDequantizeMXFP4AndFP8Blocks) {
  const int64_t H = 64, I = 32, E = 3, K = 2, tokens = 3;
  struct Format {
    const char *name;
    P::DType values, scales;
    int64_t blockRows, blockCols;
  };
  for (const Format &f :
       {Format{"mxfp4", P::DType::F4E2M1, P::DType::E8M0, 1, 32},
        Format{"fp8 blocks", P::DType::F8E4M3, P::DType::F32, 16, 32}}) {
    SCOPED_TRACE(f.name);
    const bool fp4 = f.values == P::DType::F4E2M1;
    // Codes: exact values of the format; scales: powers of two (e8m0) or
    // any f32.
    auto codes = [&](size_t n, uint64_t seed) {
      static const float kFp4[] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f,
                                   6.0f, -0.5f, -1.0f, -3.0f, -6.0f};
      static const float kFp8[] = {0.125f, -0.25f, 0.875f, -1.5f, 3.0f,
                                   -448.0f, 0.015625f, 13.0f};
      std::vector<float> v(n);
      uint64_t s = seed;
      for (float &x : v) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x = fp4 ? kFp4[(s >> 33) % 12] : kFp8[(s >> 33) % 8];
      }
      return v;
    };
    auto scalesFor = [&](int64_t rows, int64_t cols, uint64_t seed) {
      const int64_t n = E * ((rows + f.blockRows - 1) / f.blockRows) *
                        ((cols + f.blockCols - 1) / f.blockCols);
      std::vector<float> v = randomValues(size_t(n), seed, 1.0f);
      for (float &x : v)
        x = fp4 ? std::ldexp(1.0f, int(std::lround(x * 4.0f)) - 4)
                : std::fabs(x) * 0.01f + 0.001f;
      return v;
    };
    std::vector<float> guCodes = codes(size_t(E * 2 * I * H), 61),
                       dnCodes = codes(size_t(E * H * I), 62);
    std::vector<float> guScales = scalesFor(2 * I, H, 63),
                       dnScales = scalesFor(H, I, 64);
    // The dense twin: each element its code times its block's scale.
    auto dequant = [&](const std::vector<float> &c,
                       const std::vector<float> &sc, int64_t rows,
                       int64_t cols) {
      const int64_t sr = (rows + f.blockRows - 1) / f.blockRows,
                    scols = (cols + f.blockCols - 1) / f.blockCols;
      std::vector<float> w(c.size());
      for (int64_t e = 0; e < E; ++e)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < cols; ++k) {
            const size_t i = size_t((e * rows + r) * cols + k);
            w[i] = c[i] * sc[size_t((e * sr + r / f.blockRows) * scols +
                                    k / f.blockCols)];
          }
      return w;
    };
    std::vector<float> gw = randomValues(size_t(E * H), 65, 1.0f);
    std::vector<float> xs = randomValues(size_t(tokens * H), 66, 0.05f);
    std::vector<std::vector<float>> outs;
    for (bool quantized : {true, false}) {
      TestPlan t;
      MoERouterParams rp;
      rp.hidden = H;
      rp.experts = E;
      rp.topK = K;
      rp.normalize = true;
      P::Operand gate = t.weight("gate", {E, H}, gw);
      P::Operand gateUp =
          quantized ? t.quantizedWeight("gate_up", {E, 2 * I, H}, guCodes,
                                        {1, f.blockRows, f.blockCols},
                                        guScales, f.values, f.scales)
                    : t.weight("gate_up", {E, 2 * I, H},
                               dequant(guCodes, guScales, 2 * I, H));
      P::Operand down =
          quantized ? t.quantizedWeight("down", {E, H, I}, dnCodes,
                                        {1, f.blockRows, f.blockCols},
                                        dnScales, f.values, f.scales)
                    : t.weight("down", {E, H, I},
                               dequant(dnCodes, dnScales, H, I));
      P::Operand x = t.arena(uint64_t(H)), weights = t.arena(uint64_t(K)),
                 ids = t.arena(uint64_t(K), P::DType::I32),
                 y = t.arena(uint64_t(H));
      OpRunner r(planWith({moeRouterOp(rp, x, gate, nullptr, weights, ids),
                           moeExpertsOp(H, I, E, K, P::Activation::Silu, x,
                                        weights, ids, gateUp, down, y)},
                          t));
      ASSERT_TRUE(r.ok());
      r.set(x, xs);
      r.run({0, 1, 2});
      outs.push_back(r.get(y, tokens));
    }
    // Bit for bit: the same fp32 products in the same order.
    EXPECT_EQ(outs[0], outs[1]);
    EXPECT_NE(outs[0], std::vector<float>(size_t(tokens * H), 0.0f));
  }
}

TEST(CpuOps, SigmoidGateScalesEachToken) {
  const int64_t H = 24, N = 10, tokens = 3;
  TestPlan t;
  std::vector<float> w = randomValues(size_t(H), 50, 1.0f);
  P::Operand gate = t.weight("gate", {1, H}, w);
  P::Operand x = t.arena(uint64_t(H)), v = t.arena(uint64_t(N)),
             y = t.arena(uint64_t(N));
  OpRunner r(planWith({sigmoidGateOp(H, N, x, gate, v, y)}, t));
  ASSERT_TRUE(r.ok());
  std::vector<float> xs = randomValues(size_t(tokens * H), 51, 1.0f);
  std::vector<float> vs = randomValues(size_t(tokens * N), 52, 2.0f);
  r.set(x, xs);
  r.set(v, vs);
  r.run({0, 1, 2});
  std::vector<double> want;
  for (int64_t i = 0; i < tokens; ++i) {
    double logit = 0;
    for (int64_t k = 0; k < H; ++k)
      logit += double(xs[size_t(i * H + k)]) * w[size_t(k)];
    const double g = 1 / (1 + std::exp(-logit));
    for (int64_t n = 0; n < N; ++n)
      want.push_back(g * vs[size_t(i * N + n)]);
  }
  expectClose(r.get(y, tokens), want);
}

// StepInputs::logitsFrom: the LM head's kernel runs for the rows asked for
// alone (the rows before them keep what they held), and those rows are
// what a step of all rows computes.
TEST(CpuOps, TheLMHeadRunsForTheRowsAskedFor) {
  TestPlan t = tinyLlama(8);
  // The LM head in a kernel of its own, as the compiler cuts a step.
  for (auto *program : {&t.prefill, &t.decode}) {
    OpSpec head = (*program)[1].back();
    (*program)[1].pop_back();
    program->push_back({head});
  }
  OpRunner r(t, 1);
  ASSERT_TRUE(r.ok());
  const P::Operand logits = t.prefillLogits;
  std::vector<int32_t> tokens = {3, 1, 4, 1}, positions = {0, 1, 2, 3},
                       slots(4, 0);
  auto step = [&](int64_t logitsFrom) {
    StepInputs in{4, tokens.data(), positions.data(), slots.data(),
                  logitsFrom};
    ASSERT_TRUE(r.backend().run(r.prefill(), in).ok());
  };
  step(0);
  const std::vector<float> all = r.get(logits, 4);
  const size_t vocab = logits.row_elems();
  for (int64_t from : {3, 1, 4}) {
    SCOPED_TRACE("logitsFrom " + std::to_string(from));
    r.set(logits, std::vector<float>(4 * vocab, -7.0f));
    step(from);
    const std::vector<float> got = r.get(logits, 4);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], int64_t(i / vocab) < from ? -7.0f : all[i])
          << "row " << i / vocab << ", logit " << i % vocab;
  }
}

} // namespace
} // namespace llmc::runtime::test
