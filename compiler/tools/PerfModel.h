//===- PerfModel.h - a roofline model of a plan's steps ---------*- C++ -*-===//
//
// What `llmc inspect --perf` states: for one prefill chunk and one decode
// step of a plan, per kernel, the launches that run, the bytes they must
// move at the least (weights, activations, KV cache) and the FLOPs of their
// ops, and the ideal time on a named device: max(bytes / bandwidth, FLOPs /
// peak). A model, not a measurement: it says where a step's time must go on
// a perfect kernel and so how far a measured step is from it, and never
// stands for one.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TOOLS_PERFMODEL_H
#define LLMC_COMPILER_TOOLS_PERFMODEL_H

#include "runtime/schema/plan_generated.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc::tools {

/// A device's datasheet numbers (dense, without sparsity).
struct DeviceModel {
  const char *name;
  const char *description;
  double bandwidth;  // bytes/s of device memory
  double flops16;    // FLOP/s of 16-bit tensor cores (fp32 accumulate)
  double flops32;    // FLOP/s of fp32 on CUDA cores
};

/// The devices --perf-device knows; the first is the default.
const std::vector<DeviceModel> &deviceModels();
/// The one named `name`, if any.
std::optional<DeviceModel> findDeviceModel(const std::string &name);

/// One step to model: `tokens` per sequence (prefill: a chunk of one
/// sequence; decode: 1), `batch` sequences, each with `context` positions
/// in its cache before the step.
struct StepShape {
  plan::Step step;
  int64_t tokens;
  int64_t batch;
  int64_t context;
};

/// The model of one kernel of a program (its fused body) for a step.
struct KernelCost {
  std::string name;     // the kernel's name (Hugging Face modules)
  int64_t launches = 0; // launches that run for this step (0: CPU plan)
  double weightBytes = 0, activationBytes = 0, kvBytes = 0, flops = 0;
  bool tensorCores = false; // 16-bit operands: the tensor-core peak applies
  double seconds = 0;       // ideal time on the device
};

struct StepCost {
  std::vector<KernelCost> kernels;
  int64_t launches = 0;
  double weightBytes = 0, activationBytes = 0, kvBytes = 0, flops = 0;
  double seconds = 0;
};

/// Models `program` of a verified plan for `shape` on `device`.
StepCost modelStep(const plan::Plan &plan, const plan::Program &program,
                   const StepShape &shape, const DeviceModel &device);

/// `llmc inspect --perf`: a prefill chunk of `prefillTokens` (at most the
/// plan's max_tokens) into an empty sequence, and a decode step of `batch`
/// sequences of `context` cached positions each, on `device`: per kernel
/// (the kernels of the layers summed, model.layers.N), then the totals.
void printPerfModel(llvm::raw_ostream &os, const plan::Plan &plan,
                    const DeviceModel &device, int64_t prefillTokens,
                    int64_t batch, int64_t context);

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_PERFMODEL_H
