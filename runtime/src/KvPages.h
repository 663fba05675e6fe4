//===- KvPages.h - a session's KV page tables and their pages ---*- C++ -*-===//
//
// The paged KV cache (plan.fbs, KVCacheLayout) as both backends share it:
// the layers whose caches have the same paging form a page group with one page table per sequence; the session hands out a group's
// physical pages as its sequences grow and takes them back on reset. The
// backend owns the pages' memory and grows it when asked (Backend::
// growKvPages), keeping what they hold; it reads the tables from here.
//
// Plans before format 1.9 have one page per sequence (of the cache's
// capacity): every sequence s holds page s from the start.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_KVPAGES_H
#define LLMC_RUNTIME_SRC_KVPAGES_H

#include "runtime/src/PlanFile.h"
#include "runtime/src/Status.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace llmc::runtime {

struct SessionShape;

class KvPages {
public:
  /// One page group: the layers with the same paging.
  struct Group {
    int64_t pageTokens = 0; // rows per page
    int32_t pageShift = 0;  // log2(pageTokens); 0 before format 1.9
    int64_t tablePages = 0; // entries per sequence
    /// Positions a sequence keeps: p is at r = p % capacity, page r / P.
    int64_t capacity = 0;
    /// The widest window of its layers (0: they attend to every position).
    int64_t window = 0;
    /// [max_batch][tablePages]: physical page ids, -1 where none is held.
    std::vector<int32_t> table;
    /// Pages each sequence holds (the first entries of its table).
    std::vector<int64_t> held;
    /// Pages the backend holds memory for, and those of them not held.
    int64_t pages = 0;
    std::vector<int32_t> unused;
    /// The most pages the session may hold.
    int64_t maxPages = 0;
    /// Changes with every change of `table` (a backend that copies the
    /// table compares it with its copy's).
    uint64_t version = 1;
  };

  /// The groups of `plan`'s caches for `shape`; `kvCacheTokens` > 0 caps
  /// the tokens the layers without a window hold, all sequences together
  /// (llmc_session_options.kv_cache_tokens).
  static Status create(const PlanFile &plan, const SessionShape &shape,
                       int64_t kvCacheTokens, KvPages &out);

  const std::vector<Group> &groups() const { return groups_; }
  std::vector<Group> &groups() { return groups_; }
  /// The group of layer `layer`'s cache.
  size_t groupOf(uint32_t layer) const { return groupOfLayer_[layer]; }
  /// Whether the plan pages its caches (format 1.9).
  bool paged() const { return paged_; }

  /// Called with (group, pages) when a group needs memory for more pages
  /// than it has: the backend's growKvPages.
  using Grow = std::function<Status(size_t, int64_t)>;

  /// Makes sequence `seq` hold the pages of positions [0, length), growing
  /// the backend's memory through `grow` when no page is unused. Fails with
  /// LLMC_ERROR_CAPACITY, naming `function`, past maxPages; the pages it
  /// took are then still held (release them with trim).
  Status reserve(const char *function, int32_t seq, int64_t length,
                 const Grow &grow);
  /// Gives back the pages of sequence `seq` beyond those positions
  /// [0, length) need.
  void trim(int32_t seq, int64_t length);
  /// Whether a sequence of `length` positions still holds what its first
  /// `n` need to go on (a ring keeps only its last `capacity` positions, and
  /// position n attends `window` back); LLMC_ERROR_UNSUPPORTED, naming
  /// `function` and `seq`, if not.
  Status keeps(const char *function, int32_t seq, int64_t length,
               int64_t n) const;
  /// Pages of group `g` that positions [0, length) need.
  static int64_t pagesFor(const Group &g, int64_t length);

private:

  std::vector<Group> groups_;
  std::vector<size_t> groupOfLayer_;
  bool paged_ = false;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_KVPAGES_H
