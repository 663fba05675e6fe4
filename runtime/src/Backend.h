//===- Backend.h - what a session needs from a backend ----------*- C++ -*-===//
//
// A backend owns a session's device state (the arena and the KV caches'
// pages) and runs a program of the plan on it, reading the page tables the
// session keeps (KvPages.h). The session (Session.cpp) validates the
// caller's arguments, chooses positions and slots, and never touches device
// memory itself.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_BACKEND_H
#define LLMC_RUNTIME_SRC_BACKEND_H

#include "runtime/schema/plan_generated.h"
#include "runtime/src/Sampler.h"
#include "runtime/src/Status.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace llmc::runtime {

/// The step inputs of plan.fbs's OperandKind::Input, numTokens of each.
struct StepInputs {
  int64_t numTokens = 0;
  const int32_t *tokens = nullptr;    // Input 0: token ids in [0, vocab)
  const int32_t *positions = nullptr; // Input 1: in [0, max_seq_len)
  const int32_t *slots = nullptr;     // Input 2: in [0, max_batch)
  /// The first token whose logits the caller reads: the LM head's kernel
  /// (logitsKernel) runs only for tokens [logitsFrom, numTokens) (none
  /// when numTokens), and the other rows of the program's logits are left
  /// as they were. Prefill asks for the last token's row alone unless all
  /// are wanted: for a 150k vocabulary that kernel is a quarter of a small
  /// model's prefill FLOPs.
  int64_t logitsFrom = 0;
};

/// Whether `kernel` computes the logits and nothing but row-wise ops (the LM
/// head, softcapping, scaling), so that it may run for the last rows of a
/// step alone.
inline bool logitsKernel(const llmc::plan::Kernel &kernel) {
  if (!kernel.ops())
    return false;
  bool head = false;
  for (const llmc::plan::Op *op : *kernel.ops())
    switch (op->params_type()) {
    case llmc::plan::OpParams::LMHead:
      head = true;
      break;
    case llmc::plan::OpParams::Softcap:
    case llmc::plan::OpParams::Scale:
      break;
    default:
      return false;
    }
  return head;
}

/// The sizes a session chose within the plan's limits.
struct SessionShape {
  int64_t maxBatch = 1;
  int64_t maxSeqLen = 1;
};

class Backend {
public:
  virtual ~Backend() = default;

  /// Runs `program` for inputs.numTokens (<= max_tokens) tokens. The inputs
  /// have been validated by the session.
  virtual Status run(const llmc::plan::Program &program,
                     const StepInputs &inputs) = 0;

  /// Copies rows [firstRow, firstRow + rows) of the arena operand `operand`,
  /// converted to float, to `out`.
  virtual Status readRows(const llmc::plan::Operand &operand, int64_t firstRow,
                          int64_t rows, float *out) = 0;

  /// Grows the memory of the session's KV page group `group` (KvPages.h)
  /// to `pages` pages, more than it holds, keeping what they hold. On
  /// failure nothing changed.
  virtual Status growKvPages(size_t group, int64_t pages) = 0;
  /// Bytes the KV caches' pages take now.
  virtual uint64_t kvBytes() const = 0;
  /// Copies page `from` of every cache of page group `group` to page `to`.
  virtual Status copyKvPage(size_t group, int32_t to, int32_t from) = 0;

  /// The greedy tokens (Sampler.h's greedyToken: -1 for a row with a NaN)
  /// of logits rows [firstRow, firstRow + rows) of the step that `program`
  /// ran last, read back and picked on the host.
  Status greedyTokens(const llmc::plan::Program &program, int64_t firstRow,
                      int64_t rows, int32_t *out) {
    const llmc::plan::Operand &logits = *program.logits();
    std::vector<float> row(size_t(logits.row_elems()));
    for (int64_t r = 0; r < rows; ++r) {
      LLMC_RETURN_IF_ERROR(readRows(logits, firstRow + r, 1, row.data()));
      out[r] = greedyToken(row.data(), int64_t(row.size()));
    }
    return Status::success();
  }

  /// run(), then greedyTokens() of rows [firstRow, firstRow + rows). A
  /// backend that can pick where the logits are overrides it (CUDA: the
  /// plan's greedy launches with the step, one synchronization).
  virtual Status runGreedy(const llmc::plan::Program &program,
                           const StepInputs &inputs, int64_t firstRow,
                           int64_t rows, int32_t *out) {
    LLMC_RETURN_IF_ERROR(run(program, inputs));
    return greedyTokens(program, firstRow, rows, out);
  }
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_SRC_BACKEND_H
