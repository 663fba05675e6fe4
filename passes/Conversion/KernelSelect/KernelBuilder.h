//===- KernelBuilder.h - what recipes build kernel.calls with ---*- C++ -*-===//
//
// Kernel selection walks each kernel.launch's body and, at each op, tries
// the recipes in order (fusions first): a recipe that matches the ops from
// that point covers them with kernel.call ops, built here from typed
// pieces, and says how many ops it took. One recipe file per op family
// (Matmul, Norm, Attention, Elementwise, MoE, Sampling).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_CONVERSION_KERNELSELECT_KERNELBUILDER_H
#define LLMC_PASSES_CONVERSION_KERNELSELECT_KERNELBUILDER_H

#include "dialects/kernel/IR/KernelOps.h"
#include "dialects/kernel/IR/Storage.h"

#include "mlir/IR/Builders.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <utility>

namespace llmc::kernel_select {

/// What selection knows of the step it works on.
struct StepInfo {
  int64_t maxTokens = 0; // kernel.max_tokens
  int64_t maxSeqLen = 0; // the longest sequence a session may hold
  bool decode = false;
};

class KernelBuilder;

/// A recipe: covers ops[first...] with calls and returns how many ops it
/// took; 0 when it does not apply; failure after emitting an error.
using Recipe = mlir::FailureOr<unsigned> (*)(llvm::ArrayRef<mlir::Operation *>
                                                 ops,
                                             unsigned first,
                                             KernelBuilder &b);

/// One kernel.call being put together.
struct Call {
  std::string callee; // template function, e.g. "gemv"
  std::string entry;  // the entry's name before uniquing
  llvm::SmallVector<mlir::Attribute> templateArgs;
  llvm::SmallVector<mlir::Attribute> args;
  llvm::SmallVector<mlir::Value> buffers;
  llvm::SmallVector<bool> writes;
  /// Per buffer: a quantized weight passed for its scales (scalesOf) or
  /// its zero points (zerosOf).
  llvm::SmallVector<bool> scales, zeros;
  std::array<int32_t, 3> grid{1, 1, 1};
  int32_t block = 1;
  int32_t tokensPerBlock = 0;
  int32_t tokenAxis = 0;
  int32_t minTokens = 1;
  int32_t maxTokens = 0; // 0: no bound
  bool hot = false;
  int32_t dynamicShared = 0; // bytes of LLMC_DYNAMIC_SHARED per block
  std::vector<float> invFreq; // the llmc_inv_freq table, if any
};

class KernelBuilder {
public:
  KernelBuilder(mlir::OpBuilder &b, const StepInfo &step,
                std::map<std::string, mlir::Operation *> &entries,
                uint64_t &scratchBytes, llvm::ArrayRef<Recipe> recipes)
      : b(b), step(step), entries(entries), scratchBytes(scratchBytes),
        recipes(recipes) {}

  /// While alive, the calls created run only for step token counts in
  /// [minTokens, maxTokens] (0: no bound) as well as in their own range; a
  /// call left with no count is not created. A fusion uses it to run its
  /// fused kernels for some counts and the ops' own ones for the rest.
  class TokenRange {
  public:
    TokenRange(KernelBuilder &b, int32_t minTokens, int32_t maxTokens)
        : b(b), saved(b.range) {
      b.range = {std::max(saved.first, minTokens),
                 maxTokens == 0    ? saved.second
                 : saved.second == 0 ? maxTokens
                                     : std::min(saved.second, maxTokens)};
    }
    ~TokenRange() { b.range = saved; }

  private:
    KernelBuilder &b;
    std::pair<int32_t, int32_t> saved;
  };

  /// Covers ops[first...] with the pass's recipes (fusions first), as the
  /// driver does; returns how many ops they took (0: none applies).
  mlir::FailureOr<unsigned> select(llvm::ArrayRef<mlir::Operation *> ops,
                                   unsigned first);

  const StepInfo &info() const { return step; }
  mlir::MLIRContext *context() { return b.getContext(); }

  // Template arguments.
  mlir::Attribute i(int64_t v) { return b.getI64IntegerAttr(v); }
  mlir::Attribute flag(bool v) { return b.getBoolAttr(v); }
  mlir::Attribute type(mlir::Type t) { return mlir::TypeAttr::get(t); }
  /// An f32 constant (also as a call argument).
  mlir::Attribute f(double v) { return b.getF32FloatAttr(float(v)); }

  // Call arguments.
  /// Adds `v` as the call's next operand; returns its argument.
  mlir::Attribute operand(Call &c, mlir::Value v, bool writes = false) {
    c.buffers.push_back(v);
    c.writes.push_back(writes);
    c.scales.push_back(false);
    c.zeros.push_back(false);
    return b.getI64IntegerAttr(int64_t(c.buffers.size() - 1));
  }
  /// Adds the f32 scales of the quantized weight `w` as the call's next
  /// operand (a `const float *`); returns its argument.
  mlir::Attribute scalesOf(Call &c, mlir::Value w) {
    mlir::Attribute a = operand(c, w);
    c.scales.back() = true;
    return a;
  }
  /// Adds the zero points of the quantized weight `w` (which has them) as
  /// the call's next operand (a `const signed char *`); returns its
  /// argument.
  mlir::Attribute zerosOf(Call &c, mlir::Value w) {
    mlir::Attribute a = operand(c, w);
    c.zeros.back() = true;
    return a;
  }
  /// A null `const T *` (an absent input).
  mlir::Attribute null(mlir::Type t) { return mlir::TypeAttr::get(t); }
  /// A null `T *` (an absent output).
  mlir::Attribute nullOutput(mlir::Type t) {
    return mlir::ArrayAttr::get(context(), {mlir::TypeAttr::get(t)});
  }
  mlir::Attribute numTokens() { return b.getStringAttr("num_tokens"); }
  mlir::Attribute invFreqTable() { return b.getStringAttr("llmc_inv_freq"); }

  /// Scratch bytes [offset, offset + bytes) for this step, viewed as
  /// `element` with `rowElems` per token.
  mlir::Value scratch(mlir::Location loc, uint64_t offset, uint64_t bytes,
                      uint64_t rowElems, mlir::Type element);

  /// Creates the kernel.call, giving it a unique entry name: calls with
  /// another template call under the same name become NAME_v2, ...
  void create(mlir::Location loc, Call c);

  /// Where a value lives (kernel/IR/Storage.h); an error for the recipe.
  llvm::Expected<kernel::Storage> storage(mlir::Value v) {
    return kernel::resolveStorage(v);
  }
  /// Whether two values' arena bytes overlap (false when either is not in
  /// the arena or has no storage).
  bool overlap(mlir::Value a, mlir::Value b);
  /// Whether two values live in the same place.
  bool same(mlir::Value a, mlir::Value b);

private:
  mlir::OpBuilder &b;
  const StepInfo &step;
  std::map<std::string, mlir::Operation *> &entries;
  uint64_t &scratchBytes;
  llvm::ArrayRef<Recipe> recipes;
  std::pair<int32_t, int32_t> range{1, 0}; // TokenRange's [min, max]
};

// Each family's recipes, fusions first (MatmulRecipes.cpp, ...).
void addMatmulRecipes(llvm::SmallVectorImpl<Recipe> &fusions,
                      llvm::SmallVectorImpl<Recipe> &single);
void addNormRecipes(llvm::SmallVectorImpl<Recipe> &fusions,
                    llvm::SmallVectorImpl<Recipe> &single);
void addElementwiseRecipes(llvm::SmallVectorImpl<Recipe> &fusions,
                           llvm::SmallVectorImpl<Recipe> &single);
void addAttentionRecipes(llvm::SmallVectorImpl<Recipe> &fusions,
                         llvm::SmallVectorImpl<Recipe> &single);
void addMoERecipes(llvm::SmallVectorImpl<Recipe> &fusions,
                   llvm::SmallVectorImpl<Recipe> &single);
void addMLARecipes(llvm::SmallVectorImpl<Recipe> &fusions,
                   llvm::SmallVectorImpl<Recipe> &single);
/// The flash-decoding merge of `splits` partials per (token, head) of width
/// d (+ max and sum) into `out`, with the value-less `sinks` logit per head
/// when given (AttentionRecipes.cpp; also used by latent attention).
void attentionCombineCall(mlir::Location loc, int64_t heads, int64_t d,
                          int64_t splits, mlir::Value partial,
                          mlir::Value sinks, mlir::Value out,
                          KernelBuilder &b);
/// Greedy sampling of `logits`: the calls of a kernel.greedy body; returns
/// the tokens' scratch value.
mlir::FailureOr<mlir::Value> selectGreedy(mlir::Value logits,
                                          mlir::Location loc,
                                          KernelBuilder &b);

// Shared by the recipes.
/// "f32", "f16", "bf16", "i32": short type tags for entry names.
std::string typeTag(mlir::Type t);
/// The element type of a tensor or of a KV cache.
mlir::Type elementOf(mlir::Value v);
/// Elements per token of an activation [?, d1, ...].
int64_t rowElems(mlir::Value v);
inline int32_t ceilDiv(int64_t a, int64_t b) { return int32_t((a + b - 1) / b); }
/// Bytes per element of f32/f16/bf16/i32.
inline int64_t bytesOf(mlir::Type t) { return t.getIntOrFloatBitWidth() / 8; }
/// A short hash of text that is part of an entry's source (constants in
/// its call, a frequency table), for entry names.
std::string hashTag(llvm::StringRef text);
/// The inverse-frequency table as the entry's source declares it.
std::string invFreqDeclaration(llvm::ArrayRef<float> invFreq);

} // namespace llmc::kernel_select

#endif // LLMC_PASSES_CONVERSION_KERNELSELECT_KERNELBUILDER_H
