//===- PlanSummary.cpp - what a plan holds, as llmc inspect prints it -----===//

#include "compiler/tools/PlanSummary.h"
#include "compiler/tools/WeightTraffic.h"

#include "runtime/schema/PlanFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>
#include <tuple>

using namespace llvm;
namespace pl = llmc::plan;

namespace llmc::tools {
namespace {

std::string humanBytes(uint64_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::string s;
  raw_string_ostream os(s);
  os << bytes << " bytes";
  if (u > 0)
    os << " (" << format("%.2f", v) << " " << units[u] << ")";
  return s;
}

/// 30532122624 -> "30532122624 (30.53 B)".
std::string humanCount(uint64_t n) {
  std::string s = std::to_string(n);
  if (n >= 1000000000)
    s += " (" + std::string(formatv("{0:F2} B", double(n) / 1e9)) + ")";
  else if (n >= 1000000)
    s += " (" + std::string(formatv("{0:F2} M", double(n) / 1e6)) + ")";
  return s;
}

/// The op kind as the llm dialect spells it: plan.fbs's table name in
/// snake case ("AddRMSNorm" -> "add_rms_norm", "KVCacheWrite" ->
/// "kv_cache_write"), so a new table needs no entry here.
std::string opKindName(pl::OpParams kind) {
  const char *table = pl::EnumNameOpParams(kind);
  if (!table || !*table)
    return "?";
  // "MoE" is one word ("MoERouter" -> "moe_router").
  std::string spelled = table;
  for (size_t at; (at = spelled.find("MoE")) != std::string::npos;)
    spelled.replace(at, 3, "Moe");
  table = spelled.c_str();
  std::string name;
  for (size_t i = 0; table[i]; ++i) {
    char c = table[i];
    bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0) {
      char prev = table[i - 1], next = table[i + 1];
      bool prevLower = prev >= 'a' && prev <= 'z';
      bool nextLower = next >= 'a' && next <= 'z';
      if (prevLower || nextLower)
        name += '_';
    }
    name += upper ? char(c - 'A' + 'a') : c;
  }
  return name;
}

void printLaunches(
    raw_ostream &os,
    const flatbuffers::Vector<flatbuffers::Offset<pl::Launch>> &launches,
    const flatbuffers::Vector<flatbuffers::Offset<pl::CodeEntry>> &entries) {
  for (const pl::Launch *l : launches) {
    os << "          -> " << entries.Get(l->entry())->name()->str() << " grid(";
    ListSeparator comma(",");
    for (uint32_t g : *l->grid())
      os << comma << g;
    os << ")";
    if (l->tokens_per_block())
      os << " x ceil(T/" << l->tokens_per_block() << ") on "
         << "xyz"[l->token_axis() % 3];
    os << " block " << l->block();
    if (l->dynamic_shared_bytes())
      os << " + " << l->dynamic_shared_bytes() << " B dynamic shared";
    os << ", T in [" << l->min_tokens() << ", ";
    if (l->max_tokens())
      os << l->max_tokens() << "]\n";
    else
      os << "max]\n";
  }
}

void printProgram(
    raw_ostream &os, const char *name, const pl::Program &p,
    const flatbuffers::Vector<flatbuffers::Offset<pl::CodeEntry>> *entries) {
  os << name << ": " << p.kernels()->size() << " kernels\n";
  for (auto [i, k] : enumerate(*p.kernels())) {
    os << "  " << format("%4u", unsigned(i)) << "  " << k->name()->str()
       << ": ";
    ListSeparator sep(", ");
    for (const pl::Op *op : *k->ops())
      os << sep << opKindName(op->params_type());
    os << "\n";
    if (k->launches() && entries)
      printLaunches(os, *k->launches(), *entries);
  }
  if (p.greedy() && entries) {
    os << "  greedy sampling -> scratch offset " << p.greedy_tokens()->offset()
       << ":\n";
    printLaunches(os, *p.greedy(), *entries);
  }
}

/// The generated code: per entry and target, what ptxas reported.
void printCuda(raw_ostream &os, const pl::CudaCode &cuda) {
  os << "cuda: " << cuda.entries()->size() << " kernels compiled by NVRTC "
     << cuda.nvrtc_version()->str() << " for ";
  ListSeparator sep(", ");
  for (const auto *t : *cuda.targets())
    os << sep << t->str();
  os << "; scratch " << humanBytes(cuda.scratch_bytes()) << "\n";
  os << format("  %-70s %-7s %5s %9s %9s %6s %6s %8s\n", "entry", "target",
               "regs", "spill st", "spill ld", "smem", "local", "cubin");
  for (const pl::CodeEntry *e : *cuda.entries())
    for (const pl::CodeBinary *b : *e->binaries()) {
      const pl::KernelResources *r = b->resources();
      os << format("  %-70s %-7s %5u %9u %9u %6u %6u %8u\n", e->name()->c_str(),
                   b->target()->c_str(), r ? r->registers() : 0,
                   r ? r->spill_store_bytes() : 0,
                   r ? r->spill_load_bytes() : 0,
                   r ? r->static_shared_bytes() : 0, r ? r->local_bytes() : 0,
                   unsigned(b->cubin() ? b->cubin()->size() : 0));
    }
}

} // namespace

void printPlanSummary(raw_ostream &os, const pl::Plan &plan, StringRef path,
                      uint64_t fileSize, bool listKernels, bool listWeights) {
  const pl::Model &model = *plan.model();
  const pl::MemoryPlan &memory = *plan.memory();

  os << "plan: " << path << ", " << humanBytes(fileSize) << "\n";
  os << "format: " << plan.version()->major() << "." << plan.version()->minor()
     << ", written by " << plan.producer()->str() << "\n";
  os << "targets: ";
  {
    ListSeparator sep(", ");
    for (const auto *t : *plan.targets())
      os << sep << t->str();
  }
  os << "\n";
  os << "model: " << model.model_type()->str() << ", vocab "
     << model.vocab_size() << ", hidden " << model.hidden_size() << ", "
     << model.num_layers() << " layers, " << runtime::dtypeName(model.dtype())
     << ", max sequence " << model.max_seq_len() << " tokens\n";
  if (model.notes())
    for (const auto *note : *model.notes())
      os << "note: " << note->str() << "\n";
  os << "memory plan: arena " << humanBytes(memory.arena_bytes()) << " for "
     << memory.max_tokens() << " tokens per step\n";

  // KV cache bytes, with the runtime's own capacity rule; layers with the
  // same layout are listed once.
  // A latent cache (MLA) holds one row per token, a KV cache two.
  // (FP8: with the f32 scale of every head.)
  auto perToken = [](const pl::KVCacheLayout &c) {
    return runtime::kvCacheArrays(c) * runtime::kvCacheRowBytes(c);
  };
  // The memory of a sequence's pages, and the positions they keep.
  auto paging = [&](const pl::KVCacheLayout &c) {
    return runtime::kvCachePaging(c, model.max_seq_len(), memory.max_tokens(),
                                  memory.kv_page_tokens());
  };
  auto capacity = [&](const pl::KVCacheLayout &c) { return paging(c).rows(); };
  auto positions = [&](const pl::KVCacheLayout &c) {
    return std::min<int64_t>(model.max_seq_len(), paging(c).capacity);
  };
  std::map<std::tuple<int64_t, int64_t, int, int64_t, int64_t>,
           std::pair<const pl::KVCacheLayout *, unsigned>>
      groups;
  uint64_t perTokenAll = 0, maxSeqAll = 0;
  for (const pl::KVCacheLayout *c : *plan.kv_caches()) {
    auto &group = groups[{c->kv_heads(), c->head_dim(), int(c->dtype()),
                          c->window(), c->latent_dim()}];
    group.first = c;
    ++group.second;
    perTokenAll += perToken(*c);
    maxSeqAll += perToken(*c) * uint64_t(capacity(*c));
  }
  os << "kv cache";
  if (memory.kv_page_tokens() > 0)
    os << " (paged: " << memory.kv_page_tokens()
       << " tokens per page, allocated as sequences grow)";
  os << ":\n";
  for (auto &[key, group] : groups) {
    const pl::KVCacheLayout &c = *group.first;
    if (c.latent_dim() > 0)
      os << "  " << group.second << " layer(s): MLA latent " << c.latent_dim()
         << " + rope " << c.head_dim() - c.latent_dim() << " x "
         << runtime::dtypeName(c.dtype()) << " (shared by all heads)";
    else
      os << "  " << group.second << " layer(s): K+V " << c.kv_heads()
         << " heads x " << c.head_dim() << " x "
         << runtime::dtypeName(c.dtype())
         << (runtime::kvCacheScaled(c) ? " + an f32 scale per head" : "");
    if (c.window())
      os << ", window " << c.window();
    os << ": " << perToken(c) << " bytes per token per layer, "
       << humanBytes(perToken(c) * uint64_t(capacity(c))) << " per layer for "
       << positions(c) << " tokens";
    if (positions(c) < model.max_seq_len())
      os << " (a ring"
         << (capacity(c) > positions(c)
                 ? " in " + std::to_string(capacity(c)) + " rows of pages"
                 : std::string())
         << ")";
    os << "\n";
  }
  os << "  all layers: " << perTokenAll << " bytes per token, "
     << humanBytes(maxSeqAll) << " per sequence of " << model.max_seq_len()
     << " tokens";
  if (const uint64_t whole = perTokenAll * uint64_t(model.max_seq_len());
      whole > maxSeqAll)
    os << " (" << humanBytes(whole) << " if every layer held every token)";
  os << "\n";
  WeightTraffic traffic = weightTraffic(plan);
  os << "weights: " << plan.weights()->size() << " tensors, "
     << humanBytes(traffic.totalBytes) << "\n";
  os << "parameters: " << humanCount(traffic.totalParams);
  if (traffic.experts)
    os << ", " << humanCount(traffic.activeParams) << " active per token ("
       << traffic.topK << " of " << traffic.experts << " routed experts)";
  os << "\n";
  os << "batch-1 decode step reads " << humanBytes(traffic.decodeBytes)
     << " of weights";
  if (traffic.experts || traffic.embeddingRowOnly) {
    ListSeparator sep(", ");
    os << " (";
    if (traffic.experts)
      os << sep << "routed experts: the chosen " << traffic.topK << " of "
         << traffic.experts;
    if (traffic.embeddingRowOnly)
      os << sep << "embedding table: one row";
    os << ")";
  }
  os << "\n";
  if (listWeights)
    for (const pl::Weight *w : *plan.weights()) {
      os << "  " << w->name()->str() << ": " << runtime::dtypeName(w->dtype())
         << " [";
      ListSeparator sep(", ");
      for (int64_t d : *w->shape())
        os << sep << d;
      os << "] at " << w->offset() << ", " << w->size() << " bytes, xxh3 "
         << format_hex(w->checksum(), 18) << "\n";
    }
  const auto *entries = plan.cuda() ? plan.cuda()->entries() : nullptr;
  if (plan.cuda())
    printCuda(os, *plan.cuda());
  if (listKernels) {
    printProgram(os, "prefill", *plan.prefill(), entries);
    printProgram(os, "decode", *plan.decode(), entries);
  }
}

} // namespace llmc::tools
