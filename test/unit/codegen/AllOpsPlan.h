//===- AllOpsPlan.h - one plan with every op kind and variant ---*- C++ -*-===//
//
// A two-layer-attention toy model whose programs use every op of plan.fbs
// in the variants the families in scope need: every RMSNorm variant (per
// token and per head, Q and K norms in a row), biased and plain linears,
// both gated-linear forms (GatedLinear and Linear + GLU), each activation,
// add (also in place), softcap, interleaved partial RoPE with attention
// scaling, causal attention with a chunk and a score softcap, and
// sliding-window attention. The code generator's tests compile its kernels
// (and run them under emulation against the CPU backend).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_UNIT_CODEGEN_ALLOPSPLAN_H
#define LLMC_TEST_UNIT_CODEGEN_ALLOPSPLAN_H

#include "test/unit/runtime/TestPlan.h"

namespace llmc::runtime::test {

/// Activations, weights and caches of type `dtype`; steps of up to
/// `maxTokens` tokens (above 16 the matmuls get their GEMM launches).
TestPlan allOpsPlan(P::DType dtype, int64_t maxTokens, int64_t maxSeqLen);

} // namespace llmc::runtime::test

#endif // LLMC_TEST_UNIT_CODEGEN_ALLOPSPLAN_H
