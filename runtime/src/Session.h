//===- Session.h - sequences, steps and their validation --------*- C++ -*-===//
//
// What llmc_session is: the length of each sequence slot, their KV page
// tables (KvPages.h) and a backend that holds the arena and KV pages. Checks every argument of llmc_prefill and
// llmc_decode, splits prompts into steps of at most max_tokens, fills the
// step inputs (token ids, positions, slots) and copies the logits out.
// A sequence's length changes only when its whole call succeeded.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_SESSION_H
#define LLMC_RUNTIME_SRC_SESSION_H

#include "llmc/llmc.h"
#include "runtime/src/Backend.h"
#include "runtime/src/KvPages.h"
#include "runtime/src/PlanFile.h"

#include <memory>
#include <vector>

namespace llmc::runtime {

class Session {
public:
  /// Checks `options` against the plan and creates the backend they name.
  static Status create(const PlanFile &plan,
                       const llmc_session_options &options,
                       std::unique_ptr<Session> &out);

  /// `greedyToken`, if not null, receives the greedy token of the last
  /// logits row (llmc_prefill_greedy); likewise `greedyTokens`, one per
  /// sequence of the batch (llmc_decode_greedy). The greedy calls ask for
  /// no logits, and the logits pointers are then ignored.
  Status prefill(int32_t seq, const int32_t *tokens, int32_t numTokens,
                 float *allLogits, float *lastLogits,
                 int32_t *greedyToken = nullptr, const char *fn = nullptr);
  Status decode(int32_t batch, const int32_t *seqs, const int32_t *tokens,
                float *logits, int32_t *greedyTokens = nullptr,
                const char *fn = nullptr);
  Status sequenceLength(int32_t seq, int32_t &out) const;
  Status reset(int32_t seq);
  /// llmc_session_set_abort.
  void setAbort(llmc_abort_fn fn, void *userData) {
    abort_ = fn;
    abortData_ = userData;
  }
  /// llmc_sequence_truncate and llmc_sequence_copy.
  Status truncate(int32_t seq, int32_t n);
  Status copy(int32_t dst, int32_t src, int32_t n);
  /// Bytes the KV caches' pages take now.
  uint64_t kvBytes() const { return backend_->kvBytes(); }
  /// llmc_session_get_stats's counters (kv_bytes and kv_tokens filled).
  llmc_session_stats stats() const;
  const KvPages &kvPages() const { return kv_; }

  Backend &backend() { return *backend_; }
  const SessionShape &shape() const { return shape_; }

private:
  Session(const PlanFile &plan) : plan_(plan) {}

  Status checkSeq(const char *function, int32_t seq) const;
  Status checkTokens(const char *function, const int32_t *tokens,
                     int64_t count) const;
  /// Makes `seq` hold the KV pages of its first `length` positions.
  Status reservePages(const char *function, int32_t seq, int64_t length);
  /// Fails, naming `seqs[i]`, where greedy token out[i] is -1 (its logits
  /// hold a NaN) or outside the vocabulary.
  Status checkGreedy(const char *function, int64_t rows, const int32_t *seqs,
                     const int32_t *out) const;

  const PlanFile &plan_;
  SessionShape shape_;
  int64_t maxTokens_ = 0;
  int64_t vocab_ = 0;
  /// Before backend_, which reads it until destroyed.
  KvPages kv_;
  std::unique_ptr<Backend> backend_;
  std::vector<int32_t> lengths_;
  // The step inputs, max_tokens of each.
  std::vector<int32_t> stepTokens_, stepPositions_, stepSlots_;
  // Per sequence: whether the current decode batch names it already.
  std::vector<uint8_t> seen_;
  // What llmc_session_get_stats reports.
  uint64_t prefillTokens_ = 0, decodeSteps_ = 0, decodeTokens_ = 0;
  double prefillSeconds_ = 0, decodeSeconds_ = 0;
  llmc_abort_fn abort_ = nullptr;
  void *abortData_ = nullptr;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_SESSION_H
