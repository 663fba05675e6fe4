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

def Kernel_GreedyOp : Kernel_Op<"greedy", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "greedy sampling of a step's logits: the calls that run it";
  let description = [{
    The argmax of every logits row, as the generated kernels compute it on a
    GPU: `kernel-select` puts one at the end of each step function, holding
    the `kernel.call`s of the sampling kernels. Its one result is the int32
    token of every row (-1 for a row with a NaN), in scratch memory; nothing
    in the step reads it (the runtime copies it out).

    ```mlir
    %t = kernel.greedy (%logits) : (tensor<?x80xf32>) -> tensor<?xi32> {
    ^bb0(%l: tensor<?x80xf32>):
      ...
      kernel.yield %tokens : tensor<?xi32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` `:` functional-type($inputs, $results) attr-dict-with-keyword $body
  }];
}

def Kernel_ScratchOp : Kernel_Op<"scratch", [Pure]> {
  let summary = "a view of the step's scratch memory";
  let description = [{
    Bytes from `offset` of the scratch buffer the runtime allocates next to
    the arena (for `kernel.scratch_bytes` on the function): partial results
    that live only between two launches of one op (split-KV attention, the
    argmax slices) and the greedy tokens. `row_elems` elements per token
    (0: not laid out per token).

    ```mlir
    %s = kernel.scratch offset 0 row_elems 0 : tensor<?xf32>
    ```
  }];
  let arguments = (ins I64Attr:$offset, I64Attr:$row_elems);
  let results = (outs RankedTensorOf<[AnyType]>:$result);
  let assemblyFormat = "`offset` $offset `row_elems` $row_elems attr-dict `:` type($result)";
}

def Kernel_CallOp : Kernel_Op<"call"> {
  let summary = "one launch of one generated kernel entry: a typed template call";
  let description = [{
    The kernel that runs (part of) a launch, as `kernel-select` chose it:
    the generated entry `entry` calls the template `callee` (a function of
    compiler/codegen/cuda/templates/) with `template_args`, compile-time
    constants printed in order (integers, booleans, element types, f32
    values), and with `args`, its run-time arguments in order:

    * an integer `i`: the entry's parameter `i`, the call's operand `i`
      (a device pointer; a KV cache as `llmc_kv`);
    * a type `T`: a null `const T *` (an absent bias or second weight),
      `[T]`: a null `T *` (an absent output);
    * an f32 value: a constant (eps, a scale);
    * `"num_tokens"`: the step's token count, `"llmc_inv_freq"`: the table
      of `inv_freq` the entry's source declares.

    `writes[i]` says whether the kernel writes operand `i`; `scales[i]`
    (when present) that operand `i` is a quantized weight (`!llm.qweight`)
    whose parameter is its scales (`const float *` or its scale type), not
    its values (the same weight passed once more, for its values);
    `zeros[i]` likewise that the parameter is its zero points (`const
    signed char *`). The launch
    geometry: `grid` blocks of `block` threads, the grid's axis
    `token_axis` multiplied by ceil(T / `tokens_per_block`) when that is
    not 0; the call runs for steps of T in [`min_tokens`, `max_tokens`]
    tokens (`max_tokens` 0: no bound). `hot` marks the entries that run most
    of a step's time (GEMV, GEMM, attention): a spill there is a
    performance bug. `dynamic_shared` (when present) is the bytes of
    dynamic shared memory each block gets (`LLMC_DYNAMIC_SHARED` in the
    templates; the runtime opts the entry in beyond 48 KiB). Calls with the
    same `entry` are the same kernel: the emitter generates and compiles it
    once.

    ```mlir
    kernel.call @gemv(%x, %w, %y) {entry = "linear_gemv_n64_k64_f32_f32_f32",
        template_args = [64, 64, 8, true, false, false, 0, f32, f32, f32, f32],
        args = ["num_tokens", 0, 1, f32, f32, 2], writes = array<i1: false, false, true>,
        grid = array<i32: 8, 1, 1>, block = 256 : i32, tokens_per_block = 0 : i32,
        token_axis = 0 : i32, min_tokens = 1 : i32, max_tokens = 16 : i32, hot}
        : tensor<?x64xf32>, tensor<64x64xf32>, tensor<?x64xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$callee, StrAttr:$entry,
      ArrayAttr:$template_args, ArrayAttr:$args, DenseBoolArrayAttr:$writes,
      DenseI32ArrayAttr:$grid, I32Attr:$block, I32Attr:$tokens_per_block,
      I32Attr:$token_axis, I32Attr:$min_tokens, I32Attr:$max_tokens,
      UnitAttr:$hot, OptionalAttr<DenseF32ArrayAttr>:$inv_freq,
      OptionalAttr<DenseBoolArrayAttr>:$scales,
      OptionalAttr<DenseBoolArrayAttr>:$zeros,
      OptionalAttr<I32Attr>:$dynamic_shared,
      Variadic<AnyType>:$buffers);
  let assemblyFormat = "$callee `(` $buffers `)` attr-dict `:` type($buffers)";
  let hasVerifier = 1;
}

def Kernel_YieldOp : Kernel_Op<"yield", [Pure, Terminator,
    ParentOneOf<["LaunchOp", "GreedyOp"]>, ReturnLike]> {
  let summary = "the results of a launch";
  let description = [{
    Ends a `kernel.launch` or `kernel.greedy` body; its operands become the
    op's results.

    ```mlir
    kernel.yield %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // LLMC_DIALECTS_KERNEL_IR_KERNELOPS_TD
