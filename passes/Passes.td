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

def WindowRingsPass : Pass<"llm-window-rings", "::mlir::func::FuncOp"> {
  let summary = "Let windowed layers keep a ring of exactly their window";
  let description = [{
    In the prefill step, a windowed `llm.attention` reading the cache that
    `llm.kv_cache_write %k, %v into %c0` returns is rewritten to read `%c0`
    with `step %k, %v`, and the write moves after it. A step's tokens then
    never read a position the same step overwrote, so the layer's ring
    buffer holds the window instead of window + max_tokens - 1 positions
    (the plan's KVCacheLayout.ring_rows). Decode steps (one token per
    sequence) need no change: writing position p drops p - window, which no
    query of the step sees. Skipped for f8E4M3FN caches (the write's scale
    is per head; the ring keeps window + max_tokens - 1 there).
  }];
  let dependentDialects = ["::llmc::llm::LLMDialect"];
}

def AbsorbMLAPass : Pass<"llm-absorb-mla", "::mlir::func::FuncOp"> {
  let summary = "Run Multi-head Latent Attention in the latent space (weight absorption)";
  let description = [{
    Rewrites `llm.mla_attention` (keys and values of every head
    up-projected from each cached latent row) into the absorbed form:
    `llm.mla_absorb_query` folds W_UK into the query, `llm.latent_attention`
    attends over the cached rows themselves (shared by all heads, read once
    per step), `llm.mla_absorb_output` applies W_UV to the result. The
    absorbed queries and outputs are f32.

    The absorbed weights are kv_b_proj's own slices, used in place: they are
    not multiplied into q_b_proj and o_proj at compile time, since that
    would grow those weights (DeepSeek V3: q_b from 24576x1536 to
    65536x1536, o_proj from 7168x16384 to 7168x65536) and the bytes every
    decode step reads with them.

    Which steps: per token, head and layer, with S cached positions, L the
    latent, N/R/V the nope/rope/value widths, the expanded form costs
    S * 2 * (N + V) * L multiply-adds to up-project (shared by the step's
    tokens of a sequence) plus S * (N + R + V) to attend; the absorbed form
    (N + V) * L plus S * (2L + R). Decode (one token) absorbs: at S = 4096
    on V3 that is 3.4e5 against 1.1e9 per head. A prefill chunk of T tokens
    shares the up-projection: expanded costs S * (2(N + V)L + T(N + R + V))
    per head, absorbed T * ((N + V)L + S(2L + R)); for T = S (a fresh
    prompt) the expanded form is cheaper at every length, so prefill keeps
    it unless `steps=all`.
  }];
  let options = [
    Option<"steps", "steps", "std::string", "\"decode\"",
           "which step functions to absorb: decode, all or none">
  ];
  let dependentDialects = ["::llmc::llm::LLMDialect"];
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

def ConvertLLMToKernelPass : Pass<"convert-llm-to-kernel", "::mlir::func::FuncOp"> {
  let summary = "Group llm ops into kernel.launch ops, one per future GPU launch";
  let description = [{
    Walks a step function in order and cuts it into launches. Each launch is
    started by a heavy op (embedding, a norm over the hidden state, a
    projection, attention, the LM head); light ops that read its results
    (bias-free views, per-head QK-norm, RoPE, the KV-cache write, the GLU, a
    residual add, soft-capping) join it as a fused epilogue. Projections
    that read the same input join one launch (Q, K and V). A light op whose
    inputs come from an older launch gets a launch of its own. Weights
    (`llm.param`) stay outside and become operands, so a launch lists
    everything it reads; the launch is named after the Hugging Face modules
    it covers.
  }];
  let dependentDialects = ["::llmc::kernel::KernelDialect", "::llmc::llm::LLMDialect"];
}

//===----------------------------------------------------------------------===//
// Memory planning
//===----------------------------------------------------------------------===//

def PlanMemoryPass : Pass<"kernel-plan-memory", "::mlir::func::FuncOp"> {
  let summary = "Give every activation of a step a byte offset in one arena";
  let description = [{
    Sizes every activation for `max-tokens` tokens (its dynamic token
    dimension), computes its live range over the step (views and a launch's
    yielded values share their source's buffer), and places the buffers in
    one arena with a greedy best-fit over the address space, so buffers whose
    live ranges do not overlap share memory. Each op that defines an
    activation gets `kernel.offsets` (one entry per result, -1 for results
    that are not in the arena: KV caches); the function gets
    `kernel.arena_bytes` and `kernel.max_tokens`. The step's token, position
    and slot vectors are inputs of the step, not arena buffers.
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", "512",
           "the most tokens one step runs (prefill chunk and decode batch)">,
    Option<"alignment", "alignment", "int64_t", "256",
           "byte alignment of every buffer (a power of two)">,
  ];
}

//===----------------------------------------------------------------------===//
// Kernel selection
//===----------------------------------------------------------------------===//

def KernelSelectPass : Pass<"kernel-select", "::mlir::ModuleOp"> {
  let summary = "Choose the generated kernel that runs each launch: kernel.call ops";
  let description = [{
    After `kernel-plan-memory`, decides for every `kernel.launch` of the step
    functions which generated kernels run it, and records each as a
    `kernel.call` at the end of the launch's body: the template, its
    compile-time constants (shapes, dtypes, tile sizes, split counts), its
    operands, its launch geometry and the step sizes it serves. The recipes
    live one file per op family (passes/Conversion/KernelSelect/); fusions
    are recipes that cover several ops with one call, taken only where
    running them at once cannot change a result (no write lands on bytes
    another part reads):

    * 2-3 linears of one input (Q, K, V): one `gemv_multi` for small steps;
    * two RMSNorms of one size in a row (Q and K norms): `rms_norm_pair`;
    * rope(q), rope(k), kv_cache_write(rotated k, v): `rope_kv_cache_write`.

    Each step function also gets a `kernel.greedy` op with the calls of
    greedy sampling over its logits, and `kernel.scratch_bytes`. Entries with
    the same name and another template call are renamed NAME_v2, ...: after
    this pass an entry name means one kernel. The emitter only prints these
    calls; the plan writer only serializes them.
  }];
  let options = [
    Option<"maxSeqLen", "max-seq-len", "int64_t", "4096",
           "the longest sequence a session may hold (decode split counts)">,
  ];
  let dependentDialects = ["::llmc::kernel::KernelDialect", "::llmc::llm::LLMDialect"];
}

#endif // LLMC_PASSES_PASSES_TD
