//===- RunCommand.cpp - llmc run ------------------------------------------===//
//
// Runs a plan on a prompt through the public C API only, exactly as an
// embedding application would, and prints the generated token ids.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/OutputFile.h"
#include "compiler/tools/Commands.h"
#include "compiler/tools/ToolSupport.h"

#include "llmc/llmc.h"
#include "runtime/schema/PlanFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

using namespace llvm;
namespace pl = llmc::plan;

namespace llmc::tools {

namespace {

/// Writes a float32 C-order .npy (format 1.0) of shape [rows, cols].
bool writeNpy(const std::string &path, const std::vector<float> &data,
              uint64_t rows, uint64_t cols, std::string &error) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  // magic (6) + version (2) + length (2) + header + '\n', padded to 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  auto file = llmc::support::OutputFile::open(path);
  if (!file) {
    error = toString(file.takeError());
    return false;
  }
  uint16_t len = uint16_t(header.size());
  llvm::Error e = (*file)->append("\x93NUMPY\x01\x00", 8);
  if (!e)
    e = (*file)->append(&len, 2);
  if (!e)
    e = (*file)->append(header.data(), header.size());
  if (!e)
    e = (*file)->append(data.data(), data.size() * sizeof(float));
  if (!e)
    e = (*file)->commit();
  if (e) {
    error = toString(std::move(e));
    return false;
  }
  return true;
}

} // namespace

int runMain(int argc, char **argv) {
  cl::OptionCategory category("llmc run options");
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.plan>"), cl::cat(category));
  cl::opt<std::string> backendName("backend", cl::desc("cpu (default) or cuda"),
                                   cl::init("cpu"), cl::cat(category));
  cl::list<std::string> tokenList(
      "tokens", cl::CommaSeparated, cl::Required,
      cl::desc("Prompt token ids (decimal), comma-separated"),
      cl::value_desc("id,id,..."), cl::cat(category));
  cl::opt<int32_t> maxNew("max-new-tokens",
                          cl::desc("Tokens to generate (default 16)"),
                          cl::init(16), cl::cat(category));
  cl::opt<std::string> logitsOut(
      "logits-out",
      cl::desc("Write the logits of every prompt position and every decode "
               "step as float32 .npy [prompt_len + N, vocab]; row "
               "prompt_len + k holds the logits after feeding generated "
               "token k"),
      cl::value_desc("file.npy"), cl::cat(category));
  cl::opt<float> temperature("temperature",
                             cl::desc("Sampling temperature; 0 = greedy "
                                      "(default)"),
                             cl::init(0.0f), cl::cat(category));
  cl::opt<int32_t> topK("top-k",
                        cl::desc("Sample among the k most likely "
                                 "(0 = all)"),
                        cl::init(0), cl::cat(category));
  cl::opt<float> topP("top-p", cl::desc("Nucleus sampling mass (1 = all)"),
                      cl::init(1.0f), cl::cat(category));
  cl::opt<uint64_t> seed("seed", cl::desc("Sampling seed (default 0)"),
                         cl::init(0), cl::cat(category));
  cl::opt<int32_t> threads("num-threads",
                           cl::desc("CPU worker threads (0 = one per core)"),
                           cl::init(0), cl::cat(category));
  cl::opt<int32_t> maxSeqLen("max-seq-len",
                             cl::desc("Session sequence capacity (0 = the "
                                      "plan's)"),
                             cl::init(0), cl::cat(category));
  cl::opt<int64_t> kvCacheTokens(
      "kv-cache-tokens",
      cl::desc("Most tokens the session's KV pages hold (0 = no limit; "
               "pages are allocated as the sequence grows)"),
      cl::init(0), cl::cat(category));
  cl::opt<std::string> logLevel(
      "log-level",
      cl::desc("Print the runtime's messages of this level and above to "
               "stderr: debug, info, warning (default) or none"),
      cl::init("warning"), cl::cat(category));
  cl::opt<bool> verbose("v", cl::desc("Same as --log-level=info"),
                        cl::cat(category));
  cl::opt<bool> stats("timing",
                      cl::desc("Print prefill and decode tokens/s and the KV "
                               "cache's memory to stderr"),
                      cl::cat(category));
  PlanOpenFlags openFlags(category);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc run: run a plan on a prompt and print the generated token ids\n"
      "  (comma-separated, on one line)\n");

  if (maxNew < 1)
    return fail("--max-new-tokens must be at least 1");
  {
    std::optional<llmc_log_level> level;
    if (verbose || logLevel == "info")
      level = LLMC_LOG_INFO;
    else if (logLevel == "debug")
      level = LLMC_LOG_DEBUG;
    else if (logLevel == "warning")
      level = LLMC_LOG_WARNING;
    else if (logLevel != "none")
      return fail("--log-level must be debug, info, warning or none, got '" +
                  logLevel + "'");
    if (level)
      llmc_set_log_callback(
          [](llmc_log_level l, const char *message, void *) {
            errs() << "llmc: " << llmc_log_level_string(l) << ": " << message
                   << "\n";
          },
          *level, nullptr);
  }
  // Decimal ids only: "0x10" or "010" is a mistake, not 16 or 8.
  std::vector<int32_t> tokens;
  for (const std::string &t : tokenList) {
    int64_t id = -1;
    bool decimal = !t.empty() && t.find_first_not_of("0123456789") ==
                                     std::string::npos;
    if (!decimal || (t.size() > 1 && t[0] == '0') ||
        StringRef(t).getAsInteger(10, id) || id > INT32_MAX)
      return fail("--tokens: '" + t +
                  "' is not a token id (a decimal integer in [0, 2^31))");
    tokens.push_back(int32_t(id));
  }
  if (!std::isfinite(temperature))
    return fail("--temperature must be a finite number (0 or less: greedy)");
  if (!(topP > 0.0f && topP <= 1.0f))
    return fail("--top-p " + std::to_string(topP) + " is not in (0, 1]");
  if (topK < 0)
    return fail("--top-k must not be negative");
  llmc_session_options options = llmc_session_options_default();
  std::optional<llmc_backend> backend = parseBackend(backendName);
  if (!backend)
    return fail("--backend: unknown backend '" + backendName +
                "' (cpu or cuda)");
  options.backend = *backend;
  options.num_threads = threads;
  options.max_seq_len = maxSeqLen;
  options.kv_cache_tokens = kvCacheTokens;

  std::string openError;
  PlanHandle plan = openFlags.open(input, openError);
  if (!plan)
    return fail(openError);
  llmc_plan_info info;
  if (llmc_plan_get_info(plan.get(), &info) != LLMC_OK)
    return fail(llmc_last_error());
  llmc_session *createdSession = nullptr;
  if (llmc_session_create(plan.get(), &options, &createdSession) != LLMC_OK)
    return fail(llmc_last_error());
  SessionHandle owner(createdSession);
  llmc_session *session = owner.get();

  const uint64_t vocab = uint64_t(info.vocab_size);
  const int32_t promptLen = int32_t(tokens.size());
  const bool wantLogits = !logitsOut.empty();
  // The prompt's rows now; each decode step's row as it comes (a sequence
  // ends where the session's capacity does, whatever --max-new-tokens says).
  std::vector<float> all;
  if (wantLogits)
    all.resize(uint64_t(promptLen) * vocab);
  std::vector<float> last(vocab);

  llmc_sampling sampling = llmc_sampling_default();
  sampling.temperature = temperature;
  sampling.top_k = topK;
  sampling.top_p = topP;
  uint64_t rng = seed;
  // Greedy without --logits-out: the backend picks the tokens where the
  // logits are (on the GPU for cuda) and no logits cross to the host. The
  // rest goes through llmc_sample, which also rejects bad options.
  const bool backendGreedy =
      temperature <= 0 && topK >= 0 && !std::isnan(topP) && !wantLogits;

  using Clock = std::chrono::steady_clock;
  std::vector<int32_t> prompt(tokens.begin(), tokens.end());
  int32_t token = 0;
  auto t0 = Clock::now();
  llmc_status prefilled =
      backendGreedy
          ? llmc_prefill_greedy(session, 0, prompt.data(), promptLen, &token)
          : llmc_prefill(session, 0, prompt.data(), promptLen,
                         wantLogits ? all.data() : nullptr, last.data());
  if (prefilled != LLMC_OK)
    return fail(llmc_last_error());
  auto t1 = Clock::now();

  std::vector<int32_t> generated;
  int32_t decodeSteps = 0;
  auto printGenerated = [&] {
    ListSeparator sep(",");
    for (int32_t t : generated)
      outs() << sep << t;
    outs() << "\n";
    outs().flush();
  };
  for (int32_t k = 0; k < maxNew; ++k) {
    if (!backendGreedy &&
        llmc_sample(last.data(), int64_t(vocab), &sampling, &rng, &token) !=
            LLMC_OK)
      return fail(llmc_last_error());
    generated.push_back(token);
    // The last token is fed only when its logits are asked for.
    if (k + 1 == maxNew && !wantLogits)
      break;
    int32_t seq = 0;
    llmc_status decoded =
        backendGreedy
            ? llmc_decode_greedy(session, 1, &seq, &token, &token)
            : llmc_decode(session, 1, &seq, &token, last.data());
    if (decoded != LLMC_OK) {
      // Keep what was generated (a full KV cache ends a long generation).
      std::string why = llmc_last_error();
      printGenerated();
      return fail(why + " (after " + std::to_string(generated.size()) +
                  " generated tokens, printed above" +
                  (wantLogits ? "; no logits were written)" : ")"));
    }
    ++decodeSteps;
    if (wantLogits)
      all.insert(all.end(), last.begin(), last.end());
  }
  auto t2 = Clock::now();

  printGenerated();
  if (stats) {
    double prefillS = std::chrono::duration<double>(t1 - t0).count();
    double decodeS = std::chrono::duration<double>(t2 - t1).count();
    errs() << format("prefill: %d tokens in %.3f s (%.1f tokens/s)\n",
                     promptLen, prefillS, promptLen / prefillS);
    if (decodeSteps > 0)
      errs() << format("decode: %d steps in %.3f s (%.2f tokens/s, %.1f "
                       "ms/token)\n",
                       decodeSteps, decodeS, decodeSteps / decodeS,
                       1000 * decodeS / decodeSteps);
    uint64_t kvBytes = 0;
    if (llmc_session_kv_bytes(session, &kvBytes) == LLMC_OK)
      errs() << "kv cache: " << kvBytes << " bytes allocated\n";
  }
  if (wantLogits) {
    std::string error;
    if (!writeNpy(logitsOut, all, all.size() / vocab, vocab, error))
      return fail(error);
  }
  return 0;
}

} // namespace llmc::tools
