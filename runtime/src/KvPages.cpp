//===- KvPages.cpp - a session's KV page tables and their pages -----------===//

#include "runtime/src/KvPages.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/Backend.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <map>
#include <tuple>
#include <string>

namespace llmc::runtime {

namespace P = llmc::plan;

Status KvPages::create(const PlanFile &plan, const SessionShape &shape,
                       int64_t kvCacheTokens, KvPages &out) {
  const P::Plan &p = *plan.plan();
  const int64_t maxTokens = p.memory()->max_tokens();
  const int64_t pageTokens = p.memory()->kv_page_tokens();
  out = KvPages();
  out.paged_ = pageTokens > 0;
  const int64_t wholeTable =
      out.paged_ ? (shape.maxSeqLen + pageTokens - 1) / pageTokens : 1;
  std::map<std::tuple<int64_t, int64_t, int64_t>, size_t> byPaging;
  const auto *layouts = p.kv_caches();
  const uint32_t layers = layouts ? layouts->size() : 0;
  for (uint32_t layer = 0; layer < layers; ++layer) {
    const KvCachePaging paging = kvCachePaging(
        *layouts->Get(layer), shape.maxSeqLen, maxTokens, pageTokens);
    auto [it, added] = byPaging.try_emplace(
        {paging.pageTokens, paging.tablePages, paging.capacity},
        out.groups_.size());
    out.groupOfLayer_.push_back(it->second);
    const int64_t window = layouts->Get(layer)->window();
    if (!added) {
      Group &g = out.groups_[it->second];
      g.window = std::max(g.window, window);
      continue;
    }
    Group g;
    g.pageTokens = paging.pageTokens;
    g.tablePages = paging.tablePages;
    g.capacity = paging.capacity;
    g.window = window;
    // Kernels index tables and pages with 32-bit ints.
    if (shape.maxBatch * g.tablePages > INT32_MAX)
      return invalidArgument(
          "llmc_session_create: max_batch " + std::to_string(shape.maxBatch) +
          " times " + std::to_string(g.tablePages) +
          " KV pages per sequence exceeds 2^31 - 1 page table entries");
    const size_t entries = size_t(shape.maxBatch) * size_t(g.tablePages);
    g.table.assign(entries, -1);
    g.held.assign(size_t(shape.maxBatch), 0);
    g.maxPages = int64_t(entries);
    if (!out.paged_) {
      // One page per sequence, held from the start.
      g.pages = shape.maxBatch;
      for (int64_t s = 0; s < shape.maxBatch; ++s) {
        g.table[size_t(s)] = int32_t(s);
        g.held[size_t(s)] = 1;
      }
    } else {
      g.pageShift = int32_t(std::countr_zero(uint64_t(pageTokens)));
      // kv_cache_tokens caps the layers that hold whole sequences.
      if (kvCacheTokens > 0 && g.tablePages == wholeTable)
        g.maxPages = std::min<int64_t>(
            g.maxPages, (kvCacheTokens + pageTokens - 1) / pageTokens);
    }
    out.groups_.push_back(std::move(g));
  }
  return Status::success();
}

int64_t KvPages::pagesFor(const Group &g, int64_t length) {
  return std::min(g.tablePages, (length + g.pageTokens - 1) / g.pageTokens);
}

Status KvPages::reserve(const char *function, int32_t seq, int64_t length,
                        const Grow &grow) {
  if (!paged_)
    return Status::success();
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group &g = groups_[gi];
    const int64_t need = pagesFor(g, length);
    int64_t &held = g.held[size_t(seq)];
    while (held < need) {
      if (g.unused.empty()) {
        if (g.pages >= g.maxPages)
          return Status(
              LLMC_ERROR_CAPACITY,
              std::string(function) + ": the KV cache is full: sequence " +
                  std::to_string(seq) + " needs " + std::to_string(need) +
                  " pages of " + std::to_string(g.pageTokens) +
                  " tokens and the session's " + std::to_string(g.maxPages) +
                  (g.maxPages == 1 ? " page" : " pages") +
                  " (options.kv_cache_tokens) are all held; reset a "
                  "sequence or create the session with a larger "
                  "kv_cache_tokens");
        // Double, but at least what this sequence lacks.
        const int64_t more = std::max(need - held, std::max<int64_t>(g.pages, 1));
        const int64_t pages = std::min(g.maxPages, g.pages + more);
        LLMC_RETURN_IF_ERROR(grow(gi, pages));
        for (int64_t id = pages - 1; id >= g.pages; --id)
          g.unused.push_back(int32_t(id));
        g.pages = pages;
      }
      g.table[size_t(seq) * size_t(g.tablePages) + size_t(held)] =
          g.unused.back();
      g.unused.pop_back();
      ++held;
      ++g.version;
    }
  }
  return Status::success();
}

Status KvPages::keeps(const char *function, int32_t seq, int64_t length,
                      int64_t n) const {
  for (const Group &g : groups_) {
    // The oldest position the ring still holds, and the oldest that
    // position n (the next one) attends to.
    const int64_t oldest = std::max<int64_t>(0, length - g.capacity);
    const int64_t needed =
        g.window > 0 ? std::max<int64_t>(0, n - g.window + 1) : 0;
    if (needed < oldest)
      return Status(
          LLMC_ERROR_UNSUPPORTED,
          std::string(function) + ": sequence " + std::to_string(seq) +
              " holds " + std::to_string(length) +
              " tokens, and its sliding-window layers keep only the last " +
              std::to_string(g.capacity) + " of them: going back to " +
              std::to_string(n) + " tokens needs position " +
              std::to_string(needed) + "; prefill the " + std::to_string(n) +
              " tokens again instead");
  }
  return Status::success();
}

void KvPages::trim(int32_t seq, int64_t length) {
  if (!paged_)
    return;
  for (Group &g : groups_) {
    const int64_t need = pagesFor(g, length);
    int64_t &held = g.held[size_t(seq)];
    while (held > need) {
      --held;
      int32_t &entry =
          g.table[size_t(seq) * size_t(g.tablePages) + size_t(held)];
      g.unused.push_back(entry);
      entry = -1;
      ++g.version;
    }
  }
}

} // namespace llmc::runtime
