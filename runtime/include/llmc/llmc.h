/*===- llmc.h - the llmc runtime C API ------------------------------------===*
 *
 * Loads a plan written by `llmc compile` and runs it.
 *
 *   llmc_plan *plan;
 *   if (llmc_plan_open("model.plan", &plan) != LLMC_OK)
 *     fprintf(stderr, "%s\n", llmc_last_error());
 *   llmc_session_options opts = llmc_session_options_default();
 *   llmc_session *s;
 *   llmc_session_create(plan, &opts, &s);
 *   llmc_prefill(s, 0, prompt, n, NULL, last_logits);   // logits of token n-1
 *   llmc_sample(last_logits, vocab, &sampling, &rng, &token);
 *   llmc_decode(s, 1, &seq0, &token, logits);          // one step, batch 1
 *   llmc_session_destroy(s);
 *   llmc_plan_close(plan);
 *
 * Errors: every fallible call returns an llmc_status; on failure the message
 * (naming the file, tensor or argument at fault) is available from
 * llmc_last_error() on the same thread until its next failing call. The
 * library never aborts or exits the process.
 *
 * Ownership: objects created by llmc_*_open/_create are released by the
 * matching _close/_destroy, which accept NULL. A session keeps what it needs
 * of its plan: llmc_plan_close may come first, and the file stays mapped
 * until the last of its sessions is destroyed.
 *
 * Thread-safety: a plan is immutable once opened and may be shared by any
 * number of sessions on any threads. A session is not thread-safe: call it
 * from one thread at a time. llmc_sample and the functions without a handle
 * are thread-safe. A session may use worker threads of its own
 * (llmc_session_options.num_threads) inside a call; they are idle between
 * calls.
 *
 * Misuse is caught where it is cheap to: a call on a session that another
 * thread is inside fails with LLMC_ERROR_INVALID_ARGUMENT ("in use by
 * another call") and changes nothing; a handle already closed or destroyed
 * (or never returned by this library) fails with LLMC_ERROR_INVALID_ARGUMENT
 * ("not a live handle"); a second _close/_destroy does nothing, and so does
 * destroying a session while another thread is inside it. These are
 * defenses, not a license: the memory of a freed handle can be reused by a
 * new one.
 *
 *===----------------------------------------------------------------------===*/

#ifndef LLMC_LLMC_H
#define LLMC_LLMC_H

#include <stddef.h>
#include <stdint.h>

/* The runtime version this header declares (the one definition of llmc's
 * version: the compiler's --version and the plans' producer use it too).
 * llmc_version() returns the linked library's, which a program built
 * against another header may differ from. */
#define LLMC_VERSION_MAJOR 0
#define LLMC_VERSION_MINOR 4
#define LLMC_VERSION_PATCH 0
#define LLMC_VERSION_STRING "0.4.0"
/* The binary interface: bumped with every change that breaks a program
 * built against an older header (a field added to an option struct, a
 * changed signature). The shared library is libllmc.so.<LLMC_ABI_VERSION>. */
#define LLMC_ABI_VERSION 1

/* The smallest struct_size each option struct may carry: its size in ABI 1. */
#define LLMC_PLAN_OPEN_OPTIONS_MIN_SIZE 24
#define LLMC_SESSION_OPTIONS_MIN_SIZE 32
#define LLMC_SAMPLING_MIN_SIZE 16

/* What the shared library exports: the llmc_* functions and nothing else. */
#if defined(__GNUC__) || defined(__clang__)
#define LLMC_API __attribute__((visibility("default")))
#else
#define LLMC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmc_status {
  LLMC_OK = 0,
  LLMC_ERROR_INVALID_ARGUMENT = 1, /* a bad pointer, index, length or option */
  LLMC_ERROR_IO = 2,               /* a file could not be opened or read */
  LLMC_ERROR_INVALID_PLAN = 3,     /* truncated, corrupted or inconsistent plan */
  LLMC_ERROR_UNSUPPORTED = 4,      /* newer format, other target, missing backend */
  LLMC_ERROR_OUT_OF_MEMORY = 5,
  LLMC_ERROR_CAPACITY = 6,         /* KV cache full, prompt too long, batch too large */
  LLMC_ERROR_NO_DEVICE = 7,        /* no CUDA driver or device */
  LLMC_ERROR_INTERNAL = 8,
  LLMC_ERROR_ABORTED = 9           /* the session's abort callback asked to stop */
} llmc_status;

/* A constant, human-readable name of a status ("invalid plan"). */
LLMC_API const char *llmc_status_string(llmc_status status);

/* The message of the last failing call on this thread ("" if none). Valid
 * until the next failing call on this thread. */
LLMC_API const char *llmc_last_error(void);

/* The version of this runtime (LLMC_VERSION_STRING of the header it was
 * built with) and the plan format it reads. */
LLMC_API const char *llmc_version(void);
LLMC_API void llmc_plan_format_version(uint32_t *out_major, uint32_t *out_minor);

/* Messages that are not errors (the code a CUDA device runs, the KV cache
 * growing), for an embedder's log. */
typedef enum llmc_log_level {
  LLMC_LOG_DEBUG = 0,
  LLMC_LOG_INFO = 1,
  LLMC_LOG_WARNING = 2
} llmc_log_level;

/* Called with each message of at least the level set, on the thread of the
 * call that logs; `message` is valid during the call only. */
typedef void (*llmc_log_fn)(llmc_log_level level, const char *message,
                            void *user_data);

/* Sets (fn NULL: clears) the process's log callback, for messages of
 * `min_level` and above. Thread-safe; no message is formatted without a
 * callback. */
LLMC_API void llmc_set_log_callback(llmc_log_fn fn, llmc_log_level min_level,
                                   void *user_data);
/* "debug", "info", "warning". */
LLMC_API const char *llmc_log_level_string(llmc_log_level level);

/*===------------------------------------------------------------------===*
 * Plans
 *===------------------------------------------------------------------===*/

typedef struct llmc_plan llmc_plan;

/* Memory-maps and verifies `path`: the flatbuffer (with explicit limits),
 * its checksum, every index, offset and size against the file, and every
 * weight's checksum. */
LLMC_API llmc_status llmc_plan_open(const char *path, llmc_plan **out_plan);
LLMC_API void llmc_plan_close(llmc_plan *plan);

/* For products that load plans they did not build: with verify_key, the plan
 * must be signed (llmc sign, llmc compile --sign-key) by the matching secret
 * key, and its Ed25519 signature over every byte is checked before anything
 * else; an unsigned or changed plan fails with LLMC_ERROR_INVALID_PLAN. */
/* Option structs (llmc_plan_open_options, llmc_session_options,
 * llmc_sampling) start with their size, which the _default() functions here
 * (compiled into the caller) set to the caller's sizeof: a library with more
 * fields gives the ones the caller lacks their defaults, so that fields can
 * be added without breaking programs built against an older header. Start
 * from _default(), then set fields. */
typedef struct llmc_plan_open_options {
  uint32_t struct_size;
  const uint8_t *verify_key; /* 32-byte Ed25519 public key, or NULL */
  /* 1: read the whole file into memory instead of mapping it, so that the
   * file changing or being truncated on disk while the plan is open cannot
   * change results or end the process with SIGBUS (costs its size in RAM). */
  int32_t read_into_memory;
} llmc_plan_open_options;

/* verify_key NULL, read_into_memory 0 (llmc_plan_open's behaviour). */
static inline llmc_plan_open_options llmc_plan_open_options_default(void) {
  llmc_plan_open_options options;
  options.struct_size = (uint32_t)sizeof(llmc_plan_open_options);
  options.verify_key = NULL;
  options.read_into_memory = 0;
  return options;
}
LLMC_API llmc_status llmc_plan_open_ex(const char *path,
                              const llmc_plan_open_options *options,
                              llmc_plan **out_plan);

/* How the bytes given to llmc_plan_open_memory must be aligned when they are
 * used in place (the weights are read where they are, as from a mapping). */
#define LLMC_PLAN_ALIGNMENT 4096

/* Opens and verifies a plan held in memory: one linked into the program
 * (examples/embed) or read by the caller. With read_into_memory 0 the bytes
 * are used in place, without a copy: `data` must be aligned to
 * LLMC_PLAN_ALIGNMENT and stay valid and unchanged until llmc_plan_close and
 * the destruction of the plan's last session. With 1 they are copied and may
 * be freed on return. verify_key as for llmc_plan_open_ex. `options` may be
 * NULL (llmc_plan_open_options_default). Messages name the plan "plan in
 * memory". */
LLMC_API llmc_status llmc_plan_open_memory(const void *data, size_t size,
                                           const llmc_plan_open_options *options,
                                           llmc_plan **out_plan);

/* Whether the plan ends with a signature block; if so, the 32-byte public key
 * it names is copied to out_public_key (may be NULL). The signature itself
 * was checked only if the plan was opened with a verify_key. */
LLMC_API llmc_status llmc_plan_get_signer(const llmc_plan *plan, int32_t *out_signed,
                                 uint8_t *out_public_key);

typedef struct llmc_plan_info {
  const char *model_type; /* "llama", "qwen3", ... (owned by the plan) */
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t num_layers;
  int64_t max_seq_len; /* longest sequence a session may hold */
  int64_t max_tokens;  /* most tokens one step runs; prompts are chunked */
  uint64_t arena_bytes;
  uint64_t weight_bytes; /* bytes of all weight tensors */
  /* KV cache bytes of one sequence of max_seq_len tokens, all layers
   * (windowed layers hold only their ring). */
  uint64_t kv_bytes_per_sequence;
} llmc_plan_info;

LLMC_API llmc_status llmc_plan_get_info(const llmc_plan *plan, llmc_plan_info *out_info);

/* The plan's verified header: the size-prefixed flatbuffer that
 * runtime/schema/plan.fbs describes (read it with the code flatc generates
 * from that schema), and the size of the whole file. The bytes are owned by
 * the plan and valid until llmc_plan_close. For tools that show every field
 * of a plan (`llmc inspect`); running a plan needs none of it. */
LLMC_API llmc_status llmc_plan_get_header(const llmc_plan *plan, const void **out_data,
                                 size_t *out_size, uint64_t *out_file_size);

/*===------------------------------------------------------------------===*
 * Sessions
 *===------------------------------------------------------------------===*/

typedef enum llmc_backend {
  LLMC_BACKEND_CPU = 0, /* the reference interpreter */
  LLMC_BACKEND_CUDA = 1
} llmc_backend;

typedef struct llmc_session_options {
  uint32_t struct_size; /* see llmc_plan_open_options */
  llmc_backend backend;
  int32_t max_batch;   /* sequences held at once (slots 0 .. max_batch-1) */
  int32_t max_seq_len; /* 0: the plan's; otherwise at most the plan's */
  int32_t num_threads; /* CPU backend worker threads; 0: one per core */
  int32_t cuda_device; /* CUDA backend: the device ordinal (as the driver,
                        * after CUDA_VISIBLE_DEVICES, numbers them) */
  /* The most tokens the session's sequences hold together in the layers
   * without a sliding window (0: max_batch * max_seq_len). The KV cache is
   * paged: pages are allocated as sequences grow (the memory doubles when
   * it runs out, up to this) and given back to the session by llmc_reset;
   * a call that would need more fails with LLMC_ERROR_CAPACITY. */
  int64_t kv_cache_tokens;
} llmc_session_options;

/* backend CPU, max_batch 1, max_seq_len 0 (the plan's), num_threads 0,
 * cuda_device 0, kv_cache_tokens 0.
 *
 * The CUDA backend loads libcuda.so.1 at session creation: without a driver
 * or device it fails with LLMC_ERROR_NO_DEVICE, for a plan without code for
 * the device (see `llmc compile --target`) with LLMC_ERROR_UNSUPPORTED. It
 * holds the weights, arena and KV caches in device memory, and uses the
 * device's primary context, made current only inside its own calls. */
static inline llmc_session_options llmc_session_options_default(void) {
  llmc_session_options options;
  options.struct_size = (uint32_t)sizeof(llmc_session_options);
  options.backend = LLMC_BACKEND_CPU;
  options.max_batch = 1;
  options.max_seq_len = 0;
  options.num_threads = 0;
  options.cuda_device = 0;
  options.kv_cache_tokens = 0;
  return options;
}

typedef struct llmc_session llmc_session;

LLMC_API llmc_status llmc_session_create(const llmc_plan *plan,
                                const llmc_session_options *options,
                                llmc_session **out_session);
LLMC_API void llmc_session_destroy(llmc_session *session);

/* Appends `num_tokens` tokens to sequence `seq` (running the prefill program
 * in chunks of at most max_tokens). `out_all_logits`, if not NULL, receives
 * num_tokens * vocab_size floats: the logits of every token. `out_last_logits`,
 * if not NULL, receives vocab_size floats: those of the last token.
 * LLMC_ERROR_CAPACITY if the sequence would exceed max_seq_len; the sequence
 * is then left as it was (LLMC_ERROR_ABORTED: see llmc_abort_fn). */
LLMC_API llmc_status llmc_prefill(llmc_session *session, int32_t seq,
                         const int32_t *tokens, int32_t num_tokens,
                         float *out_all_logits, float *out_last_logits);

/* One decode step: appends tokens[i] to sequence seqs[i] for each of the
 * `batch` entries (distinct sequences). `out_logits`, if not NULL, receives
 * batch * vocab_size floats. LLMC_ERROR_CAPACITY if any sequence is full; no
 * sequence is then changed. */
LLMC_API llmc_status llmc_decode(llmc_session *session, int32_t batch,
                        const int32_t *seqs, const int32_t *tokens,
                        float *out_logits);

/* llmc_prefill and llmc_decode, then greedy sampling where the logits are
 * (on the device for the CUDA backend, so that only token ids cross to the
 * host): `out_next_token` receives the greedy token of the prompt's last
 * token, `out_next_tokens` one per entry of the batch. Greedy is
 * llmc_sample's with temperature 0: the highest logit, the lowest id among
 * equal maxima. If a row of logits holds a NaN the call fails with
 * LLMC_ERROR_INTERNAL naming the sequence, and no sequence is changed. */
LLMC_API llmc_status llmc_prefill_greedy(llmc_session *session, int32_t seq,
                                const int32_t *tokens, int32_t num_tokens,
                                int32_t *out_next_token);
LLMC_API llmc_status llmc_decode_greedy(llmc_session *session, int32_t batch,
                               const int32_t *seqs, const int32_t *tokens,
                               int32_t *out_next_tokens);

/* The number of tokens sequence `seq` holds. */
LLMC_API llmc_status llmc_sequence_length(const llmc_session *session, int32_t seq,
                                 int32_t *out_length);

/* Forgets sequence `seq` (its length becomes 0; its KV pages go back to
 * the session). */
LLMC_API llmc_status llmc_reset(llmc_session *session, int32_t seq);

/* Keeps the first `n` tokens of sequence `seq` (0 <= n <= its length), as if
 * the rest had never been appended; the pages beyond them go back to the
 * session. A model's sliding-window layers keep only a sequence's last
 * positions (the window, or window + max_tokens - 1): going back further
 * than the next token's window reaches into them fails with
 * LLMC_ERROR_UNSUPPORTED and changes nothing. */
LLMC_API llmc_status llmc_sequence_truncate(llmc_session *session,
                                            int32_t seq, int32_t n);

/* Called between the chunks of a prefill (max_tokens each) and before a
 * decode step, on the thread of the call; a non-zero return stops it with
 * LLMC_ERROR_ABORTED. A prefill then keeps the chunks that completed (the
 * message and llmc_sequence_length say how many tokens the sequence holds;
 * the tokens after them get no logits) so that it can go on from there; an
 * aborted decode step changes nothing. */
typedef int32_t (*llmc_abort_fn)(void *user_data);

/* Sets (fn NULL: clears) the session's abort callback and its argument. */
LLMC_API llmc_status llmc_session_set_abort(llmc_session *session,
                                            llmc_abort_fn fn,
                                            void *user_data);

/* Makes sequence `dst` hold the first `n` tokens of sequence `src` (a shared
 * system prompt prefilled once, then copied to each new conversation);
 * dst's own tokens are dropped. The same sliding-window limit as
 * llmc_sequence_truncate. LLMC_ERROR_CAPACITY when the session's pages run
 * out (kv_cache_tokens); dst is then empty. */
LLMC_API llmc_status llmc_sequence_copy(llmc_session *session, int32_t dst,
                                        int32_t src, int32_t n);

/* What a session has done and holds. The caller sets struct_size to
 * sizeof(llmc_session_stats) of its header: a library with more fields
 * writes only those that fit, one with fewer leaves the rest untouched, so
 * fields can be added without breaking callers. */
typedef struct llmc_session_stats {
  uint32_t struct_size;
  uint32_t reserved;         /* 0 */
  uint64_t prefill_tokens;   /* tokens prefilled by calls that succeeded */
  double prefill_seconds;    /* their wall time */
  uint64_t decode_steps;     /* decode calls that succeeded */
  uint64_t decode_tokens;    /* tokens they appended (batch sizes summed) */
  double decode_seconds;     /* their wall time */
  uint64_t kv_bytes;         /* as llmc_session_kv_bytes */
  uint64_t kv_tokens;        /* tokens the sequences hold now, together */
} llmc_session_stats;

/* The smallest struct_size llmc_session_get_stats accepts (this layout up
 * to kv_tokens). */
#define LLMC_SESSION_STATS_MIN_SIZE 64

LLMC_API llmc_status llmc_session_get_stats(const llmc_session *session,
                                            llmc_session_stats *out_stats);

/* The bytes of host (CPU backend) or device (CUDA backend) memory the
 * session's KV cache pages take now. */
LLMC_API llmc_status llmc_session_kv_bytes(const llmc_session *session,
                                  uint64_t *out_bytes);

/*===------------------------------------------------------------------===*
 * Sampling
 *===------------------------------------------------------------------===*/

typedef struct llmc_sampling {
  uint32_t struct_size; /* see llmc_plan_open_options */
  float temperature; /* <= 0: greedy (argmax, lowest id on ties); finite */
  int32_t top_k;     /* 0: no limit; not negative */
  float top_p;       /* in (0, 1]; 1: no limit */
} llmc_sampling;

/* temperature 0 (greedy), top_k 0, top_p 1. */
static inline llmc_sampling llmc_sampling_default(void) {
  llmc_sampling sampling;
  sampling.struct_size = (uint32_t)sizeof(llmc_sampling);
  sampling.temperature = 0.0f;
  sampling.top_k = 0;
  sampling.top_p = 1.0f;
  return sampling;
}

/* Picks a token from `logits` (vocab_size floats). `rng_state` is advanced;
 * seed it with any value for a reproducible sequence of draws (splitmix64,
 * one step per draw; greedy draws nothing and accepts a NULL rng_state). */
LLMC_API llmc_status llmc_sample(const float *logits, int64_t vocab_size,
                        const llmc_sampling *sampling, uint64_t *rng_state,
                        int32_t *out_token);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLMC_LLMC_H */
