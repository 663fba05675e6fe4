//===- PlanVerifier.cpp - check every field the interpreter trusts --------===//
//
// After flatbuffers::Verifier has checked that the plan's bytes form a valid
// Plan, this checks that its values make sense: every index in range, every
// size consistent with the shapes the ops imply, every arena operand inside
// the arena for max_tokens rows, every weight inside the file with the bytes
// its checksum says, and (format 1.1) every launch of generated code against
// the code section. The CPU interpreter and the CUDA backend rely on all of
// it and check nothing again.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/verify/PlanChecker.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/Checked.h"
#include "runtime/src/PlanFile.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace llmc::runtime {

namespace verify {

namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

bool isFloat(P::DType d) {
  return d == P::DType::F32 || d == P::DType::F16 || d == P::DType::BF16;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
  return buf;
}

const char *kindName(P::OperandKind kind) {
  switch (kind) {
  case P::OperandKind::Arena:
    return "an arena operand";
  case P::OperandKind::Weight:
    return "a weight";
  case P::OperandKind::Input:
    return "a step input";
  case P::OperandKind::KVCache:
    return "a KV cache";
  case P::OperandKind::Scratch:
    return "a scratch operand";
  }
  return "an operand of unknown kind";
}
} // namespace

Status PlanChecker::run() {
  LLMC_RETURN_IF_ERROR(checkAlignment());
  LLMC_RETURN_IF_ERROR(checkModel());
  LLMC_RETURN_IF_ERROR(checkMemory());
  LLMC_RETURN_IF_ERROR(checkKVCaches());
  LLMC_RETURN_IF_ERROR(checkWeightLayout());
  LLMC_RETURN_IF_ERROR(checkCudaCode());
  LLMC_RETURN_IF_ERROR(
      checkProgram(plan_.prefill(), "prefill", P::Step::Prefill));
  LLMC_RETURN_IF_ERROR(checkProgram(plan_.decode(), "decode", P::Step::Decode));
  // Last: the checks that read every byte of the file.
  LLMC_RETURN_IF_ERROR(checkPadding());
  return checkWeightChecksums();
}

namespace {

/// Whether the elements of `v` (if any) lie at a multiple of their alignment.
/// flatbuffers' verifier checks a vector's length field, not that 8-byte
/// elements after it are aligned; reading misaligned ones is undefined. (An
/// empty vector's data may be anywhere: flatbuffers does not align it.)
template <typename T> bool aligned(const flatbuffers::Vector<T> *v) {
  using Element =
      std::remove_pointer_t<typename flatbuffers::Vector<T>::return_type>;
  return !v || v->size() == 0 ||
         reinterpret_cast<uintptr_t>(v->Data()) % alignof(Element) == 0;
}

} // namespace

Status PlanChecker::checkAlignment() {
  if (const auto *weights = plan_.weights())
    for (uint32_t i = 0; i < weights->size(); ++i)
      if (!aligned(weights->Get(i)->shape()))
        return fail("weight " + std::to_string(i) +
                    ": shape is not 8-byte aligned");
  auto launches = [&](const auto *list, const std::string &what) -> Status {
    if (list)
      for (uint32_t l = 0; l < list->size(); ++l)
        if (!aligned(list->Get(l)->args()))
          return fail(what + " launch " + std::to_string(l) +
                      ": args are not 8-byte aligned");
    return Status::success();
  };
  for (const P::Program *program : {plan_.prefill(), plan_.decode()}) {
    if (!program)
      continue;
    std::string name = program == plan_.prefill() ? "prefill" : "decode";
    LLMC_RETURN_IF_ERROR(launches(program->greedy(), name + " greedy"));
    if (!program->kernels())
      continue;
    for (uint32_t k = 0; k < program->kernels()->size(); ++k) {
      const P::Kernel *kernel = program->kernels()->Get(k);
      std::string what = name + " kernel " + std::to_string(k);
      LLMC_RETURN_IF_ERROR(launches(kernel->launches(), what));
      if (const auto *ops = kernel->ops())
        for (uint32_t o = 0; o < ops->size(); ++o)
          if (!aligned(ops->Get(o)->inputs()) ||
              !aligned(ops->Get(o)->outputs()))
            return fail(what + " op " + std::to_string(o) +
                        ": operands are not 8-byte aligned");
    }
  }
  return Status::success();
}

Status PlanChecker::checkModel() {
  // Strings and vectors every reader (the runtime, llmc inspect) uses
  // without looking: required, although flatbuffers makes them optional.
  if (!plan_.producer())
    return fail("no producer");
  if (!plan_.targets())
    return fail("no targets");
  if (!plan_.weights())
    return fail("no weights table");
  if (!plan_.kv_caches())
    return fail("no kv_caches table");
  const P::Model *model = plan_.model();
  if (!model)
    return fail("no model table");
  if (!model->model_type())
    return fail("model has no model_type");
  if (model->vocab_size() < 1 || model->vocab_size() > kInt32Max)
    return fail("model.vocab_size " + std::to_string(model->vocab_size()) +
                " is not in [1, 2^31)");
  if (model->hidden_size() < 1)
    return fail("model.hidden_size " + std::to_string(model->hidden_size()) +
                " is not positive");
  if (model->num_layers() < 0)
    return fail("model.num_layers " + std::to_string(model->num_layers()) +
                " is negative");
  if (model->max_seq_len() < 1 || model->max_seq_len() > kInt32Max)
    return fail("model.max_seq_len " + std::to_string(model->max_seq_len()) +
                " is not in [1, 2^31)");
  if (!isFloat(model->dtype()))
    return fail(std::string("model.dtype is ") + dtypeName(model->dtype()) +
                "; expected f32, f16 or bf16");
  vocab_ = model->vocab_size();
  return Status::success();
}

Status PlanChecker::checkMemory() {
  const P::MemoryPlan *memory = plan_.memory();
  if (!memory)
    return fail("no memory table");
  if (memory->max_tokens() < 1 || memory->max_tokens() > kInt32Max)
    return fail("memory.max_tokens " + std::to_string(memory->max_tokens()) +
                " is not in [1, 2^31)");
  uint32_t alignment = memory->alignment();
  // Kernels issue 16-byte vector loads and stores on arena operands.
  if (alignment < kMinArenaAlignment || alignment > 4096 ||
      (alignment & (alignment - 1)) != 0)
    return fail("memory.alignment " + std::to_string(alignment) +
                " is not a power of two in [" +
                std::to_string(kMinArenaAlignment) + ", 4096]");
  // Format 1.9: paged KV caches; 0 (older plans): one page per sequence.
  const int64_t page = memory->kv_page_tokens();
  if (page < 0 || page > kMaxKvPageTokens || (page & (page - 1)) != 0)
    return fail("memory.kv_page_tokens " + std::to_string(page) +
                " is not 0 or a power of two up to " +
                std::to_string(kMaxKvPageTokens));
  maxTokens_ = uint64_t(memory->max_tokens());
  arenaBytes_ = memory->arena_bytes();
  return Status::success();
}

Status PlanChecker::checkKVCaches() {
  int64_t layers = plan_.model()->num_layers();
  const auto *caches = plan_.kv_caches();
  int64_t count = caches ? int64_t(caches->size()) : 0;
  if (count != layers)
    return fail("plan has " + std::to_string(count) + " KV cache layouts for " +
                std::to_string(layers) + " layers");
  for (int64_t i = 0; i < count; ++i) {
    const P::KVCacheLayout *c = caches->Get(uint32_t(i));
    std::string what = "KV cache " + std::to_string(i) + ": ";
    uint64_t rowElems;
    if (c->kv_heads() < 1 || c->head_dim() < 1 ||
        !checkedMul(uint64_t(c->kv_heads()), uint64_t(c->head_dim()), rowElems))
      return fail(what + "kv_heads " + std::to_string(c->kv_heads()) +
                  " and head_dim " + std::to_string(c->head_dim()) +
                  " must be positive");
    // Format 1.8: FP8 keys and values with per-head scales.
    if (!isFloat(c->dtype()) &&
        !(c->dtype() == P::DType::F8E4M3 && c->latent_dim() == 0))
      return fail(what + "dtype is " + dtypeName(c->dtype()) +
                  (c->latent_dim() > 0
                       ? "; expected f32, f16 or bf16 for a latent cache"
                       : "; expected f32, f16, bf16 or f8e4m3"));
    // Format 1.9: a ring of ring_rows positions, at least the window.
    if (c->ring_rows() != 0 &&
        (c->window() <= 0 || c->ring_rows() < c->window() ||
         c->ring_rows() > kInt32Max))
      return fail(what + "ring_rows " + std::to_string(c->ring_rows()) +
                  " is not 0 or in [window, 2^31) of a windowed cache");
    if (c->window() < 0)
      return fail(what + "window " + std::to_string(c->window()) +
                  " is negative");
    if (c->latent_dim() < 0)
      return fail(what + "latent_dim " + std::to_string(c->latent_dim()) +
                  " is negative");
    // A latent cache: one head of latent + rope (even) elements, no window.
    if (c->latent_dim() > 0 &&
        (c->kv_heads() != 1 || c->window() != 0 ||
         c->head_dim() <= c->latent_dim() ||
         (c->head_dim() - c->latent_dim()) % 2 != 0))
      return fail(what + "a latent cache (latent_dim " +
                  std::to_string(c->latent_dim()) +
                  ") needs kv_heads 1, no window and an even rope width "
                  "head_dim - latent_dim > 0");
  }
  return Status::success();
}

Status PlanChecker::checkWeightLayout() {
  uint64_t alignment = plan_.weight_alignment();
  if (alignment < kMinWeightAlignment || (alignment & (alignment - 1)) != 0)
    return fail(
        "weight_alignment " + std::to_string(alignment) +
        " is not a power of two >= " + std::to_string(kMinWeightAlignment));
  uint64_t offset = plan_.weights_offset(), size = plan_.weights_size();
  if (offset % kWeightSectionAlignment != 0)
    return fail("weights_offset " + std::to_string(offset) +
                " is not a multiple of " +
                std::to_string(kWeightSectionAlignment));
  uint64_t end;
  if (!checkedAdd(offset, size, end))
    return fail("weights_offset " + std::to_string(offset) +
                " + weights_size " + std::to_string(size) + " overflows");
  if (end > fileSize_)
    return fail("truncated: file is " + std::to_string(fileSize_) +
                " bytes, weight section ends at " + std::to_string(end));
  if (size > 0 && offset < headerEnd_)
    return fail("weight section at " + std::to_string(offset) +
                " overlaps the header, which ends at " +
                std::to_string(headerEnd_));
  const auto *weights = plan_.weights();
  if (!weights)
    return Status::success();
  // The weights that are some quantized weight's zero points: plain I8.
  std::vector<bool> zeroPoints(weights->size(), false);
  for (const P::Weight *w : *weights)
    if (w->quant() && w->quant()->zeros() >= 0 &&
        w->quant()->zeros() < int64_t(weights->size()))
      zeroPoints[size_t(w->quant()->zeros())] = true;
  for (uint32_t i = 0; i < weights->size(); ++i) {
    const P::Weight *w = weights->Get(i);
    std::string what = "weight " + std::to_string(i);
    if (!w->name())
      return fail(what + " has no name");
    what += " \"" + w->name()->str() + "\": ";
    if (dtypeBits(w->dtype()) == 0)
      return fail(what + "invalid dtype " +
                  std::to_string(unsigned(w->dtype())));
    if (w->layout() != P::WeightLayout::RowMajor)
      return fail(what + "unknown layout " +
                  std::to_string(unsigned(w->layout())));
    if (!w->shape())
      return fail(what + "no shape");
    uint64_t elements = 1;
    for (int64_t dim : *w->shape()) {
      if (dim < 0)
        return fail(what + "negative dimension " + std::to_string(dim));
      if (!checkedMul(elements, uint64_t(dim), elements))
        return fail(what + "shape overflows");
    }
    uint64_t bytes = elements / 2 + elements % 2; // I4, F4E2M1: two per byte
    if (!isNibble(w->dtype()) &&
        !checkedMul(elements, dtypeSize(w->dtype()), bytes))
      return fail(what + "shape overflows");
    if (bytes != w->size())
      return fail(what + "size " + std::to_string(w->size()) +
                  " bytes, but its shape and dtype make " +
                  std::to_string(bytes));
    LLMC_RETURN_IF_ERROR(checkQuant(*weights, i, what, zeroPoints[i]));
    if (w->offset() % alignment != 0)
      return fail(what + "offset " + std::to_string(w->offset()) +
                  " is not a multiple of weight_alignment " +
                  std::to_string(alignment));
    uint64_t wEnd;
    if (!checkedAdd(w->offset(), w->size(), wEnd) || wEnd > size)
      return fail(
          what + "bytes [" + std::to_string(w->offset()) + ", " +
          std::to_string(w->offset()) + " + " + std::to_string(w->size()) +
          ") exceed the weight section of " + std::to_string(size) + " bytes");
  }
  return Status::success();
}

/// Weight `i`'s quantization (WeightQuant): f8e4m3, i4, i8 or f4e2m1
/// values exactly when quantized (i4 and f4e2m1 rows of an even length, so
/// that each starts on a byte), a block per dimension (1 in every dimension
/// but the last two), scales of shape ceil(shape / block) that are not
/// themselves quantized: f32 for f8e4m3 values; f32, f16 or bf16 for i4 and
/// i8; e8m0 for f4e2m1 (and e8m0 only for those).
Status PlanChecker::checkQuant(
    const flatbuffers::Vector<flatbuffers::Offset<P::Weight>> &weights,
    uint32_t i, const std::string &what, bool zeroPoints) {
  const P::Weight *w = weights.Get(i);
  const P::WeightQuant *q = w->quant();
  const bool fp4 = w->dtype() == P::DType::F4E2M1;
  const bool integer = w->dtype() == P::DType::I4 || w->dtype() == P::DType::I8;
  if (!q) {
    if (zeroPoints && w->dtype() == P::DType::I8)
      return Status::success();
    if (w->dtype() == P::DType::F8E4M3 || integer || fp4)
      return fail(what + dtypeName(w->dtype()) +
                  " values without their scales (quant)");
    return Status::success();
  }
  if (w->dtype() != P::DType::F8E4M3 && !integer && !fp4)
    return fail(what + "quantized values must be f8e4m3, i4, i8 or f4e2m1, "
                       "got " +
                dtypeName(w->dtype()));
  const auto *shape = w->shape();
  if (isNibble(w->dtype()) &&
      (shape->size() == 0 || shape->Get(shape->size() - 1) % 2 != 0))
    return fail(what + dtypeName(w->dtype()) +
                " values need an even last dimension (each row starts on a "
                "byte)");
  if (!q->block() || q->block()->size() != shape->size())
    return fail(what + "quant.block needs one extent per dimension (" +
                std::to_string(shape->size()) + ")");
  std::vector<int64_t> scaleShape;
  for (uint32_t d = 0; d < shape->size(); ++d) {
    const int64_t dim = shape->Get(d), b = q->block()->Get(d);
    if (b < 1 || b > std::max<int64_t>(dim, 1))
      return fail(what + "quant.block extent " + std::to_string(b) +
                  " of dimension " + std::to_string(d) + " is not in [1, " +
                  std::to_string(dim) + "]");
    if (d + 2 < shape->size() && b != 1)
      return fail(what + "quant.block extent " + std::to_string(b) +
                  " of dimension " + std::to_string(d) +
                  ": blocks span only the last two dimensions");
    scaleShape.push_back((dim + b - 1) / b);
  }
  if (q->scales() >= weights.size() || q->scales() == i)
    return fail(what + "quant.scales " + std::to_string(q->scales()) +
                " is not another weight of the plan");
  const P::Weight *s = weights.Get(q->scales());
  const bool scaleType =
      fp4 ? s->dtype() == P::DType::E8M0
          : s->dtype() == P::DType::F32 ||
                (integer &&
                 (s->dtype() == P::DType::F16 || s->dtype() == P::DType::BF16));
  if (!scaleType || s->quant() || !s->shape())
    return fail(what + "its scales (weight " + std::to_string(q->scales()) +
                ") must be plain " +
                (fp4 ? "e8m0" : integer ? "f32, f16 or bf16" : "f32"));
  std::vector<int64_t> actual(s->shape()->begin(), s->shape()->end());
  if (actual != scaleShape)
    return fail(what + "its scales have shape " + shapeString(actual) +
                ", expected " + shapeString(scaleShape));
  if (q->zeros() == -1)
    return Status::success();
  if (!integer)
    return fail(what + "zero points need i4 or i8 values");
  if (q->zeros() < 0 || q->zeros() >= int64_t(weights.size()) ||
      q->zeros() == int64_t(i) || q->zeros() == int64_t(q->scales()))
    return fail(what + "quant.zeros " + std::to_string(q->zeros()) +
                " is not another weight of the plan");
  const P::Weight *z = weights.Get(uint32_t(q->zeros()));
  if (z->dtype() != P::DType::I8 || z->quant() || !z->shape())
    return fail(what + "its zero points (weight " +
                std::to_string(q->zeros()) + ") must be plain i8");
  std::vector<int64_t> zeroShape(z->shape()->begin(), z->shape()->end());
  if (zeroShape != scaleShape)
    return fail(what + "its zero points have shape " +
                shapeString(zeroShape) + ", expected " +
                shapeString(scaleShape));
  return Status::success();
}

Status PlanChecker::checkPadding() {
  // The file ends where the weight section does (checkWeightLayout made
  // sure it does not end before).
  uint64_t end = plan_.weights_offset() + plan_.weights_size();
  if (fileSize_ > end)
    return fail(std::to_string(fileSize_ - end) +
                " bytes of trailing data after the weight section, which "
                "ends at " +
                std::to_string(end));
  // Every byte no checksum covers must be zero: between the flatbuffer and
  // its checksum, between the header and the weight section, and between
  // weights.
  auto zero = [&](uint64_t from, uint64_t to, const char *where) -> Status {
    for (uint64_t i = from; i < to; ++i)
      if (file_[i] != 0)
        return fail("byte " + std::to_string(i) + " (" + where +
                    ") is not zero: the file is corrupted");
    return Status::success();
  };
  uint32_t sizePrefix;
  std::memcpy(&sizePrefix, file_, 4);
  LLMC_RETURN_IF_ERROR(zero(4 + uint64_t(sizePrefix), headerEnd_ - 8,
                            "padding before the header checksum"));
  LLMC_RETURN_IF_ERROR(zero(headerEnd_, plan_.weights_offset(),
                            "padding before the weight section"));
  std::vector<std::pair<uint64_t, uint64_t>> used;
  if (const auto *weights = plan_.weights())
    for (const P::Weight *w : *weights)
      used.emplace_back(w->offset(), w->offset() + w->size());
  std::sort(used.begin(), used.end());
  uint64_t at = 0; // within the weight section
  const uint64_t base = plan_.weights_offset();
  for (const auto &[from, to] : used) {
    if (from > at)
      LLMC_RETURN_IF_ERROR(
          zero(base + at, base + from, "padding between weights"));
    at = std::max(at, to);
  }
  return zero(base + at, end, "padding after the last weight");
}

Status PlanChecker::checkWeightChecksums() {
  const auto *weights = plan_.weights();
  if (!weights)
    return Status::success();
  const uint8_t *section = file_ + plan_.weights_offset();
  for (uint32_t i = 0; i < weights->size(); ++i) {
    const P::Weight *w = weights->Get(i);
    uint64_t computed = checksum(section + w->offset(), size_t(w->size()));
    if (computed != w->checksum())
      return fail("weight " + std::to_string(i) + " \"" + w->name()->str() +
                  "\": checksum mismatch (stored " + hex64(w->checksum()) +
                  ", computed " + hex64(computed) + "): the file is corrupted");
  }
  return Status::success();
}

/// Format 1.1's code section: every entry compiled for every target.
Status PlanChecker::checkCudaCode() {
  const P::CudaCode *cuda = plan_.cuda();
  if (!cuda)
    return Status::success();
  if (!cuda->targets() || cuda->targets()->size() == 0)
    return fail("cuda.targets is empty");
  for (const auto *target : *cuda->targets()) {
    bool listed = false;
    if (const auto *targets = plan_.targets())
      for (const auto *t : *targets)
        listed |= t->string_view() == target->string_view();
    if (target->size() == 0)
      return fail("cuda.targets holds an empty name");
    if (!listed)
      return fail("CUDA target \"" + target->str() +
                  "\" is not one of the plan's targets");
  }
  if (!cuda->nvrtc_version())
    return fail("cuda.nvrtc_version is missing");
  const auto *entries = cuda->entries();
  for (uint32_t i = 0; entries && i < entries->size(); ++i) {
    const P::CodeEntry *entry = entries->Get(i);
    if (!entry->name() || entry->name()->size() == 0)
      return fail("CUDA entry " + std::to_string(i) + " has no name");
    std::string what =
        "CUDA entry " + std::to_string(i) +
        (entry->name() ? " \"" + entry->name()->str() + "\"" : std::string()) +
        ": ";
    for (const auto *target : *cuda->targets()) {
      const P::CodeBinary *binary = nullptr;
      if (const auto *binaries = entry->binaries())
        for (const P::CodeBinary *b : *binaries)
          if (!binary && b->target() &&
              b->target()->string_view() == target->string_view())
            binary = b;
      std::string code = what + target->str() + " code ";
      if (!binary)
        return fail(what + "no code for target " + target->str());
      if (!binary->cubin() || binary->cubin()->size() == 0)
        return fail(code + "has no cubin");
      // The driver reads PTX as a C string.
      if (!binary->ptx() || binary->ptx()->size() == 0)
        return fail(code + "has no PTX");
      if (binary->ptx()->Get(binary->ptx()->size() - 1) != 0)
        return fail(code + "has PTX that is not NUL-terminated");
      if (!binary->symbol() || binary->symbol()->size() == 0)
        return fail(code + "has no symbol");
    }
  }
  return Status::success();
}

Status PlanChecker::checkProgram(const P::Program *program, const char *name,
                                 P::Step step) {
  if (!program)
    return fail(std::string("no ") + name + " program");
  if (program->step() != step)
    return fail(std::string(name) + " program has step " +
                std::to_string(unsigned(program->step())));
  where_ = std::string(name) + " program";
  routerIds_.clear();
  if (!program->logits())
    return failOp("no logits operand");
  LLMC_RETURN_IF_ERROR(arena(*program->logits(), "logits", uint64_t(vocab_)));
  if (!program->kernels())
    return fail(std::string(name) + " program has no kernels");
  for (uint32_t k = 0; k < program->kernels()->size(); ++k) {
    const P::Kernel *kernel = program->kernels()->Get(k);
    std::string kernelName =
        std::string(name) + " kernel " + std::to_string(k) +
        (kernel->name() ? " \"" + kernel->name()->str() + "\"" : std::string());
    if (!kernel->name())
      return fail(kernelName + " has no name");
    if (!kernel->ops())
      return fail(kernelName + " has no ops vector");
    LLMC_RETURN_IF_ERROR(checkLaunches(*kernel, kernelName));
    for (uint32_t o = 0; o < kernel->ops()->size(); ++o) {
      const P::Op *op = kernel->ops()->Get(o);
      where_ = std::string(name) + " kernel " + std::to_string(k) + " op " +
               std::to_string(o) + " (" +
               P::EnumNameOpParams(op->params_type()) +
               (op->name() ? " \"" + op->name()->str() + "\"" : "") + ")";
      LLMC_RETURN_IF_ERROR(checkOp(*op));
    }
  }
  return checkGreedy(*program, name);
}

/// Format 1.1: a kernel's launches, which run for every T exactly as
/// plan.fbs's Launch says.
Status PlanChecker::checkLaunches(const P::Kernel &kernel,
                                  const std::string &name) {
  const auto *launches = kernel.launches();
  if (!launches || launches->size() == 0)
    return Status::success();
  where_ = name;
  if (!plan_.cuda())
    return failOp("has launches, but the plan has no CUDA code");
  // [first, last] token ranges, for the coverage check below.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (uint32_t l = 0; l < launches->size(); ++l) {
    const P::Launch &launch = *launches->Get(l);
    where_ = name + " launch " + std::to_string(l);
    LLMC_RETURN_IF_ERROR(checkLaunch(launch));
    uint64_t first = std::max<uint64_t>(1, launch.min_tokens());
    uint64_t last = launch.max_tokens() == 0
                        ? maxTokens_
                        : std::min<uint64_t>(launch.max_tokens(), maxTokens_);
    if (first <= last)
      ranges.emplace_back(first, last);
  }
  where_ = name;
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0; // every T in [1, covered] runs some launch
  for (const auto &[first, last] : ranges) {
    if (first > covered + 1)
      break;
    covered = std::max(covered, last);
  }
  if (covered < maxTokens_)
    return failOp("no launch runs for steps of " + std::to_string(covered + 1) +
                  " tokens (max_tokens " + std::to_string(maxTokens_) + ")");
  return Status::success();
}

Status PlanChecker::checkLaunch(const P::Launch &launch) {
  const P::CudaCode &cuda = *plan_.cuda();
  uint32_t entries = cuda.entries() ? cuda.entries()->size() : 0;
  if (launch.entry() >= entries)
    return failOp("entry " + std::to_string(launch.entry()) +
                  " is out of range (the plan has " + std::to_string(entries) +
                  " CUDA entries)");
  uint32_t dims = launch.grid() ? launch.grid()->size() : 0;
  if (dims < 1 || dims > 3)
    return failOp("grid has " + std::to_string(dims) +
                  " dimensions, expected 1 to 3");
  for (uint32_t axis = 0; axis < dims; ++axis)
    if (launch.grid()->Get(axis) < 1)
      return failOp("grid[" + std::to_string(axis) + "] is 0");
  if (launch.block() < 1 || launch.block() > 1024)
    return failOp("block " + std::to_string(launch.block()) +
                  " is not in [1, 1024]");
  if (launch.token_axis() >= 3)
    return failOp("token_axis " + std::to_string(launch.token_axis()) +
                  " is not 0, 1 or 2");
  if (launch.max_tokens() != 0 && launch.min_tokens() > launch.max_tokens())
    return failOp("min_tokens " + std::to_string(launch.min_tokens()) +
                  " exceeds max_tokens " + std::to_string(launch.max_tokens()));
  if (const auto *args = launch.args())
    for (uint32_t i = 0; i < args->size(); ++i)
      LLMC_RETURN_IF_ERROR(
          launchArg(*args->Get(i), "arg " + std::to_string(i)));
  return Status::success();
}

/// A kernel parameter: any operand kind, each inside what it addresses.
Status PlanChecker::launchArg(const P::Operand &o, const std::string &role) {
  switch (o.kind()) {
  case P::OperandKind::Arena: {
    uint64_t elemSize = dtypeSize(o.dtype());
    if (elemSize == 0)
      return failOp(role + " has an invalid dtype");
    if (o.row_elems() == 0)
      return failOp(role + " has no elements per token");
    return arenaBounds(o, role, o.row_elems());
  }
  case P::OperandKind::Weight: {
    const auto *weights = plan_.weights();
    uint32_t count = weights ? weights->size() : 0;
    if (o.index() >= count)
      return failOp(role + ": weight index " + std::to_string(o.index()) +
                    " is out of range (the plan has " + std::to_string(count) +
                    " weights)");
    const P::Weight *w = weights->Get(o.index());
    if (o.dtype() != w->dtype())
      return failOp(role + ": weight " + std::to_string(o.index()) + " \"" +
                    w->name()->str() + "\" is " + dtypeName(w->dtype()) +
                    " but the operand says " + dtypeName(o.dtype()));
    return Status::success();
  }
  case P::OperandKind::Input:
    if (o.index() > 2)
      return failOp(role + " is step input " + std::to_string(o.index()) +
                    "; there are 3 (tokens, positions, slots)");
    if (o.dtype() != P::DType::I32 || o.row_elems() != 1)
      return failOp(role + " must be one i32 per token");
    return Status::success();
  case P::OperandKind::KVCache: {
    const auto *caches = plan_.kv_caches();
    uint32_t count = caches ? caches->size() : 0;
    if (o.index() >= count)
      return failOp(role + ": KV cache " + std::to_string(o.index()) +
                    " is out of range (the plan has " + std::to_string(count) +
                    ")");
    if (o.dtype() != caches->Get(o.index())->dtype())
      return failOp(role + ": KV cache operand dtype " + dtypeName(o.dtype()) +
                    " differs from the layout's");
    return Status::success();
  }
  case P::OperandKind::Scratch: {
    uint64_t scratchBytes = plan_.cuda()->scratch_bytes();
    if (o.offset() >= scratchBytes)
      return failOp(role + " (scratch offset " + std::to_string(o.offset()) +
                    ") is outside the scratch of " +
                    std::to_string(scratchBytes) + " bytes");
    return Status::success();
  }
  }
  return failOp(role + " has unknown operand kind " +
                std::to_string(unsigned(o.kind())));
}

Status PlanChecker::counts(const P::Op &op, size_t numInputs,
                           size_t numOutputs) {
  size_t in = op.inputs() ? op.inputs()->size() : 0;
  size_t out = op.outputs() ? op.outputs()->size() : 0;
  if (in != numInputs || out != numOutputs)
    return failOp("has " + std::to_string(in) + " inputs and " +
                  std::to_string(out) + " outputs; expected " +
                  std::to_string(numInputs) + " and " +
                  std::to_string(numOutputs));
  return Status::success();
}

Status PlanChecker::kind(const P::Operand &o, const std::string &role,
                         P::OperandKind expected) {
  if (o.kind() != expected)
    return failOp(role + " is " + kindName(o.kind()) + ", expected " +
                  kindName(expected));
  return Status::success();
}

/// `rowElems` elements per token, max_tokens rows inside the arena.
Status PlanChecker::arena(const P::Operand &o, const std::string &role,
                          uint64_t rowElems) {
  LLMC_RETURN_IF_ERROR(kind(o, role, P::OperandKind::Arena));
  if (!isFloat(o.dtype()))
    return failOp(role + " has dtype " + dtypeName(o.dtype()) +
                  "; expected f32, f16 or bf16");
  if (o.row_elems() != rowElems)
    return failOp(role + " has " + std::to_string(o.row_elems()) +
                  " elements per token, expected " + std::to_string(rowElems));
  return arenaBounds(o, role, rowElems);
}

/// max_tokens rows of `rowElems` elements of the operand's (valid) dtype
/// at its offset, inside the arena.
Status PlanChecker::arenaBounds(const P::Operand &o, const std::string &role,
                                uint64_t rowElems) {
  uint64_t elemSize = dtypeSize(o.dtype());
  // Natural alignment lets the interpreter use typed loads and stores.
  if (o.offset() % elemSize != 0)
    return failOp(role + " arena offset " + std::to_string(o.offset()) +
                  " is not a multiple of its element size");
  uint64_t bytes, end;
  if (!checkedProduct({maxTokens_, rowElems, elemSize}, bytes) ||
      !checkedAdd(o.offset(), bytes, end) || end > arenaBytes_)
    return failOp(role + " (arena offset " + std::to_string(o.offset()) + ", " +
                  std::to_string(maxTokens_) + " rows of " +
                  std::to_string(rowElems) + " " + dtypeName(o.dtype()) +
                  ") exceeds the arena of " + std::to_string(arenaBytes_) +
                  " bytes");
  return Status::success();
}

Status PlanChecker::input(const P::Operand &o, const std::string &role,
                          uint32_t index) {
  LLMC_RETURN_IF_ERROR(kind(o, role, P::OperandKind::Input));
  if (o.index() != index)
    return failOp(role + " is step input " + std::to_string(o.index()) +
                  ", expected " + std::to_string(index));
  if (o.dtype() != P::DType::I32 || o.row_elems() != 1)
    return failOp(role + " must be one i32 per token");
  return Status::success();
}

Status PlanChecker::weight(const P::Operand &o, const std::string &role,
                           std::vector<int64_t> shape, bool allowQuantized) {
  LLMC_RETURN_IF_ERROR(kind(o, role, P::OperandKind::Weight));
  const auto *weights = plan_.weights();
  uint32_t count = weights ? weights->size() : 0;
  if (o.index() >= count)
    return failOp(role + ": weight index " + std::to_string(o.index()) +
                  " is out of range (the plan has " + std::to_string(count) +
                  " weights)");
  const P::Weight *w = weights->Get(o.index());
  std::string what = role + ": weight " + std::to_string(o.index()) + " \"" +
                     w->name()->str() + "\"";
  if (o.dtype() != w->dtype())
    return failOp(what + " is " + dtypeName(w->dtype()) +
                  " but the operand says " + dtypeName(o.dtype()));
  if (w->quant() && !allowQuantized)
    return failOp(what + " is quantized; only a linear's and the "
                         "experts' weights may be");
  if (!w->quant() && !isFloat(w->dtype()))
    return failOp(what + " has dtype " + dtypeName(w->dtype()) +
                  "; expected f32, f16 or bf16");
  std::vector<int64_t> actual(w->shape()->begin(), w->shape()->end());
  if (actual != shape)
    return failOp(what + " has shape " + shapeString(actual) + ", expected " +
                  shapeString(shape));
  return Status::success();
}

Status PlanChecker::kvCache(const P::Operand &o, uint32_t layer) {
  LLMC_RETURN_IF_ERROR(kind(o, "cache", P::OperandKind::KVCache));
  if (o.index() != layer)
    return failOp("cache operand is layer " + std::to_string(o.index()) +
                  ", expected " + std::to_string(layer));
  if (o.dtype() != plan_.kv_caches()->Get(layer)->dtype())
    return failOp("cache operand dtype " + std::string(dtypeName(o.dtype())) +
                  " differs from the layout's");
  return Status::success();
}

Status PlanChecker::positive(int64_t value, const char *field) {
  if (value < 1)
    return failOp(std::string(field) + " " + std::to_string(value) +
                  " is not positive");
  return Status::success();
}

Status PlanChecker::finite(double value, const char *field) {
  if (!std::isfinite(value))
    return failOp(std::string(field) + " is not finite");
  return Status::success();
}

/// out = a * b of two fields already checked positive.
Status PlanChecker::product(int64_t a, int64_t b, const char *what,
                            uint64_t &out) {
  if (!checkedMul(uint64_t(a), uint64_t(b), out))
    return failOp(std::string(what) + " overflows");
  return Status::success();
}

Status PlanChecker::layerIndex(uint32_t layer) {
  const auto *caches = plan_.kv_caches();
  if (!caches || layer >= caches->size())
    return failOp("layer " + std::to_string(layer) + " has no KV cache layout");
  return Status::success();
}

Status PlanChecker::activation(P::Activation a) {
  if (a > P::Activation::GELU)
    return failOp("unknown activation " + std::to_string(unsigned(a)));
  return Status::success();
}

Status PlanChecker::checkOp(const P::Op &op) {
  if (op.params_type() != P::OpParams::NONE && !op.params())
    return failOp("has no params");
  switch (op.params_type()) {
  case P::OpParams::Embedding:
    return checkEmbedding(op, *op.params_as_Embedding());
  case P::OpParams::RMSNorm:
    return checkRMSNorm(op, *op.params_as_RMSNorm());
  case P::OpParams::AddRMSNorm:
    return checkAddRMSNorm(op, *op.params_as_AddRMSNorm());
  case P::OpParams::Linear:
    return checkLinear(op, *op.params_as_Linear());
  case P::OpParams::GatedLinear:
    return checkGatedLinear(op, *op.params_as_GatedLinear());
  case P::OpParams::MoERouter:
    return checkMoERouter(op, *op.params_as_MoERouter());
  case P::OpParams::MoEExperts:
    return checkMoEExperts(op, *op.params_as_MoEExperts());
  case P::OpParams::SigmoidGate:
    return checkSigmoidGate(op, *op.params_as_SigmoidGate());
  case P::OpParams::LatentCacheWrite:
    return checkLatentCacheWrite(op, *op.params_as_LatentCacheWrite());
  case P::OpParams::MLAAttention:
    return checkMLAAttention(op, *op.params_as_MLAAttention());
  case P::OpParams::MLAAbsorbQuery:
    return checkMLAAbsorbQuery(op, *op.params_as_MLAAbsorbQuery());
  case P::OpParams::LatentAttention:
    return checkLatentAttention(op, *op.params_as_LatentAttention());
  case P::OpParams::MLAAbsorbOutput:
    return checkMLAAbsorbOutput(op, *op.params_as_MLAAbsorbOutput());
  case P::OpParams::GLU:
    return checkGLU(op, *op.params_as_GLU());
  case P::OpParams::Add:
    return checkAdd(op, *op.params_as_Add());
  case P::OpParams::Softcap:
    return checkSoftcap(op, *op.params_as_Softcap());
  case P::OpParams::Scale:
    return checkScale(op, *op.params_as_Scale());
  case P::OpParams::AttnTemperature:
    return checkAttnTemperature(op, *op.params_as_AttnTemperature());
  case P::OpParams::Rope:
    return checkRope(op, *op.params_as_Rope());
  case P::OpParams::KVCacheWrite:
    return checkKVCacheWrite(op, *op.params_as_KVCacheWrite());
  case P::OpParams::Attention:
    return checkAttention(op, *op.params_as_Attention());
  case P::OpParams::LMHead:
    return checkLMHead(op, *op.params_as_LMHead());
  case P::OpParams::NONE:
    return failOp("has no params");
  }
  return failOp("unknown op kind " +
                std::to_string(unsigned(op.params_type())));
}

} // namespace verify

Status verifyPlanContents(const llmc::plan::Plan &plan, const uint8_t *file,
                          uint64_t fileSize, uint64_t headerEnd,
                          const std::string &path) {
  return verify::PlanChecker(plan, file, fileSize, headerEnd, path).run();
}

} // namespace llmc::runtime
