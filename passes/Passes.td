//===- Passes.td - every llmc pass -------------------------*- tablegen -*-===//

#ifndef LLMC_PASSES_PASSES_TD
#define LLMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def FuseAddRMSNormPass : Pass<"llm-fuse-add-rms-norm", "::mlir::func::FuncOp"> {
  let summary = "Fuse a residual add with the RMSNorm that reads its sum";
  let description = [{
    Rewrites `%s = llm.add %a, %b` followed by `%n = llm.rms_norm %s, %w` into
    one `llm.add_rms_norm %a, %b, %w` producing both the normalized value and
    the sum: the residual stream is read and written once per layer boundary
    instead of twice. Every other use of the sum takes the fused op's `sum`
    result. Skipped when a use of the sum comes before the norm.
  }];
  let dependentDialects = ["::llmc::llm::LLMDialect"];
}

def FuseGatedMLPPass : Pass<"llm-fuse-gated-mlp", "::mlir::func::FuncOp"> {
  let summary = "Fuse the gate and up projections of a gated MLP with its GLU";
  let description = [{
    Rewrites `llm.glu act (llm.linear %x, %wg), (llm.linear %x, %wu)` into
    `llm.gated_linear act %x, %wg, %wu`: both projections read `%x` once and
    the intermediate activations never reach memory. Applies only when both
    projections read the same input, have no bias and no other use.
  }];
  let dependentDialects = ["::llmc::llm::LLMDialect"];
}

#endif // LLMC_PASSES_PASSES_TD
