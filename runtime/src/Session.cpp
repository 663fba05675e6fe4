//===- Session.cpp - sequences, steps and their validation ----------------===//

#include "runtime/src/Session.h"

#include "runtime/src/Log.h"
#include "runtime/src/cpu/CpuBackend.h"
#include "runtime/src/cuda/CudaBackend.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace llmc::runtime {

namespace P = llmc::plan;

namespace {
// Far more than any machine has cores; guards against garbage options.
constexpr int32_t kMaxThreads = 1024;
} // namespace

Status Session::create(const PlanFile &plan,
                       const llmc_session_options &options,
                       std::unique_ptr<Session> &out) {
  const char *fn = "llmc_session_create";
  const P::Plan &p = *plan.plan();
  std::unique_ptr<Session> session(new Session(plan));
  if (options.max_batch < 1)
    return invalidArgument(std::string(fn) + ": options.max_batch " +
                           std::to_string(options.max_batch) +
                           " must be at least 1");
  int64_t planMaxSeqLen = p.model()->max_seq_len();
  if (options.max_seq_len < 0 || options.max_seq_len > planMaxSeqLen)
    return invalidArgument(std::string(fn) + ": options.max_seq_len " +
                           std::to_string(options.max_seq_len) +
                           " is not in [0, " + std::to_string(planMaxSeqLen) +
                           "] (0: the plan's)");
  if (options.num_threads < 0 || options.num_threads > kMaxThreads)
    return invalidArgument(std::string(fn) + ": options.num_threads " +
                           std::to_string(options.num_threads) +
                           " is not in [0, " + std::to_string(kMaxThreads) +
                           "] (0: one per core)");
  if (options.kv_cache_tokens < 0)
    return invalidArgument(std::string(fn) + ": options.kv_cache_tokens " +
                           std::to_string(options.kv_cache_tokens) +
                           " is negative (0: no limit)");
  session->shape_.maxBatch = options.max_batch;
  session->shape_.maxSeqLen =
      options.max_seq_len == 0 ? planMaxSeqLen : options.max_seq_len;
  session->maxTokens_ = p.memory()->max_tokens();
  session->vocab_ = p.model()->vocab_size();
  LLMC_RETURN_IF_ERROR(KvPages::create(plan, session->shape_,
                                       options.kv_cache_tokens, session->kv_));

  switch (options.backend) {
  case LLMC_BACKEND_CPU: {
    LLMC_RETURN_IF_ERROR(plan.requireTarget("cpu"));
    int threads = options.num_threads;
    if (threads == 0)
      threads = int(std::max(1u, std::thread::hardware_concurrency()));
    std::unique_ptr<cpu::CpuBackend> backend;
    LLMC_RETURN_IF_ERROR(
        cpu::CpuBackend::create(plan, session->shape_, session->kv_, threads,
                                backend));
    session->backend_ = std::move(backend);
    break;
  }
  case LLMC_BACKEND_CUDA: {
    if (options.cuda_device < 0)
      return invalidArgument(std::string(fn) + ": options.cuda_device " +
                             std::to_string(options.cuda_device) +
                             " is negative");
    std::unique_ptr<cuda::CudaBackend> backend;
    LLMC_RETURN_IF_ERROR(cuda::CudaBackend::create(
        plan, session->shape_, session->kv_, options.cuda_device, backend));
    session->backend_ = std::move(backend);
    break;
  }
  default:
    return invalidArgument(std::string(fn) + ": options.backend " +
                           std::to_string(int(options.backend)) +
                           " is not a known backend");
  }

  if (logEnabled(LLMC_LOG_INFO)) {
    const int64_t page = p.memory()->kv_page_tokens();
    log(LLMC_LOG_INFO,
        plan.path() + ": session on the " +
            (options.backend == LLMC_BACKEND_CPU ? "CPU" : "CUDA") +
            " backend, max_batch " + std::to_string(options.max_batch) +
            ", max_seq_len " + std::to_string(session->shape_.maxSeqLen) +
            (page > 0 ? ", KV pages of " + std::to_string(page) +
                            " tokens allocated as sequences grow"
                      : ", one KV page per sequence (a plan before format "
                        "1.9)"));
  }
  session->lengths_.assign(size_t(options.max_batch), 0);
  session->seen_.assign(size_t(options.max_batch), 0);
  session->stepTokens_.resize(size_t(session->maxTokens_));
  session->stepPositions_.resize(size_t(session->maxTokens_));
  session->stepSlots_.resize(size_t(session->maxTokens_));
  out = std::move(session);
  return Status::success();
}

Status Session::checkSeq(const char *function, int32_t seq) const {
  if (seq < 0 || seq >= shape_.maxBatch)
    return invalidArgument(std::string(function) + ": sequence " +
                           std::to_string(seq) + " is not in [0, " +
                           std::to_string(shape_.maxBatch) + ")");
  return Status::success();
}

Status Session::checkTokens(const char *function, const int32_t *tokens,
                            int64_t count) const {
  for (int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_)
      return invalidArgument(std::string(function) + ": tokens[" +
                             std::to_string(i) +
                             "] = " + std::to_string(tokens[i]) +
                             " is not in [0, " + std::to_string(vocab_) + ")");
  return Status::success();
}

Status Session::reservePages(const char *function, int32_t seq,
                             int64_t length) {
  return kv_.reserve(function, seq, length, [this](size_t group, int64_t pages) {
    const int64_t before = kv_.groups()[group].pages;
    LLMC_RETURN_IF_ERROR(backend_->growKvPages(group, pages));
    if (logEnabled(LLMC_LOG_INFO))
      log(LLMC_LOG_INFO,
          plan_.path() + ": KV page group " + std::to_string(group) +
              " grew from " + std::to_string(before) + " to " +
              std::to_string(pages) + " pages of " +
              std::to_string(kv_.groups()[group].pageTokens) +
              " tokens; the KV cache takes " +
              std::to_string(backend_->kvBytes()) + " bytes");
    return Status::success();
  });
}

Status Session::checkGreedy(const char *fn, int64_t rows, const int32_t *seqs,
                            const int32_t *out) const {
  for (int64_t i = 0; i < rows; ++i)
    if (out[i] < 0 || out[i] >= vocab_)
      return Status(LLMC_ERROR_INTERNAL,
                    std::string(fn) + ": the logits of sequence " +
                        std::to_string(seqs[i]) +
                        (out[i] == -1 ? " hold a NaN"
                                      : " gave token " +
                                            std::to_string(out[i]) +
                                            ", outside the vocabulary") +
                        "; no token was appended");
  return Status::success();
}

Status Session::prefill(int32_t seq, const int32_t *tokens, int32_t numTokens,
                        float *allLogits, float *lastLogits,
                        int32_t *greedyToken, const char *fn) {
  if (!fn)
    fn = "llmc_prefill";
  LLMC_RETURN_IF_ERROR(checkSeq(fn, seq));
  if (!tokens)
    return invalidArgument(std::string(fn) + ": tokens is NULL");
  if (numTokens < 1)
    return invalidArgument(std::string(fn) + ": num_tokens " +
                           std::to_string(numTokens) + " must be at least 1");
  LLMC_RETURN_IF_ERROR(checkTokens(fn, tokens, numTokens));
  int64_t length = lengths_[size_t(seq)];
  if (length + numTokens > shape_.maxSeqLen)
    return Status(LLMC_ERROR_CAPACITY,
                  std::string(fn) + ": sequence " + std::to_string(seq) +
                      " holds " + std::to_string(length) + " tokens; " +
                      std::to_string(numTokens) + " more exceed max_seq_len " +
                      std::to_string(shape_.maxSeqLen));

  const auto started = std::chrono::steady_clock::now();
  const P::Program &program = *plan_.plan()->prefill();
  const P::Operand &logits = *program.logits();
  // On failure the sequence keeps its length and gives back the pages it
  // took for the call.
  auto fail = [&](Status status) {
    kv_.trim(seq, length);
    return status;
  };
  for (int64_t start = 0; start < numTokens; start += maxTokens_) {
    int64_t count = std::min<int64_t>(maxTokens_, numTokens - start);
    if (abort_ && abort_(abortData_) != 0) {
      // The chunks that ran are kept: the sequence can go on from them.
      lengths_[size_t(seq)] = int32_t(length + start);
      kv_.trim(seq, length + start);
      return Status(LLMC_ERROR_ABORTED,
                    std::string(fn) + ": aborted by the abort callback after " +
                        std::to_string(start) + " of " +
                        std::to_string(numTokens) + " tokens; sequence " +
                        std::to_string(seq) + " holds " +
                        std::to_string(length + start) +
                        " tokens; the tokens after them have no logits");
    }
    if (Status s = reservePages(fn, seq, length + start + count); !s.ok())
      return fail(std::move(s));
    for (int64_t i = 0; i < count; ++i) {
      stepTokens_[size_t(i)] = tokens[start + i];
      stepPositions_[size_t(i)] = int32_t(length + start + i);
      stepSlots_[size_t(i)] = seq;
    }
    const bool last = start + count == numTokens;
    // The LM head runs for the rows whose logits are read: all of them, the
    // last one, or none (an earlier chunk).
    const int64_t logitsFrom =
        allLogits ? 0 : last && (lastLogits || greedyToken) ? count - 1 : count;
    StepInputs inputs{count, stepTokens_.data(), stepPositions_.data(),
                      stepSlots_.data(), logitsFrom};
    if (last && greedyToken) {
      // The backend picks the token with the step (no logits are asked).
      Status s = backend_->runGreedy(program, inputs, count - 1, 1, greedyToken);
      if (s.ok())
        s = checkGreedy(fn, 1, &seq, greedyToken);
      if (!s.ok())
        return fail(std::move(s));
      continue;
    }
    Status s = backend_->run(program, inputs);
    if (s.ok() && allLogits)
      s = backend_->readRows(logits, 0, count,
                             allLogits + size_t(start) * size_t(vocab_));
    if (s.ok() && lastLogits && last)
      s = backend_->readRows(logits, count - 1, 1, lastLogits);
    if (!s.ok())
      return fail(std::move(s));
  }
  lengths_[size_t(seq)] = int32_t(length + numTokens);
  prefillTokens_ += uint64_t(numTokens);
  prefillSeconds_ += std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - started)
                         .count();
  return Status::success();
}

Status Session::decode(int32_t batch, const int32_t *seqs,
                       const int32_t *tokens, float *logits,
                       int32_t *greedyTokens, const char *fn) {
  if (!fn)
    fn = "llmc_decode";
  if (batch < 1)
    return invalidArgument(std::string(fn) + ": batch " +
                           std::to_string(batch) + " must be at least 1");
  if (!seqs || !tokens)
    return invalidArgument(std::string(fn) + ": " + (seqs ? "tokens" : "seqs") +
                           " is NULL");
  if (batch > shape_.maxBatch || batch > maxTokens_)
    return Status(LLMC_ERROR_CAPACITY, std::string(fn) + ": batch " +
                                           std::to_string(batch) +
                                           " exceeds the session's max_batch " +
                                           std::to_string(shape_.maxBatch) +
                                           " or the plan's max_tokens " +
                                           std::to_string(maxTokens_));
  for (int32_t i = 0; i < batch; ++i)
    LLMC_RETURN_IF_ERROR(checkSeq(fn, seqs[i]));
  LLMC_RETURN_IF_ERROR(checkTokens(fn, tokens, batch));
  Status duplicate;
  for (int32_t i = 0; i < batch && duplicate.ok(); ++i) {
    uint8_t &seen = seen_[size_t(seqs[i])];
    if (seen)
      duplicate =
          invalidArgument(std::string(fn) + ": sequence " +
                          std::to_string(seqs[i]) + " appears twice in seqs");
    seen = 1;
  }
  for (int32_t i = 0; i < batch; ++i)
    seen_[size_t(seqs[i])] = 0;
  LLMC_RETURN_IF_ERROR(duplicate);
  for (int32_t i = 0; i < batch; ++i)
    if (lengths_[size_t(seqs[i])] >= shape_.maxSeqLen)
      return Status(LLMC_ERROR_CAPACITY,
                    std::string(fn) + ": sequence " + std::to_string(seqs[i]) +
                        " is full (max_seq_len " +
                        std::to_string(shape_.maxSeqLen) + ")");

  const auto started = std::chrono::steady_clock::now();
  if (abort_ && abort_(abortData_) != 0)
    return Status(LLMC_ERROR_ABORTED,
                  std::string(fn) + ": aborted by the abort callback before "
                                    "the step; no sequence changed");
  // On failure every sequence keeps its length and gives back the pages
  // it took for the call.
  auto fail = [&](Status status) {
    for (int32_t i = 0; i < batch; ++i)
      kv_.trim(seqs[i], lengths_[size_t(seqs[i])]);
    return status;
  };
  for (int32_t i = 0; i < batch; ++i) {
    if (Status s = reservePages(fn, seqs[i], lengths_[size_t(seqs[i])] + 1);
        !s.ok())
      return fail(std::move(s));
    stepTokens_[size_t(i)] = tokens[i];
    stepPositions_[size_t(i)] = lengths_[size_t(seqs[i])];
    stepSlots_[size_t(i)] = seqs[i];
  }
  const P::Program &program = *plan_.plan()->decode();
  StepInputs inputs{batch, stepTokens_.data(), stepPositions_.data(),
                    stepSlots_.data()};
  Status s;
  if (greedyTokens) {
    // The backend picks the tokens with the step (no logits are asked).
    s = backend_->runGreedy(program, inputs, 0, batch, greedyTokens);
    if (s.ok())
      s = checkGreedy(fn, batch, seqs, greedyTokens);
  } else {
    s = backend_->run(program, inputs);
    if (s.ok() && logits)
      s = backend_->readRows(*program.logits(), 0, batch, logits);
  }
  if (!s.ok())
    return fail(std::move(s));
  for (int32_t i = 0; i < batch; ++i)
    ++lengths_[size_t(seqs[i])];
  ++decodeSteps_;
  decodeTokens_ += uint64_t(batch);
  decodeSeconds_ += std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  return Status::success();
}

Status Session::sequenceLength(int32_t seq, int32_t &out) const {
  LLMC_RETURN_IF_ERROR(checkSeq("llmc_sequence_length", seq));
  out = lengths_[size_t(seq)];
  return Status::success();
}

Status Session::truncate(int32_t seq, int32_t n) {
  const char *fn = "llmc_sequence_truncate";
  LLMC_RETURN_IF_ERROR(checkSeq(fn, seq));
  const int32_t length = lengths_[size_t(seq)];
  if (n < 0 || n > length)
    return invalidArgument(std::string(fn) + ": n " + std::to_string(n) +
                           " is not in [0, " + std::to_string(length) +
                           "] (sequence " + std::to_string(seq) + "'s length)");
  LLMC_RETURN_IF_ERROR(kv_.keeps(fn, seq, length, n));
  lengths_[size_t(seq)] = n;
  kv_.trim(seq, n);
  return Status::success();
}

Status Session::copy(int32_t dst, int32_t src, int32_t n) {
  const char *fn = "llmc_sequence_copy";
  LLMC_RETURN_IF_ERROR(checkSeq(fn, dst));
  LLMC_RETURN_IF_ERROR(checkSeq(fn, src));
  if (dst == src)
    return invalidArgument(std::string(fn) + ": dst and src are both " +
                           std::to_string(src) +
                           " (llmc_sequence_truncate shortens a sequence)");
  const int32_t length = lengths_[size_t(src)];
  if (n < 0 || n > length)
    return invalidArgument(std::string(fn) + ": n " + std::to_string(n) +
                           " is not in [0, " + std::to_string(length) +
                           "] (sequence " + std::to_string(src) + "'s length)");
  LLMC_RETURN_IF_ERROR(kv_.keeps(fn, src, length, n));
  // dst starts over; on failure it stays empty.
  lengths_[size_t(dst)] = 0;
  kv_.trim(dst, 0);
  auto fail = [&](Status status) {
    kv_.trim(dst, 0);
    return status;
  };
  if (Status s = reservePages(fn, dst, n); !s.ok())
    return fail(std::move(s));
  // Rows keep their place: position p is row p % capacity of page p / P in
  // both sequences, so whole pages copy (a ring's later rows are rewritten
  // before they are read).
  for (size_t g = 0; g < kv_.groups().size(); ++g) {
    const KvPages::Group &group = kv_.groups()[g];
    const int64_t pages = KvPages::pagesFor(group, n);
    for (int64_t i = 0; i < pages; ++i) {
      const int32_t to =
          group.table[size_t(dst) * size_t(group.tablePages) + size_t(i)];
      const int32_t from =
          group.table[size_t(src) * size_t(group.tablePages) + size_t(i)];
      if (Status s = backend_->copyKvPage(g, to, from); !s.ok())
        return fail(std::move(s));
    }
  }
  lengths_[size_t(dst)] = n;
  return Status::success();
}

llmc_session_stats Session::stats() const {
  llmc_session_stats out{};
  out.struct_size = sizeof out;
  out.prefill_tokens = prefillTokens_;
  out.prefill_seconds = prefillSeconds_;
  out.decode_steps = decodeSteps_;
  out.decode_tokens = decodeTokens_;
  out.decode_seconds = decodeSeconds_;
  out.kv_bytes = backend_->kvBytes();
  for (int32_t length : lengths_)
    out.kv_tokens += uint64_t(length);
  return out;
}

Status Session::reset(int32_t seq) {
  LLMC_RETURN_IF_ERROR(checkSeq("llmc_reset", seq));
  lengths_[size_t(seq)] = 0;
  kv_.trim(seq, 0);
  return Status::success();
}

} // namespace llmc::runtime
