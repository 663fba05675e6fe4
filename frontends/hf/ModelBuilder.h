//===- ModelBuilder.h - a resolved HF config as llm dialect IR -------------===//

#ifndef LLMC_FRONTENDS_HF_MODELBUILDER_H
#define LLMC_FRONTENDS_HF_MODELBUILDER_H

#include "frontends/hf/HFConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llmc::hf {

/// Builds a module with `@prefill` and `@decode` for the model. Every op's
/// location is the Hugging Face module it comes from
/// (`model.layers.3.self_attn.q_proj`), inside the config file's location.
mlir::OwningOpRef<mlir::ModuleOp> buildModule(mlir::MLIRContext &context,
                                              const ModelConfig &config);

} // namespace llmc::hf

#endif // LLMC_FRONTENDS_HF_MODELBUILDER_H
