//===- BenchCommand.cpp - `llmc bench`: prefill and decode throughput -----===//
//
// Times a plan through the public C API, as an application would run it:
// prefill at given prompt lengths, decode at given batch sizes (a generation
// loop: llmc_decode_greedy's tokens are the next step's), and the memory the
// session holds. A batch-1 decode step reads the weights it uses once
// (WeightTraffic.h: all of a dense model's but the embedding table's other
// rows, only the chosen experts of a MoE layer), so those bytes x tokens/s
// is the achieved bandwidth the roofline compares.
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/Commands.h"
#include "compiler/tools/ToolSupport.h"
#include "compiler/tools/WeightTraffic.h"

#include "llmc/llmc.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <vector>

using namespace llvm;

namespace llmc::tools {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// Deterministic token ids in [0, vocab).
std::vector<int32_t> tokens(int64_t n, int64_t vocab, uint64_t salt) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  uint64_t x = 0x9e3779b97f4a7c15ull ^ salt;
  for (int32_t &t : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t = int32_t(x % uint64_t(vocab));
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct PrefillResult {
  int32_t tokens;
  double seconds; // median
};

struct DecodeResult {
  int32_t batch;
  int32_t steps;
  double seconds; // median, all steps
};

} // namespace

int benchMain(int argc, char **argv) {
  cl::OptionCategory category("llmc bench options");
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.plan>"), cl::cat(category));
  cl::opt<std::string> backendName("backend", cl::desc("cpu (default) or cuda"),
                                   cl::init("cpu"), cl::cat(category));
  cl::list<int32_t> promptLengths(
      "prompt-lengths", cl::CommaSeparated,
      cl::desc("Prompt lengths to time prefill at (default 128,512, capped "
               "at the plan's max sequence)"),
      cl::value_desc("n,n,..."), cl::cat(category));
  cl::list<int32_t> batches(
      "batch", cl::CommaSeparated,
      cl::desc("Decode batch sizes (default 1,4, capped at the plan's max "
               "tokens per step)"),
      cl::value_desc("b,b,..."), cl::cat(category));
  cl::opt<int32_t> steps("decode-steps",
                         cl::desc("Decode steps per measurement (default 32)"),
                         cl::init(32), cl::cat(category));
  cl::opt<int32_t> context(
      "context",
      cl::desc("Tokens each sequence holds before decoding "
               "(default 16)"),
      cl::init(16), cl::cat(category));
  cl::opt<int32_t> repeats("repeats",
                           cl::desc("Timed repetitions; the median is "
                                    "reported (default 3, after one warm-up)"),
                           cl::init(3), cl::cat(category));
  cl::opt<int32_t> threads("num-threads",
                           cl::desc("CPU worker threads (0 = one per core)"),
                           cl::init(0), cl::cat(category));
  cl::opt<double> bandwidth(
      "bandwidth-gbs",
      cl::desc("Memory bandwidth of the device in GB/s, for the batch-1 "
               "decode roofline (default: not shown)"),
      cl::init(0.0), cl::cat(category));
  cl::opt<bool> json("json", cl::desc("Print JSON instead of a table"),
                     cl::cat(category));
  PlanOpenFlags openFlags(category);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc bench: prefill and decode throughput of a plan\n\n"
      "  Timings are medians of --repeats runs after a warm-up. Decode steps\n"
      "  run as a generation loop: each step's greedy tokens, picked by the\n"
      "  backend (llmc_decode_greedy), are the next step's inputs. The\n"
      "  batch-1 decode roofline is the weight bytes one decode step reads\n"
      "  (for Mixture-of-Experts, the chosen experts only; llmc inspect\n"
      "  prints them) / bandwidth per token.\n");

  if (steps < 1 || repeats < 1 || context < 1)
    return fail("--decode-steps, --repeats and --context must be at least 1");

  llmc_session_options options = llmc_session_options_default();
  std::optional<llmc_backend> backend = parseBackend(backendName);
  if (!backend)
    return fail("--backend: unknown backend '" + backendName +
                "' (cpu or cuda)");
  options.backend = *backend;
  options.num_threads = threads;

  std::string openError;
  PlanHandle plan = openFlags.open(input, openError);
  if (!plan)
    return fail(openError);
  llmc_plan_info info;
  if (llmc_plan_get_info(plan.get(), &info) != LLMC_OK)
    return fail(llmc_last_error());
  const void *header = nullptr;
  size_t headerSize = 0;
  uint64_t fileSize = 0;
  if (llmc_plan_get_header(plan.get(), &header, &headerSize, &fileSize) !=
      LLMC_OK)
    return fail(llmc_last_error());
  const WeightTraffic traffic =
      weightTraffic(*llmc::plan::GetSizePrefixedPlan(header));

  // Defaults that fit the plan; given values must.
  auto clampedDefaults = [](std::initializer_list<int64_t> values,
                            int64_t limit) {
    std::vector<int32_t> out;
    for (int64_t v : values)
      if (int32_t c = int32_t(std::min(v, limit));
          std::find(out.begin(), out.end(), c) == out.end())
        out.push_back(c);
    return out;
  };
  std::vector<int32_t> lengths(promptLengths.begin(), promptLengths.end());
  std::vector<int32_t> batchSizes(batches.begin(), batches.end());
  if (lengths.empty())
    lengths = clampedDefaults({128, 512}, info.max_seq_len);
  if (batchSizes.empty())
    batchSizes = clampedDefaults({1, 4}, info.max_tokens);
  for (int32_t p : lengths)
    if (p < 1 || p > info.max_seq_len)
      return fail("--prompt-lengths: " + Twine(p) + " is not in [1, " +
                  Twine(info.max_seq_len) + "] (the plan's max sequence)");
  for (int32_t b : batchSizes)
    if (b < 1 || b > info.max_tokens)
      return fail("--batch: " + Twine(b) + " is not in [1, " +
                  Twine(info.max_tokens) +
                  "] (the plan's max tokens per step)");
  if (int64_t(context) + steps + 1 > info.max_seq_len)
    return fail("--context + --decode-steps exceed the plan's max sequence (" +
                Twine(info.max_seq_len) + ")");
  options.max_batch = *std::max_element(batchSizes.begin(), batchSizes.end());

  llmc_session *createdSession = nullptr;
  if (llmc_session_create(plan.get(), &options, &createdSession) != LLMC_OK)
    return fail(llmc_last_error());
  SessionHandle owner(createdSession);
  llmc_session *session = owner.get();

  std::vector<PrefillResult> prefill;
  for (int32_t p : lengths) {
    std::vector<int32_t> prompt = tokens(p, info.vocab_size, uint64_t(p));
    std::vector<double> times;
    for (int32_t r = 0; r <= repeats; ++r) {
      if (llmc_reset(session, 0) != LLMC_OK)
        return fail(llmc_last_error());
      auto t0 = Clock::now();
      if (llmc_prefill(session, 0, prompt.data(), p, nullptr, nullptr) !=
          LLMC_OK)
        return fail(llmc_last_error());
      if (r > 0) // the first run warms up
        times.push_back(seconds(t0, Clock::now()));
    }
    prefill.push_back({p, median(times)});
  }

  std::vector<DecodeResult> decode;
  for (int32_t b : batchSizes) {
    std::vector<int32_t> seqs(static_cast<size_t>(b));
    for (int32_t i = 0; i < b; ++i)
      seqs[size_t(i)] = i;
    std::vector<double> times;
    for (int32_t r = 0; r <= repeats; ++r) {
      for (int32_t i = 0; i < b; ++i) {
        std::vector<int32_t> prompt =
            tokens(context, info.vocab_size, 1000 + i);
        if (llmc_reset(session, i) != LLMC_OK ||
            llmc_prefill(session, i, prompt.data(), context, nullptr,
                         nullptr) != LLMC_OK)
          return fail(llmc_last_error());
      }
      std::vector<int32_t> next = tokens(b, info.vocab_size, 7);
      auto t0 = Clock::now();
      // A generation loop: each step's greedy tokens (picked by the
      // backend, on the device for cuda) are the next step's inputs.
      for (int32_t s = 0; s < steps; ++s)
        if (llmc_decode_greedy(session, b, seqs.data(), next.data(),
                               next.data()) != LLMC_OK)
          return fail(llmc_last_error());
      if (r > 0)
        times.push_back(seconds(t0, Clock::now()));
    }
    decode.push_back({b, steps, median(times)});
  }

  // What the session holds: weights, arena, KV caches for max_batch sequences.
  uint64_t memory = info.weight_bytes + info.arena_bytes +
                    uint64_t(options.max_batch) * info.kv_bytes_per_sequence;

  if (json) {
    json::Object root;
    root["plan"] = input;
    root["backend"] = backendName;
    root["model_type"] = info.model_type;
    root["weight_bytes"] = int64_t(info.weight_bytes);
    root["decode_weight_bytes"] = int64_t(traffic.decodeBytes);
    root["parameters"] = int64_t(traffic.totalParams);
    root["active_parameters"] = int64_t(traffic.activeParams);
    root["session_bytes"] = int64_t(memory);
    json::Array pre, dec;
    for (const PrefillResult &p : prefill)
      pre.push_back(json::Object{{"tokens", p.tokens},
                                 {"seconds", p.seconds},
                                 {"tokens_per_s", p.tokens / p.seconds}});
    for (const DecodeResult &d : decode) {
      double perStep = d.seconds / d.steps;
      json::Object o{{"batch", d.batch},
                     {"steps", d.steps},
                     {"ms_per_step", 1000 * perStep},
                     {"tokens_per_s", d.batch / perStep}};
      if (d.batch == 1) {
        o["weight_gbs"] = double(traffic.decodeBytes) / perStep / 1e9;
        if (bandwidth > 0)
          o["roofline_fraction"] =
              double(traffic.decodeBytes) / perStep / 1e9 / bandwidth;
      }
      dec.push_back(std::move(o));
    }
    root["prefill"] = std::move(pre);
    root["decode"] = std::move(dec);
    outs() << formatv("{0:2}", json::Value(std::move(root))) << "\n";
    return 0;
  }

  raw_ostream &os = outs();
  os << "plan: " << input << " (" << info.model_type << "), backend "
     << backendName << "\n";
  os << format("weights %.2f MiB, %.2f MiB read per batch-1 decode step; "
               "session memory %.2f MiB (weights, arena, "
               "KV cache for %d sequences of %lld tokens)\n",
               info.weight_bytes / double(1 << 20),
               traffic.decodeBytes / double(1 << 20), memory / double(1 << 20),
               options.max_batch, (long long)info.max_seq_len);
  os << "prefill      tokens   seconds   tokens/s\n";
  for (const PrefillResult &p : prefill)
    os << format("             %6d  %8.3f  %9.1f\n", p.tokens, p.seconds,
                 p.tokens / p.seconds);
  os << "decode        batch  ms/step   tokens/s  weight GB/s";
  if (bandwidth > 0)
    os << "  of roofline";
  os << "\n";
  for (const DecodeResult &d : decode) {
    double perStep = d.seconds / d.steps;
    os << format("             %6d  %7.2f  %9.2f", d.batch, 1000 * perStep,
                 d.batch / perStep);
    if (d.batch == 1) {
      double gbs = double(traffic.decodeBytes) / perStep / 1e9;
      os << format("  %11.1f", gbs);
      if (bandwidth > 0)
        os << format("  %10.1f%%", 100 * gbs / bandwidth);
    }
    os << "\n";
  }
  return 0;
}

} // namespace llmc::tools
