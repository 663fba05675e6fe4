//===- Api.cpp - the C API of llmc.h over PlanFile and Session ------------===//
//
// Argument checks that need no plan, and the exception barrier: every entry
// point runs inside guardApi, so nothing escapes into C callers.
//
// Cheap defenses against contract breaks (llmc.h, "Handles and threads"):
// every live handle is in a registry, so a destroyed, closed or foreign
// pointer is an LLMC_ERROR_INVALID_ARGUMENT rather than a use after free
// (and a second destroy or close does nothing); a session is marked busy for
// the length of a call, so a second thread calling into it at the same time
// gets an error instead of corrupting it; and sessions share ownership of
// their plan's file, so closing the plan first cannot pull it from under them.
//
//===----------------------------------------------------------------------===//

#include "llmc/llmc.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/Options.h"
#include "runtime/src/PlanFile.h"
#include "runtime/src/Session.h"
#include "runtime/src/Status.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_set>

using llmc::runtime::guardApi;
using llmc::runtime::invalidArgument;
using llmc::runtime::PlanFile;
using llmc::runtime::readOptions;
using llmc::runtime::Session;
using llmc::runtime::Status;

struct llmc_plan {
  std::shared_ptr<PlanFile> file;
};

struct llmc_session {
  std::shared_ptr<PlanFile> file; // declared first: outlives the session
  std::unique_ptr<Session> session;
  std::atomic<bool> busy{false};
};

namespace {

Status nullArgument(const char *function, const char *argument) {
  return invalidArgument(std::string(function) + ": " + argument + " is NULL");
}

/// The handles llmc_plan_open and llmc_session_create returned and nobody
/// closed or destroyed yet.
class Registry {
public:
  static Registry &get() {
    static Registry *registry = new Registry(); // outlives static handles
    return *registry;
  }
  std::mutex mutex;
  std::unordered_set<const void *> live;
};

Status notLive(const char *function, const char *what) {
  return invalidArgument(std::string(function) + ": " + what +
                         " is not a live handle (already closed or "
                         "destroyed, or not returned by llmc)");
}

Status checkPlan(const char *function, const llmc_plan *plan) {
  if (!plan)
    return nullArgument(function, "plan");
  Registry &r = Registry::get();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.live.count(plan))
    return notLive(function, "plan");
  return Status::success();
}

/// Marks a live session busy for the lifetime of the guard.
class SessionCall {
public:
  SessionCall(const char *function, const llmc_session *session) {
    if (!session) {
      status_ = nullArgument(function, "session");
      return;
    }
    Registry &r = Registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.live.count(session)) {
      status_ = notLive(function, "session");
      return;
    }
    auto *s = const_cast<llmc_session *>(session);
    if (s->busy.exchange(true)) {
      status_ = invalidArgument(
          std::string(function) +
          ": the session is in use by another call (a session is not "
          "thread-safe: use one per thread, or one call at a time)");
      return;
    }
    session_ = s;
  }
  ~SessionCall() {
    if (session_)
      session_->busy.store(false);
  }
  SessionCall(const SessionCall &) = delete;
  SessionCall &operator=(const SessionCall &) = delete;
  const Status &status() const { return status_; }

private:
  llmc_session *session_ = nullptr;
  Status status_ = Status::success();
};

} // namespace

extern "C" {

const char *llmc_version(void) { return llmc::runtime::runtimeVersion(); }

void llmc_plan_format_version(uint32_t *out_major, uint32_t *out_minor) {
  if (out_major)
    *out_major = llmc::runtime::kFormatMajor;
  if (out_minor)
    *out_minor = llmc::runtime::kFormatMinor;
}

namespace {
/// A live handle of an opened plan (llmc_plan_close releases it).
llmc_plan *registerPlan(std::unique_ptr<PlanFile> file) {
  auto plan = std::make_unique<llmc_plan>();
  plan->file = std::move(file);
  Registry &r = Registry::get();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.live.insert(plan.get());
  return plan.release();
}
} // namespace

llmc_status llmc_plan_open_ex(const char *path,
                              const llmc_plan_open_options *options,
                              llmc_plan **out_plan) {
  const char *fn = "llmc_plan_open";
  return guardApi(fn, [&]() -> Status {
    if (!out_plan)
      return nullArgument(fn, "out_plan");
    *out_plan = nullptr;
    if (!path)
      return nullArgument(fn, "path");
    if (!options)
      return nullArgument(fn, "options");
    llmc_plan_open_options o;
    LLMC_RETURN_IF_ERROR(readOptions(fn, "llmc_plan_open_options", *options,
                                     llmc_plan_open_options_default(),
                                     LLMC_PLAN_OPEN_OPTIONS_MIN_SIZE, o));
    std::unique_ptr<PlanFile> file;
    LLMC_RETURN_IF_ERROR(PlanFile::open(path, file, o.verify_key,
                                        o.read_into_memory != 0));
    *out_plan = registerPlan(std::move(file));
    return Status::success();
  });
}

llmc_status llmc_plan_open_memory(const void *data, size_t size,
                                  const llmc_plan_open_options *options,
                                  llmc_plan **out_plan) {
  const char *fn = "llmc_plan_open_memory";
  return guardApi(fn, [&]() -> Status {
    if (!out_plan)
      return nullArgument(fn, "out_plan");
    *out_plan = nullptr;
    if (!data)
      return nullArgument(fn, "data");
    const llmc_plan_open_options defaults = llmc_plan_open_options_default();
    llmc_plan_open_options o;
    LLMC_RETURN_IF_ERROR(readOptions(fn, "llmc_plan_open_options",
                                     options ? *options : defaults, defaults,
                                     LLMC_PLAN_OPEN_OPTIONS_MIN_SIZE, o));
    std::unique_ptr<PlanFile> file;
    LLMC_RETURN_IF_ERROR(PlanFile::openMemory(data, size, file, o.verify_key,
                                              o.read_into_memory != 0));
    *out_plan = registerPlan(std::move(file));
    return Status::success();
  });
}

llmc_status llmc_plan_open(const char *path, llmc_plan **out_plan) {
  llmc_plan_open_options options = llmc_plan_open_options_default();
  return llmc_plan_open_ex(path, &options, out_plan);
}

llmc_status llmc_plan_get_signer(const llmc_plan *plan, int32_t *out_signed,
                                 uint8_t *out_public_key) {
  const char *fn = "llmc_plan_get_signer";
  return guardApi(fn, [&]() -> Status {
    LLMC_RETURN_IF_ERROR(checkPlan(fn, plan));
    if (!out_signed)
      return nullArgument(fn, "out_signed");
    *out_signed = plan->file->isSigned() ? 1 : 0;
    if (out_public_key && plan->file->isSigned())
      std::memcpy(out_public_key, plan->file->signerKey(),
                  llmc::runtime::kSignatureKeyBytes);
    return Status::success();
  });
}

void llmc_plan_close(llmc_plan *plan) {
  if (!plan)
    return;
  {
    Registry &r = Registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.live.erase(plan))
      return; // closed before, or not a plan: nothing to free
  }
  delete plan;
}

llmc_status llmc_plan_get_info(const llmc_plan *plan,
                               llmc_plan_info *out_info) {
  const char *fn = "llmc_plan_get_info";
  return guardApi(fn, [&]() -> Status {
    LLMC_RETURN_IF_ERROR(checkPlan(fn, plan));
    if (!out_info)
      return nullArgument(fn, "out_info");
    const llmc::plan::Plan &p = *plan->file->plan();
    llmc_plan_info info{};
    info.model_type = p.model()->model_type()->c_str();
    info.vocab_size = p.model()->vocab_size();
    info.hidden_size = p.model()->hidden_size();
    info.num_layers = p.model()->num_layers();
    info.max_seq_len = p.model()->max_seq_len();
    info.max_tokens = p.memory()->max_tokens();
    info.arena_bytes = p.memory()->arena_bytes();
    for (const llmc::plan::Weight *w : *p.weights())
      info.weight_bytes += w->size();
    // Verified plans keep these products far below 2^64.
    for (const llmc::plan::KVCacheLayout *layout : *p.kv_caches())
      info.kv_bytes_per_sequence +=
          llmc::runtime::kvCacheArrays(*layout) *
          uint64_t(llmc::runtime::kvCachePaging(
                       *layout, info.max_seq_len, info.max_tokens,
                       p.memory()->kv_page_tokens())
                       .rows()) *
          llmc::runtime::kvCacheRowBytes(*layout);
    *out_info = info;
    return Status::success();
  });
}

llmc_status llmc_plan_get_header(const llmc_plan *plan, const void **out_data,
                                 size_t *out_size, uint64_t *out_file_size) {
  const char *fn = "llmc_plan_get_header";
  return guardApi(fn, [&]() -> Status {
    LLMC_RETURN_IF_ERROR(checkPlan(fn, plan));
    if (!out_data)
      return nullArgument(fn, "out_data");
    if (!out_size)
      return nullArgument(fn, "out_size");
    if (!out_file_size)
      return nullArgument(fn, "out_file_size");
    const uint8_t *data = plan->file->data();
    uint32_t sizePrefix;
    std::memcpy(&sizePrefix, data, sizeof sizePrefix);
    *out_data = data;
    *out_size = size_t(4) + sizePrefix; // verified to lie inside the file
    *out_file_size = plan->file->fileSize();
    return Status::success();
  });
}

llmc_status llmc_session_create(const llmc_plan *plan,
                                const llmc_session_options *options,
                                llmc_session **out_session) {
  const char *fn = "llmc_session_create";
  return guardApi(fn, [&]() -> Status {
    if (!out_session)
      return nullArgument(fn, "out_session");
    *out_session = nullptr;
    LLMC_RETURN_IF_ERROR(checkPlan(fn, plan));
    if (!options)
      return nullArgument(fn, "options");
    llmc_session_options o;
    LLMC_RETURN_IF_ERROR(readOptions(fn, "llmc_session_options", *options,
                                     llmc_session_options_default(),
                                     LLMC_SESSION_OPTIONS_MIN_SIZE, o));
    auto handle = std::make_unique<llmc_session>();
    handle->file = plan->file;
    LLMC_RETURN_IF_ERROR(Session::create(*handle->file, o,
                                         handle->session));
    Registry &r = Registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.live.insert(handle.get());
    *out_session = handle.release();
    return Status::success();
  });
}

void llmc_session_destroy(llmc_session *session) {
  if (!session)
    return;
  {
    Registry &r = Registry::get();
    std::lock_guard<std::mutex> lock(r.mutex);
    // Not live (destroyed before, or foreign), or in a call on another
    // thread: freeing it would pull it from under that call.
    if (!r.live.count(session) || session->busy.load())
      return;
    r.live.erase(session);
  }
  delete session;
}

llmc_status llmc_prefill(llmc_session *session, int32_t seq,
                         const int32_t *tokens, int32_t num_tokens,
                         float *out_all_logits, float *out_last_logits) {
  const char *fn = "llmc_prefill";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    return session->session->prefill(seq, tokens, num_tokens, out_all_logits,
                                     out_last_logits);
  });
}

llmc_status llmc_decode(llmc_session *session, int32_t batch,
                        const int32_t *seqs, const int32_t *tokens,
                        float *out_logits) {
  const char *fn = "llmc_decode";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    return session->session->decode(batch, seqs, tokens, out_logits);
  });
}

llmc_status llmc_prefill_greedy(llmc_session *session, int32_t seq,
                                const int32_t *tokens, int32_t num_tokens,
                                int32_t *out_next_token) {
  const char *fn = "llmc_prefill_greedy";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    if (!out_next_token)
      return nullArgument(fn, "out_next_token");
    return session->session->prefill(seq, tokens, num_tokens, nullptr,
                                     nullptr, out_next_token, fn);
  });
}

llmc_status llmc_decode_greedy(llmc_session *session, int32_t batch,
                               const int32_t *seqs, const int32_t *tokens,
                               int32_t *out_next_tokens) {
  const char *fn = "llmc_decode_greedy";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    if (!out_next_tokens)
      return nullArgument(fn, "out_next_tokens");
    return session->session->decode(batch, seqs, tokens, nullptr,
                                    out_next_tokens, fn);
  });
}

llmc_status llmc_sequence_length(const llmc_session *session, int32_t seq,
                                 int32_t *out_length) {
  const char *fn = "llmc_sequence_length";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    if (!out_length)
      return nullArgument(fn, "out_length");
    return session->session->sequenceLength(seq, *out_length);
  });
}

llmc_status llmc_reset(llmc_session *session, int32_t seq) {
  const char *fn = "llmc_reset";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    return session->session->reset(seq);
  });
}

llmc_status llmc_session_set_abort(llmc_session *session, llmc_abort_fn fn,
                                   void *user_data) {
  const char *fn_name = "llmc_session_set_abort";
  return guardApi(fn_name, [&]() -> Status {
    SessionCall call(fn_name, session);
    LLMC_RETURN_IF_ERROR(call.status());
    session->session->setAbort(fn, user_data);
    return Status::success();
  });
}

llmc_status llmc_sequence_truncate(llmc_session *session, int32_t seq,
                                   int32_t n) {
  const char *fn = "llmc_sequence_truncate";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    return session->session->truncate(seq, n);
  });
}

llmc_status llmc_sequence_copy(llmc_session *session, int32_t dst,
                               int32_t src, int32_t n) {
  const char *fn = "llmc_sequence_copy";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    return session->session->copy(dst, src, n);
  });
}

static_assert(sizeof(llmc_session_stats) == LLMC_SESSION_STATS_MIN_SIZE,
              "a new field of llmc_session_stats goes after kv_tokens");

llmc_status llmc_session_get_stats(const llmc_session *session,
                                   llmc_session_stats *out_stats) {
  const char *fn = "llmc_session_get_stats";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    if (!out_stats)
      return nullArgument(fn, "out_stats");
    const uint32_t size = out_stats->struct_size;
    if (size < LLMC_SESSION_STATS_MIN_SIZE)
      return invalidArgument(std::string(fn) + ": out_stats->struct_size " +
                             std::to_string(size) + " is below " +
                             std::to_string(LLMC_SESSION_STATS_MIN_SIZE) +
                             " (set it to sizeof(llmc_session_stats))");
    llmc_session_stats stats = session->session->stats();
    // The caller's struct_size stays; the fields it has room for are set.
    std::memcpy(reinterpret_cast<uint8_t *>(out_stats) + sizeof(uint32_t),
                reinterpret_cast<const uint8_t *>(&stats) + sizeof(uint32_t),
                std::min<size_t>(size, sizeof stats) - sizeof(uint32_t));
    return Status::success();
  });
}

llmc_status llmc_session_kv_bytes(const llmc_session *session,
                                  uint64_t *out_bytes) {
  const char *fn = "llmc_session_kv_bytes";
  return guardApi(fn, [&]() -> Status {
    SessionCall call(fn, session);
    LLMC_RETURN_IF_ERROR(call.status());
    if (!out_bytes)
      return nullArgument(fn, "out_bytes");
    *out_bytes = session->session->kvBytes();
    return Status::success();
  });
}

} // extern "C"
