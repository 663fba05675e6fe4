//===- Api.cpp - the C API of llmc.h over PlanFile and Session ------------===//
//
// Argument checks that need no plan, and the exception barrier: every entry
// point runs inside guardApi, so nothing escapes into C callers.
//
//===----------------------------------------------------------------------===//

#include "llmc/llmc.h"

#include "runtime/schema/PlanFormat.h"
#include "runtime/src/PlanFile.h"
#include "runtime/src/Session.h"
#include "runtime/src/Status.h"

#include <cstring>

using llmc::runtime::guardApi;
using llmc::runtime::invalidArgument;
using llmc::runtime::PlanFile;
using llmc::runtime::Session;
using llmc::runtime::Status;

struct llmc_plan {
  std::unique_ptr<PlanFile> file;
};

struct llmc_session {
  std::unique_ptr<Session> session;
};

namespace {
Status nullArgument(const char *function, const char *argument) {
  return invalidArgument(std::string(function) + ": " + argument + " is NULL");
}
} // namespace

extern "C" {

const char *llmc_version(void) { return llmc::runtime::runtimeVersion(); }

void llmc_plan_format_version(uint32_t *out_major, uint32_t *out_minor) {
  if (out_major)
    *out_major = llmc::runtime::kFormatMajor;
  if (out_minor)
    *out_minor = llmc::runtime::kFormatMinor;
}

llmc_status llmc_plan_open(const char *path, llmc_plan **out_plan) {
  const char *fn = "llmc_plan_open";
  return guardApi(fn, [&]() -> Status {
    if (!out_plan)
      return nullArgument(fn, "out_plan");
    *out_plan = nullptr;
    if (!path)
      return nullArgument(fn, "path");
    std::unique_ptr<PlanFile> file;
    LLMC_RETURN_IF_ERROR(PlanFile::open(path, file));
    *out_plan = new llmc_plan{std::move(file)};
    return Status::success();
  });
}

void llmc_plan_close(llmc_plan *plan) { delete plan; }

llmc_status llmc_plan_get_info(const llmc_plan *plan,
                               llmc_plan_info *out_info) {
  const char *fn = "llmc_plan_get_info";
  return guardApi(fn, [&]() -> Status {
    if (!plan)
      return nullArgument(fn, "plan");
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
          2 *
          uint64_t(llmc::runtime::kvCacheCapacity(*layout, info.max_seq_len,
                                                  info.max_tokens)) *
          uint64_t(layout->kv_heads()) * uint64_t(layout->head_dim()) *
          llmc::runtime::dtypeSize(layout->dtype());
    *out_info = info;
    return Status::success();
  });
}

llmc_status llmc_plan_get_header(const llmc_plan *plan, const void **out_data,
                                 size_t *out_size, uint64_t *out_file_size) {
  const char *fn = "llmc_plan_get_header";
  return guardApi(fn, [&]() -> Status {
    if (!plan)
      return nullArgument(fn, "plan");
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

llmc_session_options llmc_session_options_default(void) {
  llmc_session_options options;
  options.backend = LLMC_BACKEND_CPU;
  options.max_batch = 1;
  options.max_seq_len = 0;
  options.num_threads = 0;
  options.cuda_device = 0;
  return options;
}

llmc_status llmc_session_create(const llmc_plan *plan,
                                const llmc_session_options *options,
                                llmc_session **out_session) {
  const char *fn = "llmc_session_create";
  return guardApi(fn, [&]() -> Status {
    if (!out_session)
      return nullArgument(fn, "out_session");
    *out_session = nullptr;
    if (!plan)
      return nullArgument(fn, "plan");
    if (!options)
      return nullArgument(fn, "options");
    std::unique_ptr<Session> session;
    LLMC_RETURN_IF_ERROR(Session::create(*plan->file, *options, session));
    *out_session = new llmc_session{std::move(session)};
    return Status::success();
  });
}

void llmc_session_destroy(llmc_session *session) { delete session; }

llmc_status llmc_prefill(llmc_session *session, int32_t seq,
                         const int32_t *tokens, int32_t num_tokens,
                         float *out_all_logits, float *out_last_logits) {
  const char *fn = "llmc_prefill";
  return guardApi(fn, [&]() -> Status {
    if (!session)
      return nullArgument(fn, "session");
    return session->session->prefill(seq, tokens, num_tokens, out_all_logits,
                                     out_last_logits);
  });
}

llmc_status llmc_decode(llmc_session *session, int32_t batch,
                        const int32_t *seqs, const int32_t *tokens,
                        float *out_logits) {
  const char *fn = "llmc_decode";
  return guardApi(fn, [&]() -> Status {
    if (!session)
      return nullArgument(fn, "session");
    return session->session->decode(batch, seqs, tokens, out_logits);
  });
}

llmc_status llmc_prefill_greedy(llmc_session *session, int32_t seq,
                                const int32_t *tokens, int32_t num_tokens,
                                int32_t *out_next_token) {
  const char *fn = "llmc_prefill_greedy";
  return guardApi(fn, [&]() -> Status {
    if (!session)
      return nullArgument(fn, "session");
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
    if (!session)
      return nullArgument(fn, "session");
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
    if (!session)
      return nullArgument(fn, "session");
    if (!out_length)
      return nullArgument(fn, "out_length");
    return session->session->sequenceLength(seq, *out_length);
  });
}

llmc_status llmc_reset(llmc_session *session, int32_t seq) {
  const char *fn = "llmc_reset";
  return guardApi(fn, [&]() -> Status {
    if (!session)
      return nullArgument(fn, "session");
    return session->session->reset(seq);
  });
}

} // extern "C"
