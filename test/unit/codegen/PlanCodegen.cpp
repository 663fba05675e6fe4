//===- PlanCodegen.cpp - code for hand-built test plans -------------------===//

#include "test/unit/codegen/PlanCodegen.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/schema/KernelABI.h"

#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>

namespace llmc::test::plan_codegen {
namespace {

#include "CudaTemplates.inc"

namespace P = llmc::plan;

llvm::Error err(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

const char *typeName(P::DType d) {
  switch (d) {
  case P::DType::F32:
    return "float";
  case P::DType::F16:
    return "f16";
  case P::DType::BF16:
    return "bf16";
  case P::DType::I32:
    return "int";
  }
  return "float";
}

/// Short dtype tag for entry names.
const char *typeTag(P::DType d) {
  switch (d) {
  case P::DType::F32:
    return "f32";
  case P::DType::F16:
    return "f16";
  case P::DType::BF16:
    return "bf16";
  case P::DType::I32:
    return "i32";
  }
  return "x";
}

size_t typeSize(P::DType d) { return size_t(runtime::dtypeSize(d)); }

uint32_t ceilDiv(int64_t a, int64_t b) { return uint32_t((a + b - 1) / b); }

/// An exact float literal (hexadecimal).
std::string floatLiteral(double v) {
  float f = float(v);
  if (f == 0.0f)
    return "0.0f";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%a", double(f)) << "f";
  return s;
}

/// Threads of a norm block for groups of `size` elements: about four
/// elements per thread, whole warps, at most 1024.
int normBlock(int64_t size) {
  int64_t b = 32;
  while (b < 1024 && b * 4 < size)
    b *= 2;
  return int(b);
}

/// One parameter of an entry.
struct Param {
  P::Operand operand;
  bool output = false;
};

class Emitter {
public:
  explicit Emitter(const P::Plan &plan) : plan(plan) {
    maxTokens = plan.memory()->max_tokens();
    maxSeqLen = plan.model()->max_seq_len();
  }

  llvm::Error run() {
    if (auto e = program(*plan.prefill(), /*decode=*/false, out.prefill))
      return e;
    if (auto e = program(*plan.decode(), /*decode=*/true, out.decode))
      return e;
    return llvm::Error::success();
  }

  CudaProgram take() { return std::move(out); }

private:
  llvm::Error program(const P::Program &program, bool decode,
                      std::vector<KernelLaunches> &kernels) {
    isDecode = decode;
    for (const P::Kernel *kernel : *program.kernels()) {
      KernelLaunches &k = kernels.emplace_back();
      k.name = kernel->name()->str();
      current = &k;
      if (!kernel->ops())
        continue;
      const auto &ops = *kernel->ops();
      for (uint32_t i = 0; i < ops.size(); ++i) {
        const P::Op *op = ops.Get(i);
        llvm::Expected<unsigned> linears = linearRun(ops, i);
        if (!linears)
          return err("kernel '" + k.name + "', op '" + op->name()->str() +
                     "': " + llvm::toString(linears.takeError()));
        if (*linears > 0) {
          i += *linears - 1;
          continue;
        }
        if (i + 1 < ops.size() && rmsNormPair(*op, *ops.Get(i + 1))) {
          i += 1;
          continue;
        }
        if (i + 2 < ops.size() &&
            ropeKvCacheWrite(*op, *ops.Get(i + 1), *ops.Get(i + 2))) {
          i += 2;
          continue;
        }
        if (auto e = emitOp(*op))
          return err("kernel '" + k.name + "', op '" + op->name()->str() +
                     "': " + llvm::toString(std::move(e)));
      }
    }
    KernelLaunches greedyLaunches;
    current = &greedyLaunches;
    if (auto e = greedy(*program.logits()))
      return err("greedy sampling: " + llvm::toString(std::move(e)));
    (decode ? out.decodeGreedy : out.prefillGreedy) =
        std::move(greedyLaunches.launches);
    current = nullptr;
    return llvm::Error::success();
  }

  /// Greedy sampling (templates/argmax.cuh): the argmax of each logits row
  /// into out.greedyTokens. Its launches run after the program's, so the
  /// partial keys may reuse scratch the attention partials use.
  llvm::Error greedy(const P::Operand &logits) {
    const int64_t vocab = int64_t(logits.row_elems());
    if (logits.kind() != P::OperandKind::Arena || vocab < 1 ||
        logits.dtype() == P::DType::I32)
      return err("the logits are not a floating-point arena operand");
    // About 8 logits per thread of a 256-thread block per split, at most
    // 64 splits (the final warp reduces 2 keys per lane).
    constexpr int64_t kBlock = 256;
    const int64_t splits =
        std::clamp<int64_t>(ceilDiv(vocab, kBlock * 8), 1, 64);
    const uint64_t partialBytes =
        uint64_t(maxTokens) * uint64_t(splits) * sizeof(uint64_t);
    const uint64_t tokensOffset = (partialBytes + 255) / 256 * 256;
    out.scratchBytes = std::max(
        out.scratchBytes, tokensOffset + uint64_t(maxTokens) * sizeof(int32_t));
    out.greedyTokens =
        P::Operand(P::OperandKind::Scratch, P::DType::I32, 0, tokensOffset, 1);
    // The keys are 64-bit; Scratch operands are typed by the bytes' first
    // use only, so they travel as float pointers and are cast inside.
    P::Operand partial(P::OperandKind::Scratch, P::DType::F32, 0, 0, 0);

    std::vector<Param> first{{logits}, {partial, true}};
    std::string firstCall = llvm::formatv(
        "argmax_partial<{0}, {1}, {2}, {3}>(num_tokens, a0, "
        "reinterpret_cast<unsigned long long *>(a1))",
        vocab, splits, kBlock, typeName(logits.dtype()));
    unsigned e = entry(llvm::formatv("argmax_partial_v{0}_s{1}_{2}", vocab,
                                     splits, typeTag(logits.dtype()))
                           .str(),
                       {k_argmax_cuh}, first, int(kBlock), firstCall, "",
                       false);
    launch(e, first, {uint32_t(splits), 1, 1}, uint32_t(kBlock), 1, 1);

    std::vector<Param> second{{partial}, {out.greedyTokens, true}};
    std::string secondCall = llvm::formatv(
        "argmax_final<{0}>(num_tokens, "
        "reinterpret_cast<const unsigned long long *>(a0), a1)",
        splits);
    unsigned f = entry("argmax_final_s" + std::to_string(splits),
                       {k_argmax_cuh}, second, 32, secondCall, "", false);
    launch(f, second, {1, 1, 1}, 32, 1, 0);
    return llvm::Error::success();
  }

  /// Adds (or finds) the entry `name` whose body calls into `templates`.
  unsigned entry(const std::string &name, std::vector<const char *> templates,
                 const std::vector<Param> &params, int block,
                 const std::string &call, const std::string &extra, bool hot) {
    std::string src;
    llvm::raw_string_ostream os(src);
    os << "// llmc generated kernel: " << name << "\n";
    os << k_prelude_cuh;
    for (const char *t : templates)
      os << t;
    os << "\n" << extra;
    os << "extern \"C\" __global__ void __launch_bounds__(" << block << ", 1) "
       << name << "(int num_tokens";
    for (auto [i, p] : llvm::enumerate(params)) {
      os << ", ";
      switch (p.operand.kind()) {
      case P::OperandKind::KVCache:
        os << "llmc_kv";
        break;
      case P::OperandKind::Input:
        os << "const int *__restrict__";
        break;
      default:
        os << (p.output ? "" : "const ") << typeName(p.operand.dtype())
           << " *__restrict__";
        break;
      }
      os << " a" << i;
    }
    os << ") {\n  " << call << ";\n}\n";
    os.flush();

    std::string unique = name;
    for (int n = 2;; ++n) {
      auto it = index.find(unique);
      if (it == index.end())
        break;
      if (out.entries[it->second].source == src)
        return it->second;
      unique = name + "_v" + std::to_string(n); // same name, other constants
      // Rename inside the source too.
    }
    if (unique != name) {
      size_t at = src.find(" " + name + "(int num_tokens");
      src.replace(at + 1, name.size(), unique);
    }
    unsigned i = unsigned(out.entries.size());
    out.entries.push_back(KernelSource{unique, src, {unique}});
    out.hot.push_back(hot);
    index[unique] = i;
    return i;
  }

  void launch(unsigned entryIndex, const std::vector<Param> &params,
              std::array<uint32_t, 3> grid, uint32_t block,
              uint32_t tokensPerBlock, uint8_t tokenAxis,
              uint32_t minTokens = 1, uint32_t maxTokensLimit = 0) {
    LaunchSpec l;
    l.entry = entryIndex;
    for (const Param &p : params)
      l.args.push_back(p.operand);
    l.grid = grid;
    l.block = block;
    l.tokensPerBlock = tokensPerBlock;
    l.tokenAxis = tokenAxis;
    l.minTokens = minTokens;
    l.maxTokens = maxTokensLimit;
    current->launches.push_back(std::move(l));
  }

  /// "a0, a1, ..." for n parameters.
  static std::string args(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i)
      s += (i ? ", a" : "a") + std::to_string(i);
    return s;
  }

  llvm::Error emitOp(const P::Op &op) {
    const auto &in = *op.inputs();
    switch (op.params_type()) {
    case P::OpParams::Embedding:
      return embedding(op, *op.params_as_Embedding());
    case P::OpParams::RMSNorm:
      return rmsNorm(op, *op.params_as_RMSNorm());
    case P::OpParams::AddRMSNorm:
      return addRmsNorm(op, *op.params_as_AddRMSNorm());
    case P::OpParams::Linear: {
      const P::Linear &p = *op.params_as_Linear();
      return matmul("linear", *in[0], *in[1], nullptr,
                    p.has_bias() ? in[2] : nullptr, *op.outputs()->Get(0),
                    p.in_features(), p.out_features(), -1);
    }
    case P::OpParams::LMHead: {
      const P::LMHead &p = *op.params_as_LMHead();
      return matmul("lm_head", *in[0], *in[1], nullptr, nullptr,
                    *op.outputs()->Get(0), p.hidden(), p.vocab(), -1);
    }
    case P::OpParams::GatedLinear: {
      const P::GatedLinear &p = *op.params_as_GatedLinear();
      return matmul("gated_linear", *in[0], *in[1], in[2], nullptr,
                    *op.outputs()->Get(0), p.in_features(), p.out_features(),
                    int(p.activation()));
    }
    case P::OpParams::GLU:
      return elementwise(op, "glu", op.params_as_GLU()->size(),
                         "glu<" + std::to_string(op.params_as_GLU()->size()) +
                             ", " +
                             std::to_string(int(op.params_as_GLU()->activation())),
                         "");
    case P::OpParams::Add:
      return elementwise(op, "add", op.params_as_Add()->size(),
                         "add<" + std::to_string(op.params_as_Add()->size()),
                         "");
    case P::OpParams::Softcap:
      return elementwise(
          op, "softcap", op.params_as_Softcap()->size(),
          "softcap<" + std::to_string(op.params_as_Softcap()->size()),
          ", " + floatLiteral(op.params_as_Softcap()->cap()));
    case P::OpParams::Rope:
      return rope(op, *op.params_as_Rope());
    case P::OpParams::KVCacheWrite:
      return kvCacheWrite(op);
    case P::OpParams::Attention:
      return attention(op, *op.params_as_Attention());
    case P::OpParams::NONE:
      break;
    }
    return err("op kind not supported by the CUDA code generator");
  }

  llvm::Error embedding(const P::Op &op, const P::Embedding &p) {
    const P::Operand &table = *op.inputs()->Get(1);
    const P::Operand &y = *op.outputs()->Get(0);
    std::vector<Param> params{{*op.inputs()->Get(0)}, {table}, {y, true}};
    std::string name = llvm::formatv("embedding_v{0}_h{1}_{2}_{3}", p.vocab(),
                                     p.hidden(), typeTag(table.dtype()),
                                     typeTag(y.dtype()));
    std::string call = llvm::formatv(
        "embedding<{0}, {1}, {2}, {3}>(a0, a1, a2, {4})", p.vocab(), p.hidden(),
        typeName(table.dtype()), typeName(y.dtype()), floatLiteral(p.scale()));
    unsigned e = entry(name, {k_elementwise_cuh}, params, 256, call, "", false);
    launch(e, params, {ceilDiv(p.hidden(), 256), 1, 1}, 256, 1, 1);
    return llvm::Error::success();
  }

  llvm::Error rmsNorm(const P::Op &op, const P::RMSNorm &p) {
    const P::Operand &x = *op.inputs()->Get(0);
    const P::Operand &y = *op.outputs()->Get(0);
    bool weighted = p.variant() != P::RMSNormVariant::NoWeight;
    int64_t groups = int64_t(x.row_elems()) / p.size();
    if (groups * p.size() != int64_t(x.row_elems()))
      return err("row of " + llvm::Twine(x.row_elems()) +
                 " elements is not whole groups of " + llvm::Twine(p.size()));
    std::vector<Param> params{{x}};
    if (weighted)
      params.push_back({*op.inputs()->Get(1)});
    params.push_back({y, true});
    int block = normBlock(p.size());
    const char *wType = weighted ? typeName(params[1].operand.dtype()) : "float";
    std::string name = llvm::formatv(
        "rms_norm_s{0}_g{1}_var{2}_{3}_{4}_{5}", p.size(), groups,
        int(p.variant()), typeTag(x.dtype()),
        weighted ? typeTag(params[1].operand.dtype()) : "none",
        typeTag(y.dtype()));
    std::string call = llvm::formatv(
        "rms_norm<{0}, {1}, {2}, {3}, {4}, {5}, {6}>(a0, {7}, {8}, {9})",
        p.size(), groups, block, int(p.variant()), typeName(x.dtype()), wType,
        typeName(y.dtype()), weighted ? "a1" : "(const float *)nullptr",
        weighted ? "a2" : "a1", floatLiteral(p.eps()));
    unsigned e = entry(name, {k_norm_cuh}, params, block, call, "", false);
    launch(e, params, {uint32_t(groups), 1, 1}, uint32_t(block), 1, 0);
    return llvm::Error::success();
  }

  /// Two RMSNorms of one size, variant, eps and types in a row (Qwen3's
  /// per-head Q and K norms): one rms_norm_pair launch. False, emitting
  /// nothing, for anything else or where one's output overlaps the other's
  /// operands.
  bool rmsNormPair(const P::Op &a, const P::Op &b) {
    if (a.params_type() != P::OpParams::RMSNorm ||
        b.params_type() != P::OpParams::RMSNorm)
      return false;
    const P::RMSNorm &pa = *a.params_as_RMSNorm(), &pb = *b.params_as_RMSNorm();
    const P::Operand &x0 = *a.inputs()->Get(0), &x1 = *b.inputs()->Get(0);
    const P::Operand &y0 = *a.outputs()->Get(0), &y1 = *b.outputs()->Get(0);
    const bool weighted = pa.variant() != P::RMSNormVariant::NoWeight;
    const int64_t size = pa.size();
    if (pb.size() != size || pb.variant() != pa.variant() ||
        pb.eps() != pa.eps() || size < 1 || x0.dtype() != x1.dtype() ||
        y0.dtype() != y1.dtype() ||
        (weighted &&
         a.inputs()->Get(1)->dtype() != b.inputs()->Get(1)->dtype()) ||
        int64_t(x0.row_elems()) % size != 0 ||
        int64_t(x1.row_elems()) % size != 0 ||
        int64_t(y0.row_elems()) != int64_t(x0.row_elems()) ||
        int64_t(y1.row_elems()) != int64_t(x1.row_elems()))
      return false;
    if (overlap(y0, x1) || overlap(y1, x0) || overlap(y0, y1))
      return false;
    const int64_t g0 = int64_t(x0.row_elems()) / size;
    const int64_t g1 = int64_t(x1.row_elems()) / size;
    std::vector<Param> params{{x0}};
    if (weighted)
      params.push_back({*a.inputs()->Get(1)});
    params.push_back({y0, true});
    params.push_back({x1});
    if (weighted)
      params.push_back({*b.inputs()->Get(1)});
    params.push_back({y1, true});
    const int block = normBlock(size);
    const std::string noWeight = "(const float *)nullptr";
    const char *wType =
        weighted ? typeName(a.inputs()->Get(1)->dtype()) : "float";
    std::string name = llvm::formatv(
        "rms_norm2_s{0}_g{1}_g{2}_var{3}_{4}_{5}_{6}", size, g0, g1,
        int(pa.variant()), typeTag(x0.dtype()),
        weighted ? typeTag(a.inputs()->Get(1)->dtype()) : "none",
        typeTag(y0.dtype()));
    std::string call = llvm::formatv(
        "rms_norm_pair<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}>(a0, {8}, {9}, "
        "{10}, {11}, {12}, {13})",
        size, g0, g1, block, int(pa.variant()), typeName(x0.dtype()), wType,
        typeName(y0.dtype()), weighted ? "a1" : noWeight,
        weighted ? "a2" : "a1", weighted ? "a3" : "a2",
        weighted ? "a4" : noWeight, weighted ? "a5" : "a3",
        floatLiteral(pa.eps()));
    unsigned e = entry(name, {k_norm_cuh}, params, block, call, "", false);
    launch(e, params, {uint32_t(g0 + g1), 1, 1}, uint32_t(block), 1, 0);
    return true;
  }

  llvm::Error addRmsNorm(const P::Op &op, const P::AddRMSNorm &p) {
    const P::Operand &x = *op.inputs()->Get(0);
    const P::Operand &r = *op.inputs()->Get(1);
    const P::Operand &normed = *op.outputs()->Get(0);
    const P::Operand &sum = *op.outputs()->Get(1);
    bool weighted = p.variant() != P::RMSNormVariant::NoWeight;
    std::vector<Param> params{{x}, {r}};
    if (weighted)
      params.push_back({*op.inputs()->Get(2)});
    params.push_back({normed, true});
    params.push_back({sum, true});
    int block = normBlock(p.size());
    std::string name = llvm::formatv(
        "add_rms_norm_s{0}_var{1}_{2}_{3}_{4}", p.size(), int(p.variant()),
        typeTag(x.dtype()),
        weighted ? typeTag(params[2].operand.dtype()) : "none",
        typeTag(normed.dtype()));
    std::string call = llvm::formatv(
        "add_rms_norm<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}>(a0, a1, {8}, "
        "{9}, {10}, {11})",
        p.size(), block, int(p.variant()), typeName(x.dtype()),
        typeName(r.dtype()),
        weighted ? typeName(params[2].operand.dtype()) : "float",
        typeName(normed.dtype()), typeName(sum.dtype()),
        weighted ? "a2" : "(const float *)nullptr", weighted ? "a3" : "a2",
        weighted ? "a4" : "a3", floatLiteral(p.eps()));
    unsigned e = entry(name, {k_norm_cuh}, params, block, call, "", false);
    launch(e, params, {1, 1, 1}, uint32_t(block), 1, 0);
    return llvm::Error::success();
  }

  /// Linear, LM head and gated linear (act >= 0): a GEMV launch for steps
  /// of at most kGemvTokens tokens and a GEMM launch above.
  static constexpr int kGemvTokens = 16;
  /// A matmul's entry parameters and the pieces of its template calls.
  struct MatmulArgs {
    std::vector<Param> params; // x, w, [w2], [bias], y
    std::string w2Arg, biasType, biasArg, yArg;
    std::string types, shape, flags; // for entry names
  };

  static MatmulArgs matmulArgs(const P::Operand &x, const P::Operand &w,
                               const P::Operand *w2, const P::Operand *bias,
                               const P::Operand &y, int64_t k, int64_t n,
                               int act) {
    bool gated = act >= 0;
    MatmulArgs m;
    m.params = {{x}, {w}};
    if (gated)
      m.params.push_back({*w2});
    if (bias)
      m.params.push_back({*bias});
    m.params.push_back({y, true});
    m.w2Arg = gated ? "a2"
                    : "(const " + std::string(typeName(w.dtype())) +
                          " *)nullptr";
    m.biasType = bias ? typeName(bias->dtype()) : "float";
    m.biasArg =
        bias ? "a" + std::to_string(gated ? 3 : 2) : "(const float *)nullptr";
    m.yArg = "a" + std::to_string(m.params.size() - 1);
    m.types = llvm::formatv("{0}_{1}_{2}", typeTag(x.dtype()),
                            typeTag(w.dtype()), typeTag(y.dtype()));
    m.shape = llvm::formatv("n{0}_k{1}", n, k);
    m.flags = std::string(bias ? "_bias" : "") +
              (gated ? "_act" + std::to_string(act) : "");
    return m;
  }

  /// Whether the GEMV reads 16-byte vectors of W and x.
  static bool gemvVectorized(const P::Operand &x, const P::Operand &w,
                             int64_t k) {
    size_t v = 16 / typeSize(w.dtype());
    return k % int64_t(v) == 0 &&
           (k * int64_t(typeSize(x.dtype()))) % 16 == 0;
  }

  /// A GEMV launch for steps of up to kGemvTokens tokens (all steps when
  /// max_tokens is no more) and a GEMM launch above. `withGemv` false: only
  /// the GEMM (the GEMV is part of a gemv_multi launch).
  llvm::Error matmul(const char *kind, const P::Operand &x,
                     const P::Operand &w, const P::Operand *w2,
                     const P::Operand *bias, const P::Operand &y, int64_t k,
                     int64_t n, int act, bool withGemv = true) {
    const bool gated = act >= 0;
    const MatmulArgs m = matmulArgs(x, w, w2, bias, y, k, n, act);
    const bool gemmNeeded = maxTokens > kGemvTokens;
    if (withGemv) {
      // GEMV: one warp per output row, 8 rows per block.
      bool vec = gemvVectorized(x, w, k);
      std::string gemvCall = llvm::formatv(
          "gemv<{0}, {1}, {13}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}>("
          "num_tokens, a0, a1, {10}, {11}, {12})",
          n, k, vec ? "true" : "false", bias ? "true" : "false",
          gated ? "true" : "false", gated ? act : 0, typeName(x.dtype()),
          typeName(w.dtype()), m.biasType, typeName(y.dtype()), m.w2Arg,
          m.biasArg, m.yArg,
          gated ? 4 : 8); // tokens per pass: two rows' sums fit at 4
      unsigned gemv = entry(std::string(kind) + "_gemv_" + m.shape + "_" +
                                m.types + m.flags + (vec ? "" : "_scalar"),
                            {k_gemv_cuh}, m.params, 256, gemvCall, "", true);
      // Steps of at most max_tokens tokens: no GEMM when those are few.
      launch(gemv, m.params, {ceilDiv(n, 8), 1, 1}, 256, 0, 0, 1,
             gemmNeeded ? kGemvTokens : 0);
    }
    if (!gemmNeeded)
      return llvm::Error::success();

    // GEMM: tensor cores when x, W and y share a 16-bit type.
    bool mma = x.dtype() == w.dtype() && x.dtype() == y.dtype() &&
               (x.dtype() == P::DType::BF16 || x.dtype() == P::DType::F16) &&
               k % 32 == 0;
    std::string gemmCall;
    if (mma)
      gemmCall = llvm::formatv(
          "gemm_mma<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}>(num_tokens, a0, "
          "a1, {8}, {9}, {10})",
          n, k, bias ? "true" : "false", gated ? "true" : "false",
          gated ? act : 0, typeName(x.dtype()), m.biasType,
          typeName(y.dtype()), m.w2Arg, m.biasArg, m.yArg);
    else
      gemmCall = llvm::formatv(
          "gemm_simt<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}>(num_tokens, "
          "a0, a1, {9}, {10}, {11})",
          n, k, bias ? "true" : "false", gated ? "true" : "false",
          gated ? act : 0, typeName(x.dtype()), typeName(w.dtype()),
          m.biasType, typeName(y.dtype()), m.w2Arg, m.biasArg, m.yArg);
    int block = mma ? 128 : 256;
    unsigned gemm =
        entry(std::string(kind) + (mma ? "_gemm_mma_" : "_gemm_simt_") +
                  m.shape + "_" + m.types + m.flags,
              {mma ? k_gemm_mma_cuh : k_gemm_simt_cuh}, m.params, block,
              gemmCall, "", true);
    launch(gemm, m.params, {ceilDiv(n, 64), 1, 1}, uint32_t(block), 64, 1,
           kGemvTokens + 1, 0);
    return llvm::Error::success();
  }

  /// Two or three Linear ops in a row over the same x (a layer's Q, K and
  /// V projections): one gemv_multi launch for small steps, each one's GEMM
  /// launch for large ones. Returns how many ops it took (0: not this
  /// pattern, nothing emitted).
  llvm::Expected<unsigned> linearRun(const flatbuffers::Vector<
                                         flatbuffers::Offset<P::Op>> &ops,
                                     uint32_t first) {
    std::vector<const P::Op *> run;
    for (uint32_t i = first; i < ops.size() && run.size() < 3; ++i) {
      const P::Op *op = ops.Get(i);
      if (op->params_type() != P::OpParams::Linear)
        break;
      if (!run.empty()) {
        const P::Op &head = *run.front();
        const P::Linear &a = *head.params_as_Linear();
        const P::Linear &b = *op->params_as_Linear();
        const P::Operand &x = *head.inputs()->Get(0);
        bool biasTypesAgree =
            !a.has_bias() || !b.has_bias() ||
            head.inputs()->Get(2)->dtype() == op->inputs()->Get(2)->dtype();
        if (!sameOperand(*op->inputs()->Get(0), x) ||
            a.in_features() != b.in_features() ||
            head.inputs()->Get(1)->dtype() != op->inputs()->Get(1)->dtype() ||
            head.outputs()->Get(0)->dtype() !=
                op->outputs()->Get(0)->dtype() ||
            !biasTypesAgree)
          break;
      }
      run.push_back(op);
    }
    if (run.size() < 2)
      return 0u;
    // Run at once, no output may land on x or on another output.
    const P::Operand &x = *run.front()->inputs()->Get(0);
    for (size_t i = 0; i < run.size(); ++i) {
      const P::Operand &y = *run[i]->outputs()->Get(0);
      if (overlap(y, x))
        return 0u;
      for (size_t j = 0; j < i; ++j)
        if (overlap(y, *run[j]->outputs()->Get(0)))
          return 0u;
    }

    const P::Operand &w0 = *run.front()->inputs()->Get(1);
    const P::Operand &y0 = *run.front()->outputs()->Get(0);
    const int64_t k = run.front()->params_as_Linear()->in_features();
    std::string biasType = "float";
    for (const P::Op *op : run)
      if (op->params_as_Linear()->has_bias())
        biasType = typeName(op->inputs()->Get(2)->dtype());
    std::vector<Param> params{{x}};
    std::array<int64_t, 3> n{0, 0, 0};
    std::array<std::string, 3> w, b, y; // each matrix's arguments
    std::string name = "linear_gemv" + std::to_string(run.size());
    std::string biasFlags;
    uint32_t blocks = 0;
    for (size_t i = 0; i < 3; ++i) {
      b[i] = "(const " + biasType + " *)nullptr";
      y[i] = "(" + std::string(typeName(y0.dtype())) + " *)nullptr";
      w[i] = "(const " + std::string(typeName(w0.dtype())) + " *)nullptr";
      if (i >= run.size())
        continue;
      const P::Op &op = *run[i];
      const P::Linear &p = *op.params_as_Linear();
      n[i] = p.out_features();
      params.push_back({*op.inputs()->Get(1)});
      w[i] = "a" + std::to_string(params.size() - 1);
      if (p.has_bias()) {
        params.push_back({*op.inputs()->Get(2)});
        b[i] = "a" + std::to_string(params.size() - 1);
      }
      params.push_back({*op.outputs()->Get(0), true});
      y[i] = "a" + std::to_string(params.size() - 1);
      name += "_n" + std::to_string(n[i]);
      biasFlags += p.has_bias() ? "b" : "";
      blocks += ceilDiv(n[i], 8);
    }
    bool vec = gemvVectorized(x, w0, k);
    auto hasBias = [&](size_t i) {
      return i < run.size() && run[i]->params_as_Linear()->has_bias();
    };
    name += llvm::formatv("_k{0}_{1}_{2}_{3}", k, typeTag(x.dtype()),
                          typeTag(w0.dtype()), typeTag(y0.dtype()))
                .str();
    if (!biasFlags.empty())
      name += "_bias" + std::to_string(hasBias(0)) +
              std::to_string(hasBias(1)) + std::to_string(hasBias(2));
    if (!vec)
      name += "_scalar";
    std::string call = llvm::formatv(
        "gemv_multi<{0}, {1}, {2}, {3}, 8, 8, {4}, {5}, {6}, {7}, {8}, {9}, "
        "{10}, {11}>(num_tokens, a0, {12}, {13}, {14}, {15}, {16}, {17}, {18}, "
        "{19}, {20})",
        n[0], n[1], n[2], k, vec ? "true" : "false",
        hasBias(0) ? "true" : "false", hasBias(1) ? "true" : "false",
        hasBias(2) ? "true" : "false", typeName(x.dtype()),
        typeName(w0.dtype()), biasType, typeName(y0.dtype()), w[0], b[0],
        y[0], w[1], b[1], y[1], w[2], b[2], y[2]);
    unsigned e = entry(name, {k_gemv_cuh}, params, 256, call, "", true);
    const bool gemmNeeded = maxTokens > kGemvTokens;
    launch(e, params, {blocks, 1, 1}, 256, 0, 0, 1,
           gemmNeeded ? kGemvTokens : 0);
    for (const P::Op *op : run) {
      const P::Linear &p = *op->params_as_Linear();
      if (auto err = matmul("linear", *op->inputs()->Get(0),
                            *op->inputs()->Get(1), nullptr,
                            p.has_bias() ? op->inputs()->Get(2) : nullptr,
                            *op->outputs()->Get(0), p.in_features(),
                            p.out_features(), -1, /*withGemv=*/false))
        return err;
    }
    return unsigned(run.size());
  }

  /// GLU, Add, Softcap: `head` is the template call up to its sizes, `tail`
  /// extra call arguments.
  llvm::Error elementwise(const P::Op &op, const char *kind, int64_t size,
                          const std::string &head, const std::string &tail) {
    std::vector<Param> params;
    std::string types;
    for (const P::Operand *o : *op.inputs()) {
      params.push_back({*o});
      types += std::string(", ") + typeName(o->dtype());
    }
    const P::Operand &y = *op.outputs()->Get(0);
    params.push_back({y, true});
    types += std::string(", ") + typeName(y.dtype());
    std::string tags;
    for (const Param &p : params)
      tags += std::string("_") + typeTag(p.operand.dtype());
    std::string call =
        head + types + ">(" + args(params.size()) + tail + ")";
    std::string name = std::string(kind) + "_s" + std::to_string(size) + tags;
    if (!tail.empty()) // constants in the call: keep names distinct
      name += "_" + llvm::utohexstr(llvm::hash_value(tail));
    unsigned e = entry(name, {k_elementwise_cuh}, params, 256, call, "", false);
    launch(e, params, {ceilDiv(size, 256), 1, 1}, 256, 1, 1);
    return llvm::Error::success();
  }

  /// The rope's inverse frequencies as a __device__ table of the source.
  static std::string invFreqTable(const P::Rope &p) {
    std::string table = "__device__ const float llmc_inv_freq[" +
                        std::to_string(p.inv_freq()->size()) + "] = {";
    for (float f : *p.inv_freq())
      table += floatLiteral(f) + ", ";
    return table + "};\n";
  }

  /// The frequencies and scaling are part of the source: a hash of them
  /// for the entry's name.
  static std::string ropeHash(const P::Rope &p) {
    return llvm::utohexstr(llvm::hash_value(
        invFreqTable(p) + floatLiteral(p.attention_scaling())));
  }

  static bool sameOperand(const P::Operand &a, const P::Operand &b) {
    return a.kind() == b.kind() && a.dtype() == b.dtype() &&
           a.index() == b.index() && a.offset() == b.offset() &&
           a.row_elems() == b.row_elems();
  }

  /// Whether two arena operands' max_tokens rows share bytes.
  bool overlap(const P::Operand &a, const P::Operand &b) const {
    if (a.kind() != P::OperandKind::Arena || b.kind() != P::OperandKind::Arena)
      return false;
    auto end = [&](const P::Operand &o) {
      return o.offset() + uint64_t(maxTokens) * o.row_elems() *
                              uint64_t(typeSize(o.dtype()));
    };
    return a.offset() < end(b) && b.offset() < end(a);
  }

  /// rope(q), rope(k) (either order), kv_cache_write(rotated k, v) as one
  /// launch (templates/elementwise.cuh rope_kv_cache_write), the rotated
  /// keys still stored to the arena: the same bytes as the three ops, one
  /// launch instead of three. False, emitting nothing, where the ops are
  /// not that pattern or running them at once could change a result.
  bool ropeKvCacheWrite(const P::Op &a, const P::Op &b, const P::Op &w) {
    if (a.params_type() != P::OpParams::Rope ||
        b.params_type() != P::OpParams::Rope ||
        w.params_type() != P::OpParams::KVCacheWrite)
      return false;
    const P::Operand &key = *w.inputs()->Get(0);
    const P::Operand &value = *w.inputs()->Get(1);
    const P::Operand &cache = *w.inputs()->Get(2);
    const P::Operand &slots = *w.inputs()->Get(3);
    const P::Operand &positions = *w.inputs()->Get(4);
    const P::Op *qOp = &a, *kOp = &b;
    if (sameOperand(*a.outputs()->Get(0), key))
      std::swap(qOp, kOp);
    if (!sameOperand(*kOp->outputs()->Get(0), key))
      return false;
    const P::Rope &qp = *qOp->params_as_Rope(), &kp = *kOp->params_as_Rope();
    const P::Operand &qIn = *qOp->inputs()->Get(0);
    const P::Operand &qOut = *qOp->outputs()->Get(0);
    const P::Operand &kIn = *kOp->inputs()->Get(0);
    const P::Operand &kOut = key;
    auto freqs = [](const P::Rope &p) {
      return p.inv_freq() ? std::vector<float>(p.inv_freq()->begin(),
                                               p.inv_freq()->end())
                          : std::vector<float>();
    };
    if (qp.head_dim() != kp.head_dim() || qp.rotary_dim() != kp.rotary_dim() ||
        qp.layout() != kp.layout() ||
        qp.attention_scaling() != kp.attention_scaling() ||
        freqs(qp) != freqs(kp) ||
        int64_t(freqs(kp).size()) != kp.rotary_dim() / 2 ||
        !sameOperand(*qOp->inputs()->Get(1), positions) ||
        !sameOperand(*kOp->inputs()->Get(1), positions) ||
        int64_t(key.row_elems()) != kp.heads() * kp.head_dim() ||
        value.row_elems() != key.row_elems())
      return false;
    // Run at once, no write may land on what another part reads.
    if (overlap(qOut, kIn) || overlap(qOut, value) || overlap(qOut, kOut) ||
        overlap(kOut, qIn) || overlap(kOut, value))
      return false;

    std::vector<Param> params{{qIn},   {qOut, true}, {kIn},   {kOut, true},
                              {value}, {cache},      {slots}, {positions}};
    const char *layout =
        kp.layout() == P::RopeLayout::Interleaved ? "interleaved" : "half";
    std::string name = llvm::formatv(
        "rope_kv_cache_write_hq{0}_hk{1}_d{2}_r{3}_{4}_{5}_{6}_{7}_{8}_{9}_{10}_"
        "{11}",
        qp.heads(), kp.heads(), kp.head_dim(), kp.rotary_dim(), layout,
        typeTag(qIn.dtype()), typeTag(qOut.dtype()), typeTag(kIn.dtype()),
        typeTag(kOut.dtype()), typeTag(value.dtype()), typeTag(cache.dtype()),
        ropeHash(kp));
    std::string call = llvm::formatv(
        "rope_kv_cache_write<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, "
        "{10}>(a0, a1, a2, a3, a4, a5, a6, a7, llmc_inv_freq, {11})",
        qp.heads(), kp.heads(), kp.head_dim(), kp.rotary_dim(),
        kp.layout() == P::RopeLayout::Interleaved ? "true" : "false",
        typeName(qIn.dtype()), typeName(qOut.dtype()), typeName(kIn.dtype()),
        typeName(kOut.dtype()), typeName(value.dtype()),
        typeName(cache.dtype()), floatLiteral(kp.attention_scaling()));
    unsigned e = entry(name, {k_elementwise_cuh}, params, 128, call,
                       invFreqTable(kp), false);
    int64_t perHead = kp.rotary_dim() / 2 + (kp.head_dim() - kp.rotary_dim());
    int64_t threads = (qp.heads() + kp.heads()) * perHead +
                      kp.heads() * kp.head_dim();
    launch(e, params, {ceilDiv(threads, 128), 1, 1}, 128, 1, 1);
    return true;
  }

  llvm::Error rope(const P::Op &op, const P::Rope &p) {
    const P::Operand &x = *op.inputs()->Get(0);
    const P::Operand &y = *op.outputs()->Get(0);
    int64_t half = p.rotary_dim() / 2;
    if (!p.inv_freq() || int64_t(p.inv_freq()->size()) != half)
      return err("rope needs rotary_dim / 2 inverse frequencies");
    std::vector<Param> params{{x}, {*op.inputs()->Get(1)}, {y, true}};
    std::string table = invFreqTable(p);
    std::string name = llvm::formatv(
        "rope_h{0}_d{1}_r{2}_{3}_{4}_{5}_{6}", p.heads(), p.head_dim(),
        p.rotary_dim(),
        p.layout() == P::RopeLayout::Interleaved ? "interleaved" : "half",
        typeTag(x.dtype()), typeTag(y.dtype()), ropeHash(p));
    std::string call = llvm::formatv(
        "rope<{0}, {1}, {2}, {3}, {4}, {5}>(a0, a1, a2, llmc_inv_freq, {6})",
        p.heads(), p.head_dim(), p.rotary_dim(),
        p.layout() == P::RopeLayout::Interleaved ? "true" : "false",
        typeName(x.dtype()), typeName(y.dtype()),
        floatLiteral(p.attention_scaling()));
    unsigned e = entry(name, {k_elementwise_cuh}, params, 128, call, table,
                       false);
    int64_t threads = p.heads() * half + p.heads() * (p.head_dim() - p.rotary_dim());
    launch(e, params, {ceilDiv(threads, 128), 1, 1}, 128, 1, 1);
    return llvm::Error::success();
  }

  llvm::Error kvCacheWrite(const P::Op &op) {
    const P::Operand &k = *op.inputs()->Get(0);
    const P::Operand &v = *op.inputs()->Get(1);
    const P::Operand &cache = *op.inputs()->Get(2);
    std::vector<Param> params{{k},
                              {v},
                              {cache},
                              {*op.inputs()->Get(3)},
                              {*op.inputs()->Get(4)}};
    int64_t row = int64_t(k.row_elems());
    std::string name = llvm::formatv("kv_cache_write_r{0}_{1}_{2}_{3}", row,
                                     typeTag(k.dtype()), typeTag(v.dtype()),
                                     typeTag(cache.dtype()));
    std::string call = llvm::formatv(
        "kv_cache_write<{0}, {1}, {2}, {3}>(a0, a1, a2, a3, a4)", row,
        typeName(k.dtype()), typeName(v.dtype()), typeName(cache.dtype()));
    unsigned e = entry(name, {k_elementwise_cuh}, params, 256, call, "", false);
    launch(e, params, {ceilDiv(row, 256), 1, 1}, 256, 1, 1);
    return llvm::Error::success();
  }

  llvm::Error attention(const P::Op &op, const P::Attention &p) {
    const P::Operand &q = *op.inputs()->Get(0);
    const P::Operand &cache = *op.inputs()->Get(1);
    const P::Operand &slots = *op.inputs()->Get(2);
    const P::Operand &positions = *op.inputs()->Get(3);
    const P::Operand &y = *op.outputs()->Get(0);
    if (p.kv_heads() < 1 || p.heads() % p.kv_heads() != 0)
      return err("heads must be a multiple of kv_heads");
    int64_t d = p.head_dim();
    bool softcap = p.softcap() > 0;
    std::string common = llvm::formatv(
        "h{0}_kv{1}_d{2}_w{3}_c{4}{5}_{6}_{7}_{8}", p.heads(), p.kv_heads(), d,
        p.window(), p.chunk(), softcap ? "_softcap" : "", typeTag(q.dtype()),
        typeTag(cache.dtype()), typeTag(y.dtype()));
    std::string consts =
        floatLiteral(p.scale()) + ", " + floatLiteral(softcap ? p.softcap() : 1.0);
    std::string scaleTag =
        "_" + llvm::utohexstr(llvm::hash_value(consts)); // constants in the call

    if (!isDecode) {
      // Keys and values of one tile stay under 32 KiB of shared memory.
      int64_t kt = 32;
      while (kt > 8 && 2 * kt * d * int64_t(typeSize(cache.dtype())) > 32768)
        kt /= 2;
      if (2 * kt * d * int64_t(typeSize(cache.dtype())) > 32768)
        return err("head_dim " + llvm::Twine(d) +
                   " too large for the attention kernel's shared tiles");
      std::vector<Param> params{{q}, {cache}, {slots}, {positions}, {y, true}};
      std::string call = llvm::formatv(
          "attn_prefill<{0}, {1}, {2}, {3}, {4}, 16, {5}, {6}, {7}, {8}, "
          "{9}>(num_tokens, a0, a1, a2, a3, a4, {10})",
          p.heads(), p.kv_heads(), d, p.window(), p.chunk(), kt,
          softcap ? "true" : "false", typeName(q.dtype()),
          typeName(cache.dtype()), typeName(y.dtype()), consts);
      unsigned e = entry("attention_prefill_" + common + scaleTag,
                         {k_attention_cuh}, params, 128, call, "", true);
      launch(e, params, {uint32_t(p.heads()), 1, 1}, 128, 16, 1);
      return llvm::Error::success();
    }

    // Decode: about 256 positions per split at the longest sequence, at most
    // 16 splits.
    int64_t splits = std::clamp<int64_t>(maxSeqLen / 256, 1, 16);
    uint64_t partialBytes = uint64_t(maxTokens) * uint64_t(p.heads()) *
                            uint64_t(splits) * uint64_t(d + 2) * 4;
    out.scratchBytes = std::max(out.scratchBytes, partialBytes);
    P::Operand scratch(P::OperandKind::Scratch, P::DType::F32, 0, 0, 0);
    std::vector<Param> split{{q}, {cache}, {slots}, {positions}, {scratch, true}};
    std::string splitCall = llvm::formatv(
        "attn_decode_split<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, "
        "{8}>(num_tokens, a0, a1, a2, a3, a4, {9})",
        p.heads(), p.kv_heads(), d, p.window(), p.chunk(), splits,
        softcap ? "true" : "false", typeName(q.dtype()),
        typeName(cache.dtype()), consts);
    unsigned e = entry("attention_decode_split" + std::to_string(splits) + "_" +
                           common + scaleTag,
                       {k_attention_cuh}, split, 128, splitCall, "", true);
    launch(e, split, {uint32_t(p.heads()), 1, uint32_t(splits)}, 128, 1, 1);

    std::vector<Param> combine{{scratch}, {y, true}};
    std::string combineCall =
        llvm::formatv("attn_decode_combine<{0}, {1}, {2}, {3}>(a0, a1)",
                      p.heads(), d, splits, typeName(y.dtype()));
    unsigned c = entry(llvm::formatv("attention_decode_combine{0}_h{1}_d{2}_{3}",
                                     splits, p.heads(), d, typeTag(y.dtype()))
                           .str(),
                       {k_attention_cuh}, combine, 128, combineCall, "", false);
    launch(c, combine, {uint32_t(p.heads()), 1, 1}, 128, 1, 1);
    return llvm::Error::success();
  }

  const P::Plan &plan;
  CudaProgram out;
  std::map<std::string, unsigned> index;
  KernelLaunches *current = nullptr;
  bool isDecode = false;
  int64_t maxTokens = 0, maxSeqLen = 0;
};

} // namespace

llvm::Expected<CudaProgram> generateCuda(const P::Plan &plan) {
  if (!plan.prefill() || !plan.decode() || !plan.memory() || !plan.model())
    return err("the plan has no programs to generate code for");
  Emitter emitter(plan);
  if (auto e = emitter.run())
    return e;
  return emitter.take();
}

} // namespace llmc::test::plan_codegen

