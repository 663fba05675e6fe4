//===- CpuBackend.cpp - the reference interpreter of a plan ---------------===//
//
// One function per op of plan.fbs. Rounding points follow Hugging Face
// transformers in the activation dtype: every op output is rounded to its
// operand's dtype, and so are the intermediates named in each function.
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

/// A view of `n` elements of `dtype` at `src` as floats: the bytes themselves
/// for f32, else widened into `buffer`.
const float *asFloats(const uint8_t *src, P::DType dtype, size_t n,
                      float *buffer) {
  if (dtype == P::DType::F32)
    return reinterpret_cast<const float *>(src);
  widen(src, dtype, buffer, n);
  return buffer;
}

template <typename Fn> void forEachOp(const P::Plan &plan, Fn &&fn) {
  for (const P::Program *program : {plan.prefill(), plan.decode()})
    for (const P::Kernel *kernel : *program->kernels())
      if (kernel->ops())
        for (const P::Op *op : *kernel->ops())
          fn(*op);
}

} // namespace

Status CpuBackend::create(const PlanFile &plan, const SessionShape &shape,
                          int numThreads, std::unique_ptr<CpuBackend> &out) {
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

  // The KV caches; left uninitialized (a step writes every position before
  // any step reads it), so that the OS commits only what sequences use.
  size_t maxSpan = 1;
  if (const auto *layouts = p.kv_caches()) {
    for (uint32_t layer = 0; layer < layouts->size(); ++layer) {
      const P::KVCacheLayout &layout = *layouts->Get(layer);
      Cache cache;
      cache.capacity =
          kvCacheCapacity(layout, shape.maxSeqLen, int64_t(maxTokens));
      cache.rowElems = size_t(layout.kv_heads()) * size_t(layout.head_dim());
      cache.dtype = layout.dtype();
      uint64_t half, bytes;
      if (!checkedProduct({uint64_t(shape.maxBatch), uint64_t(cache.capacity),
                           cache.rowElems, dtypeSize(cache.dtype)},
                          half) ||
          !checkedMul(half, 2, bytes))
        return Status(LLMC_ERROR_OUT_OF_MEMORY,
                      path + ": the KV cache of layer " +
                          std::to_string(layer) +
                          " would exceed the address space");
      try {
        cache.data = AlignedBuffer(size_t(bytes), 64);
      } catch (const std::bad_alloc &) {
        return Status(LLMC_ERROR_OUT_OF_MEMORY,
                      path + ": cannot allocate the KV cache of layer " +
                          std::to_string(layer) + " (" + std::to_string(bytes) +
                          " bytes)");
      }
      cache.valuesOffset = size_t(half);
      maxSpan = std::max<size_t>(maxSpan, size_t(cache.capacity));
      backend->caches_.push_back(std::move(cache));
    }
  }

  // Scratch: the widened inputs of the largest op, and per-thread rows as
  // wide as any operand row or weight row.
  uint64_t scratchFloats = 0;
  size_t width = 1;
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
  for (const P::Kernel *kernel : *program.kernels())
    if (kernel->ops())
      for (const P::Op *op : *kernel->ops())
        execute(*op);
  return Status::success();
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
                  size_t(p.out_features()));
  }
  case P::OpParams::GatedLinear:
    return gatedLinear(op, *op.params_as_GatedLinear());
  case P::OpParams::GLU:
    return glu(op, *op.params_as_GLU());
  case P::OpParams::Add:
    return add(op, *op.params_as_Add());
  case P::OpParams::Softcap:
    return softcap(op, *op.params_as_Softcap());
  case P::OpParams::Rope:
    return rope(op, *op.params_as_Rope());
  case P::OpParams::KVCacheWrite:
    return kvCacheWrite(op, *op.params_as_KVCacheWrite());
  case P::OpParams::Attention:
    return attention(op, *op.params_as_Attention());
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
         size_t(token) * size_t(operand.row_elems()) *
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

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

void CpuBackend::embedding(const P::Op &op, const P::Embedding &p) {
  const P::Operand &tableOp = *op.inputs()->Get(1);
  const P::Operand &out = *op.outputs()->Get(0);
  const int32_t *tokens = input(*op.inputs()->Get(0));
  const uint8_t *table = weight(tableOp);
  size_t hidden = size_t(p.hidden());
  size_t rowBytes = hidden * dtypeSize(tableOp.dtype());
  float scale = float(p.scale());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      widen(table + size_t(tokens[i]) * rowBytes, tableOp.dtype(), y, hidden);
      for (size_t k = 0; k < hidden; ++k)
        y[k] *= scale;
      narrow(y, out.dtype(), row(out, i), hidden);
    }
  });
}

namespace {

/// y = RMSNorm(x) over `size` elements in fp32, before the output rounding.
/// CastBeforeWeight rounds x * r to `castType` first (as Llama's
/// `weight * hidden_states.to(input_dtype)`).
void normalize(const float *x, const float *w, size_t size,
               P::RMSNormVariant variant, float eps, P::DType castType,
               float *y) {
  float mean = sumSquares(x, size) / float(size);
  float r = 1.0f / std::sqrt(mean + eps);
  switch (variant) {
  case P::RMSNormVariant::CastBeforeWeight:
    for (size_t i = 0; i < size; ++i)
      y[i] = roundTo(castType, x[i] * r) * w[i];
    return;
  case P::RMSNormVariant::WeightInFp32:
    for (size_t i = 0; i < size; ++i)
      y[i] = x[i] * r * w[i];
    return;
  case P::RMSNormVariant::OnePlusWeight:
    for (size_t i = 0; i < size; ++i)
      y[i] = x[i] * r * (1.0f + w[i]);
    return;
  case P::RMSNormVariant::NoWeight:
    for (size_t i = 0; i < size; ++i)
      y[i] = x[i] * r;
    return;
  }
}

} // namespace

void CpuBackend::rmsNorm(const P::Op &op, const P::RMSNorm &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(xOp);
  const float *w = p.variant() == P::RMSNormVariant::NoWeight
                       ? nullptr
                       : load(*op.inputs()->Get(1));
  size_t size = size_t(p.size()), rowElems = size_t(xOp.row_elems());
  float eps = float(p.eps());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t g = 0; g < rowElems; g += size)
        normalize(x + size_t(i) * rowElems + g, w, size, p.variant(), eps,
                  xOp.dtype(), y + g);
      narrow(y, out.dtype(), row(out, i), rowElems);
    }
  });
}

void CpuBackend::addRmsNorm(const P::Op &op, const P::AddRMSNorm &p) {
  const P::Operand &normedOp = *op.outputs()->Get(0);
  const P::Operand &sumOp = *op.outputs()->Get(1);
  const float *x = load(*op.inputs()->Get(0));
  const float *residual = load(*op.inputs()->Get(1));
  const float *w = p.variant() == P::RMSNormVariant::NoWeight
                       ? nullptr
                       : load(*op.inputs()->Get(2));
  size_t size = size_t(p.size());
  float eps = float(p.eps());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *sum = workers_[t].a.data();
    float *y = workers_[t].b.data();
    for (int64_t i = begin; i < end; ++i) {
      const float *xi = x + size_t(i) * size;
      const float *ri = residual + size_t(i) * size;
      // The sum is rounded before it is normalized: it is the next
      // residual, a tensor of the activation dtype.
      for (size_t k = 0; k < size; ++k)
        sum[k] = roundTo(sumOp.dtype(), xi[k] + ri[k]);
      normalize(sum, w, size, p.variant(), eps, sumOp.dtype(), y);
      narrow(sum, sumOp.dtype(), row(sumOp, i), size);
      narrow(y, normedOp.dtype(), row(normedOp, i), size);
    }
  });
}

void CpuBackend::linear(const P::Operand &xOp, const P::Operand &weightOp,
                        const P::Operand *biasOp, const P::Operand &out,
                        size_t inFeatures, size_t outFeatures) {
  const float *x = load(xOp);
  const float *bias = biasOp ? load(*biasOp) : nullptr;
  const uint8_t *w = weight(weightOp);
  size_t rowBytes = inFeatures * dtypeSize(weightOp.dtype());
  int64_t tokens = step_.numTokens;
  // Split over output features: decode has one token, and each weight row
  // is then read (and widened) once per step.
  pool_->parallelFor(
      int64_t(outFeatures), [&](int64_t begin, int64_t end, int t) {
        float *buffer = workers_[t].a.data();
        for (int64_t n = begin; n < end; ++n) {
          const float *wn = asFloats(w + size_t(n) * rowBytes, weightOp.dtype(),
                                     inFeatures, buffer);
          float b = bias ? bias[n] : 0.0f;
          for (int64_t i = 0; i < tokens; ++i)
            storeOne(row(out, i), out.dtype(), size_t(n),
                     dot(x + size_t(i) * inFeatures, wn, inFeatures) + b);
        }
      });
}

void CpuBackend::gatedLinear(const P::Op &op, const P::GatedLinear &p) {
  const P::Operand &gateOp = *op.inputs()->Get(1);
  const P::Operand &upOp = *op.inputs()->Get(2);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  const uint8_t *gate = weight(gateOp);
  const uint8_t *up = weight(upOp);
  size_t in = size_t(p.in_features());
  size_t rowBytes = in * dtypeSize(gateOp.dtype());
  P::DType type = out.dtype();
  int64_t tokens = step_.numTokens;
  pool_->parallelFor(p.out_features(), [&](int64_t begin, int64_t end, int t) {
    for (int64_t n = begin; n < end; ++n) {
      const float *wg = asFloats(gate + size_t(n) * rowBytes, gateOp.dtype(),
                                 in, workers_[t].a.data());
      const float *wu = asFloats(up + size_t(n) * rowBytes, upOp.dtype(), in,
                                 workers_[t].b.data());
      for (int64_t i = 0; i < tokens; ++i) {
        const float *xi = x + size_t(i) * in;
        // act(round(x Wg^T)) * round(x Wu^T), as GLU after two Linears.
        float g = roundTo(type, dot(xi, wg, in));
        float u = roundTo(type, dot(xi, wu, in));
        storeOne(row(out, i), type, size_t(n),
                 roundTo(type, activate(p.activation(), g)) * u);
      }
    }
  });
}

void CpuBackend::glu(const P::Op &op, const P::GLU &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *gate = load(*op.inputs()->Get(0));
  const float *up = load(*op.inputs()->Get(1));
  size_t size = size_t(p.size());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      const float *g = gate + size_t(i) * size;
      const float *u = up + size_t(i) * size;
      for (size_t k = 0; k < size; ++k)
        y[k] = roundTo(out.dtype(), activate(p.activation(), g[k])) * u[k];
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::add(const P::Op &op, const P::Add &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *a = load(*op.inputs()->Get(0));
  const float *b = load(*op.inputs()->Get(1));
  size_t size = size_t(p.size());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t k = 0; k < size; ++k)
        y[k] = a[size_t(i) * size + k] + b[size_t(i) * size + k];
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::softcap(const P::Op &op, const P::Softcap &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(*op.inputs()->Get(0));
  size_t size = size_t(p.size());
  float cap = float(p.cap());
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t k = 0; k < size; ++k)
        y[k] = cap * std::tanh(x[size_t(i) * size + k] / cap);
      narrow(y, out.dtype(), row(out, i), size);
    }
  });
}

void CpuBackend::rope(const P::Op &op, const P::Rope &p) {
  const P::Operand &xOp = *op.inputs()->Get(0);
  const P::Operand &out = *op.outputs()->Get(0);
  const float *x = load(xOp);
  const int32_t *positions = input(*op.inputs()->Get(1));
  size_t heads = size_t(p.heads()), headDim = size_t(p.head_dim());
  size_t half = size_t(p.rotary_dim()) / 2, rowElems = heads * headDim;
  const float *invFreq = p.inv_freq()->data();
  float scaling = float(p.attention_scaling());
  bool interleaved = p.layout() == P::RopeLayout::Interleaved;
  // Products and cos/sin are rounded to the activation dtype, as in
  // `(q * cos) + (rotate_half(q) * sin)` with cos, sin of q's dtype.
  P::DType type = xOp.dtype();
  pool_->parallelFor(step_.numTokens, [&](int64_t begin, int64_t end, int t) {
    float *y = workers_[t].a.data();
    float *cosines = workers_[t].b.data();
    float *sines = workers_[t].c.data();
    for (int64_t i = begin; i < end; ++i) {
      for (size_t k = 0; k < half; ++k) {
        float angle = float(positions[i]) * invFreq[k];
        cosines[k] = roundTo(type, std::cos(angle) * scaling);
        sines[k] = roundTo(type, std::sin(angle) * scaling);
      }
      for (size_t h = 0; h < heads; ++h) {
        const float *xh = x + size_t(i) * rowElems + h * headDim;
        float *yh = y + h * headDim;
        for (size_t k = 0; k < half; ++k) {
          // HalfSplit pairs k with k + half (rotate_half); Interleaved pairs
          // 2k with 2k + 1. rotated = (-x2, x1).
          size_t i1 = interleaved ? 2 * k : k;
          size_t i2 = interleaved ? 2 * k + 1 : k + half;
          float x1 = xh[i1], x2 = xh[i2];
          yh[i1] =
              roundTo(type, x1 * cosines[k]) + roundTo(type, -x2 * sines[k]);
          yh[i2] =
              roundTo(type, x2 * cosines[k]) + roundTo(type, x1 * sines[k]);
        }
        for (size_t k = 2 * half; k < headDim; ++k)
          yh[k] = xh[k];
      }
      narrow(y, out.dtype(), row(out, i), rowElems);
    }
  });
}

void CpuBackend::kvCacheWrite(const P::Op &op, const P::KVCacheWrite &p) {
  const float *keys = load(*op.inputs()->Get(0));
  const float *values = load(*op.inputs()->Get(1));
  Cache &cache = caches_[p.layer()];
  size_t rowBytes = cache.rowElems * dtypeSize(cache.dtype);
  for (int64_t i = 0; i < step_.numTokens; ++i) {
    // Position p of sequence s lives at row (s, p % capacity).
    size_t row = size_t(step_.slots[i]) * size_t(cache.capacity) +
                 size_t(step_.positions[i] % cache.capacity);
    uint8_t *dst = cache.data.data() + row * rowBytes;
    narrow(keys + size_t(i) * cache.rowElems, cache.dtype, dst, cache.rowElems);
    narrow(values + size_t(i) * cache.rowElems, cache.dtype,
           dst + cache.valuesOffset, cache.rowElems);
  }
}

void CpuBackend::attention(const P::Op &op, const P::Attention &p) {
  const P::Operand &out = *op.outputs()->Get(0);
  const float *query = load(*op.inputs()->Get(0));
  const Cache &cache = caches_[p.layer()];
  int64_t heads = p.heads(), window = p.window(), chunk = p.chunk();
  size_t headDim = size_t(p.head_dim());
  int64_t group = heads / p.kv_heads();
  size_t elemSize = dtypeSize(cache.dtype);
  size_t outElemSize = dtypeSize(out.dtype());
  float scale = float(p.scale()), cap = float(p.softcap());
  pool_->parallelFor(step_.numTokens * heads, [&](int64_t begin, int64_t end,
                                                  int t) {
    Worker &w = workers_[t];
    for (int64_t item = begin; item < end; ++item) {
      int64_t i = item / heads, h = item % heads;
      // Query head h reads KV head h / (heads / kv_heads).
      size_t kvHead = size_t(h / group);
      int64_t position = step_.positions[i];
      // The first position this token sees: causal, then window, chunk.
      int64_t first = 0;
      if (window > 0)
        first = std::max<int64_t>(first, position - window + 1);
      if (chunk > 0)
        first = std::max<int64_t>(first, position - position % chunk);
      size_t base = size_t(step_.slots[i]) * size_t(cache.capacity);
      auto rowAt = [&](int64_t j) {
        size_t r = base + size_t(j % cache.capacity);
        return cache.data.data() +
               (r * cache.rowElems + kvHead * headDim) * elemSize;
      };
      const float *q = query + size_t(item) * headDim;
      float *scores = w.scores.data();
      float maxScore = -std::numeric_limits<float>::infinity();
      for (int64_t j = first; j <= position; ++j) {
        const float *k = asFloats(rowAt(j), cache.dtype, headDim, w.a.data());
        float s = dot(q, k, headDim) * scale;
        if (cap > 0)
          s = cap * std::tanh(s / cap);
        scores[j - first] = s;
        maxScore = std::max(maxScore, s);
      }
      float sum = 0.0f;
      for (int64_t j = first; j <= position; ++j) {
        float e = std::exp(scores[j - first] - maxScore);
        scores[j - first] = e;
        sum += e;
      }
      float *acc = w.b.data();
      std::fill(acc, acc + headDim, 0.0f);
      for (int64_t j = first; j <= position; ++j) {
        const float *v = asFloats(rowAt(j) + cache.valuesOffset, cache.dtype,
                                  headDim, w.a.data());
        axpy(scores[j - first] / sum, v, acc, headDim);
      }
      narrow(acc, out.dtype(), row(out, i) + size_t(h) * headDim * outElemSize,
             headDim);
    }
  });
}

} // namespace llmc::runtime::cpu
