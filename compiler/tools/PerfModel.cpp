//===- PerfModel.cpp - a roofline model of a plan's steps -----------------===//
//
// Bytes: each weight a kernel reads, once per kernel (the embedding table
// only the rows of the step's tokens; a MoE layer only the experts its
// tokens are expected to choose: E (1 - (1 - k/E)^N) of E for N tokens);
// each activation a kernel reads from or writes to the arena, once; the KV
// rows attention reads (the cached context once per sequence, as a flash
// kernel that keeps a chunk's queries together reads it) and the rows a
// cache write stores. FLOPs: the products (linear, LM head, router,
// experts, attention's two, MLA's absorptions); elementwise ops count
// bytes only. A prefill chunk's LM head runs for its last token only.
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/PerfModel.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/Backend.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <utility>

namespace pl = llmc::plan;

namespace llmc::tools {

const std::vector<DeviceModel> &deviceModels() {
  // NVIDIA datasheets, dense tensor-core rates with fp32 accumulation.
  static const std::vector<DeviceModel> models = {
      {"h100-sxm", "H100 SXM: 3.35 TB/s, 989 TFLOP/s 16-bit, 67 TFLOP/s fp32",
       3.35e12, 989.4e12, 66.9e12},
      {"h200", "H200: 4.8 TB/s, 989 TFLOP/s 16-bit, 67 TFLOP/s fp32", 4.8e12,
       989.4e12, 66.9e12},
      {"h100-pcie",
       "H100 PCIe: 2.0 TB/s, 756 TFLOP/s 16-bit, 51 TFLOP/s fp32", 2.0e12,
       756.5e12, 51.2e12},
      {"a100-sxm",
       "A100 SXM 80GB: 2.04 TB/s, 312 TFLOP/s 16-bit, 19.5 TFLOP/s fp32",
       2.039e12, 312e12, 19.5e12},
      {"l40s", "L40S: 0.864 TB/s, 362 TFLOP/s 16-bit, 91.6 TFLOP/s fp32",
       0.864e12, 362.05e12, 91.6e12},
  };
  return models;
}

std::optional<DeviceModel> findDeviceModel(const std::string &name) {
  for (const DeviceModel &d : deviceModels())
    if (name == d.name)
      return d;
  return std::nullopt;
}

namespace {

/// Whether layer `layer`'s cache holds 16-bit values (latent_attn_mma then
/// runs MLA's attention on tensor cores, whatever the query's type).
bool cache16(const pl::Plan &plan, uint32_t layer) {
  const auto *caches = plan.kv_caches();
  if (!caches || layer >= caches->size())
    return false;
  const pl::DType t = caches->Get(layer)->dtype();
  return t == pl::DType::BF16 || t == pl::DType::F16;
}

/// Bytes per element (I4, F4E2M1: half a byte).
double dtypeBytes(pl::DType t) { return double(runtime::dtypeBits(t)) / 8.0; }

/// Bytes of one cached position of layer `layer`: every array of the cache
/// (keys and values, or MLA's latent row), scales included.
double kvRowBytes(const pl::Plan &plan, uint32_t layer) {
  const auto *caches = plan.kv_caches();
  if (!caches || layer >= caches->size())
    return 0;
  const pl::KVCacheLayout &c = *caches->Get(layer);
  return double(runtime::kvCacheArrays(c) * runtime::kvCacheRowBytes(c));
}

/// Positions one sequence's step reads from a cache that keeps `window`
/// (0: all) positions back, and those one query attends on average.
std::pair<double, double> attended(const StepShape &s, int64_t window,
                                   int64_t chunk) {
  const double all = double(s.context + s.tokens);
  double read = all, mean = s.step == pl::Step::Decode
                                ? double(s.context + 1)
                                : double(s.context) + (s.tokens + 1) / 2.0;
  int64_t limit = window > 0 ? window : 0;
  if (chunk > 0)
    limit = limit > 0 ? std::min(limit, chunk) : chunk;
  if (limit > 0) {
    mean = std::min(mean, double(limit));
    read = std::min(read, double(limit + s.tokens - 1));
  }
  return {read, mean};
}

} // namespace

StepCost modelStep(const pl::Plan &plan, const pl::Program &program,
                   const StepShape &shape, const DeviceModel &device) {
  StepCost step;
  const auto &weights = *plan.weights();
  const double stepRows = double(shape.tokens * shape.batch); // N of the step
  for (const pl::Kernel *k : *program.kernels()) {
    KernelCost cost;
    cost.name = k->name() ? k->name()->str() : "";
    // A prefill chunk runs the LM head for its last token alone, as
    // llmc_prefill does unless every token's logits are asked for
    // (StepInputs::logitsFrom).
    const double rows =
        shape.step == pl::Step::Prefill && runtime::logitsKernel(*k)
            ? double(shape.batch)
            : stepRows;
    if (const auto *launches = k->launches())
      for (const pl::Launch *l : *launches)
        if (int64_t(l->min_tokens()) <= int64_t(rows) &&
            (l->max_tokens() == 0 || int64_t(rows) <= int64_t(l->max_tokens())))
          ++cost.launches;

    // Weights, each once per kernel, at the largest fraction any op reads.
    std::vector<std::pair<uint32_t, double>> used;
    auto useWeight = [&](const pl::Operand *o, double fraction) {
      if (!o || o->kind() != pl::OperandKind::Weight ||
          o->index() >= weights.size())
        return;
      for (auto &[index, f] : used)
        if (index == o->index()) {
          f = std::max(f, fraction);
          return;
        }
      used.emplace_back(o->index(), fraction);
    };
    // Activations, each arena (or scratch, input) range once.
    std::set<std::pair<int, uint64_t>> seen, written;
    auto activation = [&](const pl::Operand *o, bool write) {
      if (!o || o->kind() == pl::OperandKind::Weight ||
          o->kind() == pl::OperandKind::KVCache)
        return;
      std::pair<int, uint64_t> key{int(o->kind()), o->offset() + o->index()};
      if (!write && written.count(key))
        return; // produced inside the kernel
      if (write)
        written.insert(key);
      if (!seen.insert(key).second && !write)
        return;
      cost.activationBytes +=
          rows * double(std::max<uint64_t>(1, o->row_elems())) *
          dtypeBytes(o->dtype());
      if (!write && (o->dtype() == pl::DType::BF16 ||
                     o->dtype() == pl::DType::F16))
        cost.tensorCores = true;
    };

    for (const pl::Op *op : *k->ops()) {
      const auto *in = op->inputs();
      const auto *out = op->outputs();
      if (in)
        for (unsigned i = 0; i < in->size(); ++i) {
          const pl::Operand *o = in->Get(i);
          double fraction = 1.0;
          if (const auto *e = op->params_as_Embedding())
            fraction = std::min(1.0, rows / double(std::max<int64_t>(1, e->vocab())));
          else if (const auto *m = op->params_as_MoEExperts(); m && i >= 3) {
            const double E = double(m->experts()), kk = double(m->top_k());
            fraction = E > 0 ? 1.0 - std::pow(1.0 - kk / E, rows) : 1.0;
          } else if (const auto *q = op->params_as_MLAAbsorbQuery())
            // kv_b's W_UK rows only; W_UV's for the output.
            fraction = double(q->nope_dim()) /
                       double(q->nope_dim() + q->v_dim());
          else if (const auto *ao = op->params_as_MLAAbsorbOutput())
            fraction = double(ao->v_dim()) /
                       double(ao->nope_dim() + ao->v_dim());
          useWeight(o, fraction);
          activation(o, false);
        }
      if (out)
        for (const pl::Operand *o : *out)
          activation(o, true);

      // FLOPs and KV traffic.
      double &f = cost.flops;
      if (const auto *l = op->params_as_Linear())
        f += 2 * rows * double(l->in_features()) * double(l->out_features());
      else if (const auto *g = op->params_as_GatedLinear())
        f += 4 * rows * double(g->in_features()) * double(g->out_features());
      else if (const auto *h = op->params_as_LMHead())
        f += 2 * rows * double(h->hidden()) * double(h->vocab());
      else if (const auto *r = op->params_as_MoERouter())
        f += 2 * rows * double(r->hidden()) * double(r->experts());
      else if (const auto *m = op->params_as_MoEExperts())
        f += 6 * rows * double(m->top_k()) * double(m->hidden()) *
             double(m->intermediate());
      else if (const auto *sg = op->params_as_SigmoidGate())
        f += 2 * rows * double(sg->hidden());
      else if (const auto *a = op->params_as_Attention()) {
        const pl::KVCacheLayout *c =
            plan.kv_caches() && a->layer() < plan.kv_caches()->size()
                ? plan.kv_caches()->Get(a->layer())
                : nullptr;
        auto [read, mean] =
            attended(shape, c ? c->window() : a->window(), a->chunk());
        f += 4 * rows * mean * double(a->heads()) * double(a->head_dim());
        cost.kvBytes += double(shape.batch) * read * kvRowBytes(plan, a->layer());
      } else if (const auto *w = op->params_as_KVCacheWrite())
        cost.kvBytes += rows * kvRowBytes(plan, w->layer());
      else if (const auto *lw = op->params_as_LatentCacheWrite())
        cost.kvBytes += rows * kvRowBytes(plan, lw->layer());
      else if (const auto *q = op->params_as_MLAAbsorbQuery())
        f += 2 * rows * double(q->heads()) * double(q->nope_dim()) *
             double(q->latent_dim());
      else if (const auto *la = op->params_as_LatentAttention()) {
        auto [read, mean] = attended(shape, 0, 0);
        f += 2 * rows * mean * double(la->heads()) *
             double(2 * la->latent_dim() + la->rope_dim());
        cost.kvBytes += double(shape.batch) * read * kvRowBytes(plan, la->layer());
        cost.tensorCores |= cache16(plan, la->layer());
      } else if (const auto *o = op->params_as_MLAAbsorbOutput())
        f += 2 * rows * double(o->heads()) * double(o->latent_dim()) *
             double(o->v_dim());
      else if (const auto *ma = op->params_as_MLAAttention()) {
        // The expanded op runs as the absorbed kernels (MLARecipes.cpp).
        auto [read, mean] = attended(shape, 0, 0);
        const double H = double(ma->heads()), L = double(ma->latent_dim());
        f += 2 * rows * H * L *
             (double(ma->nope_dim()) + double(ma->v_dim()) +
              mean * (2 * L + double(ma->rope_dim())) / L);
        cost.kvBytes += double(shape.batch) * read * kvRowBytes(plan, ma->layer());
        cost.tensorCores |= cache16(plan, ma->layer());
      }
    }
    for (auto [index, fraction] : used) {
      const pl::Weight *w = weights[index];
      double bytes = double(w->size());
      if (const pl::WeightQuant *q = w->quant()) {
        if (q->scales() < weights.size())
          bytes += double(weights[q->scales()]->size());
        if (q->zeros() >= 0 && uint64_t(q->zeros()) < weights.size())
          bytes += double(weights[uint32_t(q->zeros())]->size());
      }
      cost.weightBytes += bytes * fraction;
      if (w->dtype() == pl::DType::BF16 || w->dtype() == pl::DType::F16)
        cost.tensorCores = true;
    }
    const double peak = cost.tensorCores ? device.flops16 : device.flops32;
    cost.seconds = std::max(
        (cost.weightBytes + cost.activationBytes + cost.kvBytes) /
            device.bandwidth,
        cost.flops / peak);

    step.launches += cost.launches;
    step.weightBytes += cost.weightBytes;
    step.activationBytes += cost.activationBytes;
    step.kvBytes += cost.kvBytes;
    step.flops += cost.flops;
    step.seconds += cost.seconds;
    step.kernels.push_back(std::move(cost));
  }
  return step;
}

namespace {

/// The kernel's name with its layer index as N ("model.layers.N.mlp"), and
/// the index (-1 for none).
std::pair<std::string, int64_t> layerless(const std::string &name) {
  static const std::regex layer(R"(model\.layers\.(\d+)\.)");
  std::smatch m;
  if (!std::regex_search(name, m, layer))
    return {name, -1};
  return {std::regex_replace(name, layer, "model.layers.N."),
          std::stoll(m[1].str())};
}

void printStep(llvm::raw_ostream &os, const pl::Plan &plan,
               const pl::Program &program, const StepShape &shape,
               const DeviceModel &device) {
  StepCost cost = modelStep(plan, program, shape, device);
  // Rows in program order, the layers' kernels summed.
  struct Row {
    KernelCost sum;
    std::set<int64_t> layers;
  };
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  std::set<int64_t> layers;
  int64_t layerLaunches = 0;
  for (const KernelCost &k : cost.kernels) {
    auto [name, layer] = layerless(k.name);
    auto [it, fresh] = rows.try_emplace(name);
    if (fresh) {
      order.push_back(name);
      it->second.sum.name = name;
    }
    Row &r = it->second;
    r.sum.launches += k.launches;
    r.sum.weightBytes += k.weightBytes;
    r.sum.activationBytes += k.activationBytes;
    r.sum.kvBytes += k.kvBytes;
    r.sum.flops += k.flops;
    r.sum.seconds += k.seconds;
    if (layer >= 0) {
      r.layers.insert(layer);
      layers.insert(layer);
      layerLaunches += k.launches;
    }
  }
  os << llvm::format("  %-58s %8s %10s %9s %9s %10s %10s %6s\n", "kernel",
                     "launches", "weights MB", "act MB", "KV MB", "GFLOP",
                     "ideal us", "share");
  for (const std::string &name : order) {
    const Row &r = rows[name];
    std::string label = name;
    if (r.layers.size() > 1)
      label += " (x" + std::to_string(r.layers.size()) + ")";
    os << llvm::format("  %-58s %8lld %10.2f %9.3f %9.3f %10.3f %10.2f %5.1f%%\n",
                       label.c_str(), (long long)r.sum.launches,
                       r.sum.weightBytes / 1e6, r.sum.activationBytes / 1e6,
                       r.sum.kvBytes / 1e6, r.sum.flops / 1e9,
                       r.sum.seconds * 1e6,
                       cost.seconds > 0 ? 100 * r.sum.seconds / cost.seconds
                                        : 0.0);
  }
  const double bytes = cost.weightBytes + cost.activationBytes + cost.kvBytes;
  os << "  total: " << cost.launches << " launches";
  if (!layers.empty() && cost.launches > 0)
    os << llvm::format(" (%.1f in each of %zu layers)",
                       double(layerLaunches) / double(layers.size()),
                       layers.size());
  os << llvm::format(", %.3f GB moved, %.3f GFLOP: ideal %.2f us, %.0f "
                     "tokens/s; %s-bound\n",
                     bytes / 1e9, cost.flops / 1e9, cost.seconds * 1e6,
                     cost.seconds > 0
                         ? double(shape.tokens * shape.batch) / cost.seconds
                         : 0.0,
                     [&] {
                       double memory = 0, compute = 0;
                       for (const KernelCost &k : cost.kernels) {
                         const double t = (k.weightBytes + k.activationBytes +
                                           k.kvBytes) /
                                          device.bandwidth;
                         (t >= k.seconds ? memory : compute) += k.seconds;
                       }
                       return memory >= compute ? "memory" : "compute";
                     }());
}

} // namespace

void printPerfModel(llvm::raw_ostream &os, const pl::Plan &plan,
                    const DeviceModel &device, int64_t prefillTokens,
                    int64_t batch, int64_t context) {
  os << "perf model (a model, not a measurement: the least each kernel "
        "must move and compute, at "
     << device.description << ")\n";
  const int64_t maxTokens = plan.memory() ? plan.memory()->max_tokens() : 1;
  const int64_t chunk = std::clamp<int64_t>(prefillTokens, 1, maxTokens);
  if (const pl::Program *prefill = plan.prefill()) {
    os << "prefill: one chunk of " << chunk
       << " tokens into an empty sequence\n";
    printStep(os, plan, *prefill, {pl::Step::Prefill, chunk, 1, 0}, device);
  }
  if (const pl::Program *decode = plan.decode()) {
    os << "decode: one step of " << batch << " sequence"
       << (batch == 1 ? "" : "s") << " of " << context
       << " cached positions each\n";
    printStep(os, plan, *decode, {pl::Step::Decode, 1, batch, context},
              device);
  }
}

} // namespace llmc::tools
