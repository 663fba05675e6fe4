//===- CpuBackend.cpp - the reference interpreter of a plan ---------------===//
//
// Creation (caches, scratch, threads) and running a program op by op. The
// ops themselves are one function per op of plan.fbs, in a file per family:
// NormOps, MatmulOps, AttentionOps and ElementwiseOps. Rounding points follow
// Hugging Face transformers in the activation dtype: every op output is
// rounded to its operand's dtype, and so are the intermediates named in each
// function.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/cpu/CpuBackend.h"

#include "runtime/src/Checked.h"
#include "runtime/schema/PlanFormat.h"
#include "runtime/src/cpu/Numerics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

namespace llmc::runtime::cpu {

namespace P = llmc::plan;

//===----------------------------------------------------------------------===//
// AlignedBuffer
//===----------------------------------------------------------------------===//

AlignedBuffer::AlignedBuffer(size_t size, size_t alignment)
    : data_(static_cast<uint8_t *>(
          ::operator new(size ? size : 1, std::align_val_t(alignment)))),
      size_(size), alignment_(alignment) {}

AlignedBuffer::~AlignedBuffer() {
  if (data_)
    ::operator delete(data_, std::align_val_t(alignment_));
}

AlignedBuffer::AlignedBuffer(AlignedBuffer &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)), alignment_(other.alignment_) {}

AlignedBuffer &AlignedBuffer::operator=(AlignedBuffer &&other) noexcept {
  if (this != &other) {
    if (data_)
      ::operator delete(data_, std::align_val_t(alignment_));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    alignment_ = other.alignment_;
  }
  return *this;
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

namespace {

template <typename Fn> void forEachOp(const P::Plan &plan, Fn &&fn) {
  for (const P::Program *program : {plan.prefill(), plan.decode()})
    for (const P::Kernel *kernel : *program->kernels())
      if (kernel->ops())
        for (const P::Op *op : *kernel->ops())
          fn(*op);
}

} // namespace

Status CpuBackend::create(const PlanFile &plan, const SessionShape &shape,
                          const KvPages &kv, int numThreads,
                          std::unique_ptr<CpuBackend> &out) {
  const P::Plan &p = *plan.plan();
  const std::string &path = plan.path();
  std::unique_ptr<CpuBackend> backend(new CpuBackend(plan));
  backend->shape_ = shape;
  uint64_t maxTokens = uint64_t(p.memory()->max_tokens());

  // The arena, zeroed so that a plan reading a row before writing it reads
  // zeros rather than garbage.
  uint64_t arenaBytes = p.memory()->arena_bytes();
  size_t arenaAlignment = std::max<size_t>(64, p.memory()->alignment());
  try {
    backend->arena_ = AlignedBuffer(size_t(arenaBytes), arenaAlignment);
  } catch (const std::bad_alloc &) {
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  path + ": cannot allocate the arena of " +
                      std::to_string(arenaBytes) + " bytes");
  }
  std::memset(backend->arena_.data(), 0, size_t(arenaBytes));

  // The KV caches, in the pages the session holds at first (a plan before
  // format 1.9: all of them; else none until sequences grow).
  backend->kv_ = &kv;
  if (const auto *layouts = p.kv_caches()) {
    for (uint32_t layer = 0; layer < layouts->size(); ++layer) {
      const P::KVCacheLayout &layout = *layouts->Get(layer);
      Cache cache;
      cache.group = kv.groupOf(layer);
      cache.arrays = size_t(kvCacheArrays(layout));
      cache.rowElems = size_t(layout.kv_heads()) * size_t(layout.head_dim());
      cache.kvHeads = size_t(layout.kv_heads());
      cache.dtype = layout.dtype();
      backend->caches_.push_back(std::move(cache));
    }
  }
  for (size_t g = 0; g < kv.groups().size(); ++g)
    if (kv.groups()[g].pages > 0)
      LLMC_RETURN_IF_ERROR(backend->growKvPages(g, kv.groups()[g].pages));

  // Scratch: the widened inputs of the largest op, and per-thread rows as
  // wide as any operand row or weight row.
  uint64_t scratchFloats = 0;
  size_t width = 1, maxSpan = 1;
  bool overflow = false;
  forEachOp(p, [&](const P::Op &op) {
    uint64_t need = 0;
    for (const P::Operand *o : *op.inputs()) {
      uint64_t elems = 0;
      if (o->kind() == P::OperandKind::Arena) {
        overflow |= !checkedMul(maxTokens, o->row_elems(), elems);
        width = std::max<size_t>(width, size_t(o->row_elems()));
      } else if (o->kind() == P::OperandKind::Weight) {
        const auto *dims = p.weights()->Get(o->index())->shape();
        width = std::max<size_t>(width, size_t(dims->Get(dims->size() - 1)));
        if (dims->size() == 1) // norm weights and biases are loaded
          elems = uint64_t(dims->Get(0));
      }
      overflow |= !checkedAdd(need, elems, need);
    }
    if (op.outputs())
      for (const P::Operand *o : *op.outputs())
        width = std::max<size_t>(width, size_t(o->row_elems()));
    // The router's per-token scores; the experts' intermediate rows.
    if (const P::MoERouter *r = op.params_as_MoERouter()) {
      width = std::max<size_t>(width, size_t(r->experts()));
      maxSpan = std::max<size_t>(maxSpan, size_t(r->top_k()));
    }
    if (const P::MoEExperts *x = op.params_as_MoEExperts()) {
      uint64_t rows, elems;
      overflow |= !checkedMul(maxTokens, uint64_t(x->top_k()), rows) ||
                  !checkedMul(rows, uint64_t(x->intermediate()), elems) ||
                  !checkedAdd(need, elems, need);
    }
    // MLA's expanded keys and values of one head, per position.
    if (const P::MLAAttention *a = op.params_as_MLAAttention())
      backend->expandedPerPosition_ =
          std::max(backend->expandedPerPosition_,
                   size_t(a->nope_dim() + a->v_dim()));
    scratchFloats = std::max(scratchFloats, need);
  });
  if (overflow)
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  path + ": scratch buffers would exceed the address space");

  int threads = std::max(1, numThreads);
  try {
    backend->scratch_.resize(size_t(scratchFloats));
    backend->workers_.resize(size_t(threads));
    for (Worker &w : backend->workers_) {
      w.a.resize(width);
      w.b.resize(width);
      w.c.resize(width);
      w.scores.resize(maxSpan);
    }
  } catch (const std::bad_alloc &) {
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  path + ": cannot allocate the CPU backend's scratch buffers");
  } catch (const std::length_error &) {
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  path + ": cannot allocate the CPU backend's scratch buffers");
  }
  try {
    backend->pool_ = std::make_unique<ThreadPool>(threads);
  } catch (const std::system_error &e) {
    return Status(LLMC_ERROR_INTERNAL, "cannot start " +
                                           std::to_string(threads - 1) +
                                           " worker threads: " + e.what());
  }
  out = std::move(backend);
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Running a program
//===----------------------------------------------------------------------===//

Status CpuBackend::run(const P::Program &program, const StepInputs &inputs) {
  step_ = inputs;
  // Attention's scores and MLA's expanded rows span every position a token
  // of the step sees: grow them to this step's.
  int64_t positions = 0;
  for (int64_t i = 0; i < inputs.numTokens; ++i)
    positions = std::max<int64_t>(positions, int64_t(inputs.positions[i]) + 1);
  try {
    for (Worker &w : workers_) {
      if (w.scores.size() < size_t(positions))
        w.scores.resize(size_t(positions));
      if (w.expanded.size() < size_t(positions) * expandedPerPosition_)
        w.expanded.resize(size_t(positions) * expandedPerPosition_);
    }
  } catch (const std::bad_alloc &) {
    return Status(LLMC_ERROR_OUT_OF_MEMORY,
                  plan_.path() + ": cannot allocate attention scratch for " +
                      std::to_string(positions) + " positions");
  }
  for (const P::Kernel *kernel : *program.kernels()) {
    if (!kernel->ops())
      continue;
    // The LM head for the rows asked for only (StepInputs::logitsFrom).
    const bool rows = inputs.logitsFrom > 0 && logitsKernel(*kernel);
    if (rows) {
      if (inputs.logitsFrom >= inputs.numTokens)
        continue;
      rowBase_ = inputs.logitsFrom;
      step_.numTokens = inputs.numTokens - inputs.logitsFrom;
    }
    for (const P::Op *op : *kernel->ops())
      execute(*op);
    if (rows) {
      rowBase_ = 0;
      step_.numTokens = inputs.numTokens;
    }
  }
  return Status::success();
}

Status CpuBackend::growKvPages(size_t group, int64_t pages) {
  const KvPages::Group &g = kv_->groups()[group];
  const size_t rows = size_t(pages) * size_t(g.pageTokens);
  // Every cache of the group in new buffers first, so that a failure
  // leaves the old ones as they were.
  std::vector<std::pair<AlignedBuffer, std::vector<float>>> grown;
  for (uint32_t layer = 0; layer < caches_.size(); ++layer) {
    const Cache &c = caches_[layer];
    if (c.group != group)
      continue;
    const uint64_t rowBytes = uint64_t(c.rowElems) * dtypeSize(c.dtype);
    uint64_t bytes = 0;
    if (!checkedProduct({uint64_t(rows), rowBytes, uint64_t(c.arrays)},
                        bytes))
      return Status(LLMC_ERROR_OUT_OF_MEMORY,
                    plan_.path() + ": the KV cache of layer " +
                        std::to_string(layer) +
                        " would exceed the address space");
    try {
      AlignedBuffer data(size_t(bytes), 64);
      std::vector<float> scales;
      if (!c.scales.empty() || c.dtype == P::DType::F8E4M3)
        scales.resize(2 * rows * c.kvHeads);
      grown.emplace_back(std::move(data), std::move(scales));
    } catch (const std::bad_alloc &) {
      return Status(LLMC_ERROR_OUT_OF_MEMORY,
                    plan_.path() + ": cannot grow the KV cache of layer " +
                        std::to_string(layer) + " to " +
                        std::to_string(bytes) + " bytes (" +
                        std::to_string(pages) + " pages of " +
                        std::to_string(g.pageTokens) + " tokens)");
    }
  }
  size_t next = 0;
  for (Cache &c : caches_) {
    if (c.group != group)
      continue;
    auto &[data, scales] = grown[next++];
    const size_t rowBytes = c.rowElems * dtypeSize(c.dtype);
    const size_t valuesOffset = rows * rowBytes;
    if (c.rows > 0) {
      std::memcpy(data.data(), c.data.data(), c.rows * rowBytes);
      if (c.arrays == 2)
        std::memcpy(data.data() + valuesOffset, c.data.data() + c.valuesOffset,
                    c.rows * rowBytes);
      if (!scales.empty()) {
        std::copy_n(c.scales.data(), c.rows * c.kvHeads, scales.data());
        std::copy_n(c.scales.data() + c.valueScalesOffset, c.rows * c.kvHeads,
                    scales.data() + rows * c.kvHeads);
      }
    }
    c.data = std::move(data);
    c.scales = std::move(scales);
    c.rows = rows;
    c.valuesOffset = valuesOffset;
    c.valueScalesOffset = rows * c.kvHeads;
  }
  return Status::success();
}

Status CpuBackend::copyKvPage(size_t group, int32_t to, int32_t from) {
  const size_t rows = size_t(kv_->groups()[group].pageTokens);
  for (Cache &c : caches_) {
    if (c.group != group)
      continue;
    const size_t bytes = rows * c.rowElems * dtypeSize(c.dtype);
    for (size_t a = 0; a < c.arrays; ++a) {
      uint8_t *base = c.data.data() + a * c.valuesOffset;
      std::memcpy(base + size_t(to) * bytes, base + size_t(from) * bytes,
                  bytes);
    }
    if (!c.scales.empty())
      for (size_t offset : {size_t(0), c.valueScalesOffset})
        std::copy_n(c.scales.data() + offset + size_t(from) * rows * c.kvHeads,
                    rows * c.kvHeads,
                    c.scales.data() + offset + size_t(to) * rows * c.kvHeads);
  }
  return Status::success();
}

uint64_t CpuBackend::kvBytes() const {
  uint64_t bytes = 0;
  for (const Cache &c : caches_)
    bytes += c.data.size() + c.scales.size() * sizeof(float);
  return bytes;
}

Status CpuBackend::readRows(const P::Operand &operand, int64_t firstRow,
                            int64_t rows, float *out) {
  widen(row(operand, firstRow), operand.dtype(), out,
        size_t(rows) * size_t(operand.row_elems()));
  return Status::success();
}

void CpuBackend::execute(const P::Op &op) {
  scratchUsed_ = 0;
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
    return linear(*in[0], *in[1], p.has_bias() ? in[2] : nullptr,
                  *op.outputs()->Get(0), size_t(p.in_features()),
                  size_t(p.out_features()), p.fp8_activations());
  }
  case P::OpParams::GatedLinear:
    return gatedLinear(op, *op.params_as_GatedLinear());
  case P::OpParams::GLU:
    return glu(op, *op.params_as_GLU());
  case P::OpParams::Add:
    return add(op, *op.params_as_Add());
  case P::OpParams::Softcap:
    return softcap(op, *op.params_as_Softcap());
  case P::OpParams::Scale:
    return scale(op, *op.params_as_Scale());
  case P::OpParams::AttnTemperature:
    return attnTemperature(op, *op.params_as_AttnTemperature());
  case P::OpParams::Rope:
    return rope(op, *op.params_as_Rope());
  case P::OpParams::KVCacheWrite:
    return kvCacheWrite(op, *op.params_as_KVCacheWrite());
  case P::OpParams::Attention:
    return attention(op, *op.params_as_Attention());
  case P::OpParams::MoERouter:
    return moeRouter(op, *op.params_as_MoERouter());
  case P::OpParams::MoEExperts:
    return moeExperts(op, *op.params_as_MoEExperts());
  case P::OpParams::SigmoidGate:
    return sigmoidGate(op, *op.params_as_SigmoidGate());
  case P::OpParams::LatentCacheWrite:
    return latentCacheWrite(op, *op.params_as_LatentCacheWrite());
  case P::OpParams::MLAAttention:
    return mlaAttention(op, *op.params_as_MLAAttention());
  case P::OpParams::MLAAbsorbQuery:
    return mlaAbsorbQuery(op, *op.params_as_MLAAbsorbQuery());
  case P::OpParams::LatentAttention:
    return latentAttention(op, *op.params_as_LatentAttention());
  case P::OpParams::MLAAbsorbOutput:
    return mlaAbsorbOutput(op, *op.params_as_MLAAbsorbOutput());
  case P::OpParams::LMHead: {
    const P::LMHead &p = *op.params_as_LMHead();
    return linear(*in[0], *in[1], nullptr, *op.outputs()->Get(0),
                  size_t(p.hidden()), size_t(p.vocab()));
  }
  case P::OpParams::NONE:
    break;
  }
  assert(false && "the plan verifier rejects every other op kind");
}

const float *CpuBackend::load(const P::Operand &operand) {
  size_t n;
  const void *src;
  if (operand.kind() == P::OperandKind::Arena) {
    n = size_t(step_.numTokens) * size_t(operand.row_elems());
    src = row(operand, 0);
  } else {
    n = size_t(plan_.plan()->weights()->Get(operand.index())->shape()->Get(0));
    src = weight(operand);
  }
  assert(scratchUsed_ + n <= scratch_.size() && "scratch sized at creation");
  float *dst = scratch_.data() + scratchUsed_;
  scratchUsed_ += n;
  widen(src, operand.dtype(), dst, n);
  return dst;
}

uint8_t *CpuBackend::row(const P::Operand &operand, int64_t token) const {
  return arena_.data() + operand.offset() +
         size_t(rowBase_ + token) * size_t(operand.row_elems()) *
             dtypeSize(operand.dtype());
}

const int32_t *CpuBackend::input(const P::Operand &operand) const {
  switch (operand.index()) {
  case 0:
    return step_.tokens;
  case 1:
    return step_.positions;
  default:
    return step_.slots;
  }
}

} // namespace llmc::runtime::cpu
