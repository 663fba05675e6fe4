//===- KernelOps.td - the kernel dialect -------------------*- tablegen -*-===//
//
// The launch-level dialect: one `kernel.launch` per future GPU launch, holding
// the llm ops it fuses. Memory planning annotates it with arena offsets; the
// plan writer turns each launch into one plan kernel.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_KERNEL_IR_KERNELOPS_TD
#define LLMC_DIALECTS_KERNEL_IR_KERNELOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Kernel_Dialect : Dialect {
  let name = "kernel";
  let cppNamespace = "::llmc::kernel";
  let summary = "Kernel launches and their fused bodies";
  let description = [{
    A step function after `convert-llm-to-kernel` is a sequence of
    `kernel.launch` ops, each the unit the backends execute at once: a GPU
    kernel for the CUDA backend, one entry of the plan's program for every
    backend. A launch's body holds the `llm` ops it fuses (a projection with
    its bias, head split, QK-norm, RoPE and cache write; attention with its
    head merge; ...). Weights stay outside as `llm.param` operands, so each
    launch lists everything it reads.

    `kernel-plan-memory` then gives every activation a byte offset in one
    arena (`kernel.offsets` on the op that defines it, one entry per result;
    -1 for results that live elsewhere, such as KV caches) and records the
    arena size and the step's token capacity on the function
    (`kernel.arena_bytes`, `kernel.max_tokens`).
  }];
}

class Kernel_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kernel_Dialect, mnemonic, traits>;

def Kernel_LaunchOp : Kernel_Op<"launch", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "one kernel launch: a named, fused body over its operands";
  let description = [{
    Runs its body once over all tokens of the step. The body is isolated from
    above: it sees only the launch's operands, as the entry block's
    arguments, and its `kernel.yield` gives the launch's results. The name
    says what the launch computes, from the Hugging Face modules it covers.

    ```mlir
    %y = kernel.launch "model.layers.0.mlp.down_proj" (%m, %w) : (tensor<?x256xf32>, tensor<64x256xf32>) -> tensor<?x64xf32> {
    ^bb0(%a: tensor<?x256xf32>, %b: tensor<64x256xf32>):
      %0 = llm.linear %a, %b : tensor<?x256xf32>, tensor<64x256xf32> -> tensor<?x64xf32>
      kernel.yield %0 : tensor<?x64xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name `(` $inputs `)` `:` functional-type($inputs, $results) attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

def Kernel_YieldOp : Kernel_Op<"yield", [Pure, Terminator,
    HasParent<"LaunchOp">, ReturnLike]> {
  let summary = "the results of a launch";
  let description = [{
    Ends a `kernel.launch` body; its operands become the launch's results.

    ```mlir
    kernel.yield %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // LLMC_DIALECTS_KERNEL_IR_KERNELOPS_TD
