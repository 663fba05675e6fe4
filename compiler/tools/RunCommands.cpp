//===- RunCommands.cpp - `llmc inspect` and `llmc run`
//---------------------===//
//
// The two subcommands that read plans. `run` goes through the public C API
// only, exactly as an embedding application would; `inspect` opens the plan
// through it too and reads the verified header with the schema's accessors.
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
#include <vector>

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

/// The op kind as the llm dialect spells it: plan.fbs's table name in
/// snake case ("AddRMSNorm" -> "add_rms_norm", "KVCacheWrite" ->
/// "kv_cache_write"), so a new table needs no entry here.
std::string opKindName(pl::OpParams kind) {
  const char *table = pl::EnumNameOpParams(kind);
  if (!table || !*table)
    return "?";
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
    os << "          -> " << entries.Get(l->entry())->name()->str()
       << " grid(";
    ListSeparator comma(",");
    for (uint32_t g : *l->grid())
      os << comma << g;
    os << ")";
    if (l->tokens_per_block())
      os << " x ceil(T/" << l->tokens_per_block() << ") on "
         << "xyz"[l->token_axis() % 3];
    os << " block " << l->block() << ", T in [" << l->min_tokens() << ", ";
    if (l->max_tokens())
      os << l->max_tokens() << "]\n";
    else
      os << "max]\n";
  }
}

void printProgram(raw_ostream &os, const char *name, const pl::Program &p,
                  const flatbuffers::Vector<flatbuffers::Offset<pl::CodeEntry>>
                      *entries) {
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
      os << format("  %-70s %-7s %5u %9u %9u %6u %6u %8u\n",
                   e->name()->c_str(), b->target()->c_str(),
                   r ? r->registers() : 0, r ? r->spill_store_bytes() : 0,
                   r ? r->spill_load_bytes() : 0,
                   r ? r->static_shared_bytes() : 0,
                   r ? r->local_bytes() : 0,
                   unsigned(b->cubin() ? b->cubin()->size() : 0));
    }
}

} // namespace

int inspectMain(int argc, char **argv) {
  cl::OptionCategory category("llmc inspect options");
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.plan>"), cl::cat(category));
  cl::opt<bool> listKernels("kernels",
                            cl::desc("List every kernel of both programs "
                                     "with its fused body and, in plans with "
                                     "CUDA code, its launches (default: on)"),
                            cl::init(true), cl::cat(category));
  cl::opt<bool> listWeights("weights",
                            cl::desc("List every weight: name, dtype, shape, "
                                     "offset, size, checksum"),
                            cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc inspect: what a plan holds (verifies the whole file first)\n");

  // The runtime's C API maps and verifies the whole file; its header is then
  // read with the schema's generated accessors.
  llmc_plan *opened = nullptr;
  if (llmc_plan_open(input.c_str(), &opened) != LLMC_OK)
    return fail(llmc_last_error());
  std::unique_ptr<llmc_plan, void (*)(llmc_plan *)> owner(opened,
                                                          llmc_plan_close);
  const void *headerData = nullptr;
  size_t headerSize = 0;
  uint64_t fileSize = 0;
  if (llmc_plan_get_header(opened, &headerData, &headerSize, &fileSize) !=
      LLMC_OK)
    return fail(llmc_last_error());
  const pl::Plan &plan = *pl::GetSizePrefixedPlan(headerData);
  const pl::Model &model = *plan.model();
  const pl::MemoryPlan &memory = *plan.memory();
  raw_ostream &os = outs();

  os << "plan: " << input << ", " << humanBytes(fileSize) << "\n";
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
  os << "memory plan: arena " << humanBytes(memory.arena_bytes()) << " for "
     << memory.max_tokens() << " tokens per step\n";

  // KV cache bytes, with the runtime's own capacity rule; layers with the
  // same layout are listed once.
  auto perToken = [](const pl::KVCacheLayout &c) {
    return 2 * uint64_t(c.kv_heads()) * uint64_t(c.head_dim()) *
           runtime::dtypeSize(c.dtype());
  };
  auto capacity = [&](const pl::KVCacheLayout &c) {
    return runtime::kvCacheCapacity(c, model.max_seq_len(),
                                    memory.max_tokens());
  };
  std::map<std::tuple<int64_t, int64_t, int, int64_t>,
           std::pair<const pl::KVCacheLayout *, unsigned>>
      groups;
  uint64_t perTokenAll = 0, maxSeqAll = 0;
  for (const pl::KVCacheLayout *c : *plan.kv_caches()) {
    auto &group =
        groups[{c->kv_heads(), c->head_dim(), int(c->dtype()), c->window()}];
    group.first = c;
    ++group.second;
    perTokenAll += perToken(*c);
    maxSeqAll += perToken(*c) * uint64_t(capacity(*c));
  }
  os << "kv cache:\n";
  for (auto &[key, group] : groups) {
    const pl::KVCacheLayout &c = *group.first;
    os << "  " << group.second << " layer(s): K+V " << c.kv_heads()
       << " heads x " << c.head_dim() << " x " << runtime::dtypeName(c.dtype());
    if (c.window())
      os << ", window " << c.window();
    os << ": " << perToken(c) << " bytes per token per layer, "
       << humanBytes(perToken(c) * uint64_t(capacity(c))) << " per layer for "
       << capacity(c) << " tokens\n";
  }
  os << "  all layers: " << perTokenAll << " bytes per token, "
     << humanBytes(maxSeqAll) << " per sequence of " << model.max_seq_len()
     << " tokens\n";
  uint64_t weightBytes = 0;
  for (const pl::Weight *w : *plan.weights())
    weightBytes += w->size();
  os << "weights: " << plan.weights()->size() << " tensors, "
     << humanBytes(weightBytes) << "\n";
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
  return 0;
}

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
  cl::opt<bool> stats("timing",
                      cl::desc("Print prefill and decode tokens/s to stderr"),
                      cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc run: run a plan on a prompt and print the generated token ids\n"
      "  (comma-separated, on one line)\n");

  if (maxNew < 1)
    return fail("--max-new-tokens must be at least 1");
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

  llmc_plan *openedPlan = nullptr;
  if (llmc_plan_open(input.c_str(), &openedPlan) != LLMC_OK)
    return fail(llmc_last_error());
  PlanHandle plan(openedPlan);
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
  }
  if (wantLogits) {
    std::string error;
    if (!writeNpy(logitsOut, all, all.size() / vocab, vocab, error))
      return fail(error);
  }
  return 0;
}

} // namespace llmc::tools
