//===- LLMOps.td - llm dialect operations ------------------*- tablegen -*-===//
//
// Conventions: `T` is the number of tokens of a step (dynamic), `H` the hidden
// size, `nH`/`nKV` the query/key-value head counts, `d` the head dimension.
// Weights are `[out, in]` as in Hugging Face checkpoints: y = x * W^T + b.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMOPS_TD
#define LLMC_DIALECTS_LLM_IR_LLMOPS_TD

include "dialects/llm/IR/LLMBase.td"
include "dialects/llm/IR/LLMAttrs.td"
include "dialects/llm/IR/LLMTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinTypes.td"

// Activations: ranked float tensors, tokens first.
def LLM_Activation : RankedTensorOf<[AnyFloat]>;
// Weights: dense float tensors.
def LLM_Weight : RankedTensorOf<[AnyFloat]>;
// The weights of projections that may be stored quantized (!llm.qweight):
// only the ops whose kernels dequantize take them.
def LLM_QuantWeight : Type<CPred<"::llvm::isa<::llmc::llm::QuantWeightType>($_self)">,
    "quantized weight", "::llmc::llm::QuantWeightType">;
def LLM_AnyWeight : AnyTypeOf<[LLM_Weight, LLM_QuantWeight]>;
// Token ids, positions and sequence slots: one i32 per token. The number of
// tokens of a step is only known at run time, so this is exactly
// `tensor<?xi32>`, and formats can leave it out.
def LLM_IndexVector : Type<
    CPred<"$_self == ::mlir::RankedTensorType::get("
          "{::mlir::ShapedType::kDynamic}, "
          "::mlir::IntegerType::get($_self.getContext(), 32))">,
    "tensor<?xi32>", "::mlir::RankedTensorType">,
  BuildableType<"::mlir::RankedTensorType::get({::mlir::ShapedType::kDynamic}, "
                "$_builder.getI32Type())">;

//===----------------------------------------------------------------------===//
// Weights and embedding
//===----------------------------------------------------------------------===//

def LLM_ParamOp : LLM_Op<"param", [Pure]> {
  let summary = "a named weight of the checkpoint";
  let description = [{
    Refers to one tensor of the model's checkpoint by its Hugging Face name.
    The tensor's data is bound when the plan is built; in the IR it is a value
    of the declared type. Two `llm.param` ops with the same name are the same
    weight (tied embeddings use the embedding table as the LM head).

    With `stacked`, the weight is the concatenation of the listed checkpoint
    tensors, in order, all of one shape (the per-expert matrices of a
    Mixture-of-Experts layer as one `[E, ...]` tensor); `name` then names
    the whole, as transformers names the fused module parameter.

    With `rows [begin, total]`, the weight is rows `[begin, begin + rows)`
    of the one listed checkpoint tensor, which has `total` rows (Phi-3's
    fused `qkv_proj` and `gate_up_proj` read as separate projections).

    With `transposed`, the checkpoint tensor has the last two dimensions of
    the weight swapped: Llama 4's experts, stored `[E, H, 2I]` and `[E, I,
    H]` for `x W`, read as `[E, 2I, H]` and `[E, H, I]`.

    With `interleaved`, the checkpoint interleaves the two halves of the
    weight's dimension 1: its index `2j` is the weight's `j`, `2j + 1` the
    weight's `N/2 + j` (gpt-oss's gate/up columns and their biases).

    A quantized weight (`!llm.qweight`) names its scale tensor with
    `scales` and, when its type has zero points, their tensor with `zeros`
    (checkpoint names; their shape is the type's getScaleShape()). The
    With `stored` (a `!llm.qweight` type) and `scales`, a dense weight is
    stored quantized in the checkpoint and dequantized when the plan is
    written (each element `value * scale` in fp32, then rounded to the
    weight's element type): for the weights a kernel reads dense that the
    checkpoint ships quantized (DeepSeek's FP8 `kv_b_proj`, which the
    absorbed attention splits per head).

    The recipes `rows` and `transposed` do not apply to quantized weights;
    `stacked` does, with `scale_parts` naming each part's scale tensor (the
    stacked scales, named `scales`, are their concatenation: each part's
    rows must be whole blocks), and `interleaved` does for blocks of one
    row (each row's scales move with it). `packing` names
    how the checkpoint stores integer values (the plan holds them
    row-major, re-based to two's complement): "pack-quantized" (i4 or i8:
    compressed-tensors' int32 words `[rows, ceil(columns * bits / 32)]`,
    values from the low bits up, each plus 2^(bits - 1); zero points packed
    the same way along the rows), "awq-gemm" (i4 with zero points: AutoAWQ's
    GEMM layout, `qweight` int32 `[columns, rows / 8]` with the rows of a
    word in the order 0, 2, 4, 6, 1, 3, 5, 7 and each value unsigned,
    `qzeros` packed the same way, `scales` `[groups, rows]`), "gptq" and
    "gptq-v2" (i4 or i8 with zero points: AutoGPTQ's and GPTQModel's
    `qweight` int32 `[columns * bits / 32, rows]`, values of consecutive
    columns from the low bits up, unsigned; `qzeros` int32 `[groups, rows *
    bits / 32]` packed along the rows, each the zero point minus 1 in
    "gptq", as is in "gptq-v2"; `scales` `[groups, rows]`).

    ```mlir
    %w = llm.param "model.layers.0.self_attn.q_proj.weight" : tensor<2048x2048xbf16>
    %d = llm.param "model.layers.0.mlp.experts.down_proj" stacked
        ["model.layers.0.mlp.experts.0.down_proj.weight",
         "model.layers.0.mlp.experts.1.down_proj.weight"] : tensor<2x64x32xbf16>
    %k = llm.param "model.layers.0.self_attn.k_proj.weight" stacked
        ["model.layers.0.self_attn.qkv_proj.weight"] rows [3072, 9216] : tensor<3072x3072xbf16>
    %g = llm.param "model.layers.1.feed_forward.experts.gate_up_proj" transposed : tensor<16x16384x5120xbf16>
    %f = llm.param "model.layers.0.mlp.down_proj.weight" scales "model.layers.0.mlp.down_proj.weight_scale_inv"
        : !llm.qweight<shape = [7168, 18432], storage = f8E4M3FN, block = [128, 128], scale = f32>
    %p = llm.param "model.layers.0.mlp.up_proj.weight_packed" scales "model.layers.0.mlp.up_proj.weight_scale" packing "pack-quantized"
        : !llm.qweight<shape = [14336, 4096], storage = i4, block = [1, 128], scale = bf16>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrArrayAttr>:$parts,
                       OptionalAttr<DenseI64ArrayAttr>:$rows,
                       UnitAttr:$transposed, UnitAttr:$interleaved,
                       OptionalAttr<StrAttr>:$scales,
                       OptionalAttr<StrAttr>:$zeros,
                       OptionalAttr<StrAttr>:$packing,
                       OptionalAttr<StrArrayAttr>:$scale_parts,
                       OptionalAttr<TypeAttrOf<LLM_QuantWeight>>:$stored);
  let results = (outs LLM_AnyWeight:$result);
  let assemblyFormat = [{
    $name (`stacked` $parts^)? (`rows` $rows^)? (`transposed` $transposed^)?
    (`interleaved` $interleaved^)? (`scales` $scales^)?
    (`scale_parts` $scale_parts^)? (`zeros` $zeros^)?
    (`packing` $packing^)? (`stored` $stored^)? attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure]> {
  let summary = "token embedding lookup, optionally scaled";
  let description = [{
    Gathers row `tokens[t]` of `table` (`[V, H]`) for every token. With
    `scale`, the rows are multiplied by it in the activation dtype after the
    scale has been rounded to the table's dtype (Gemma's `sqrt(H)`).

    ```mlir
    %h = llm.embedding %tokens, %table : tensor<32000x4096xbf16> -> tensor<?x4096xbf16>
    %g = llm.embedding %tokens, %table scale 3.400000e+01 : tensor<262144x1152xbf16> -> tensor<?x1152xbf16>
    ```
  }];
  let arguments = (ins LLM_IndexVector:$tokens, LLM_Weight:$table,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $tokens `,` $table (`scale` $scale^)? attr-dict `:` type($table) `->`
    type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization over the last dimension, in fp32";
  let description = [{
    `r = rsqrt(mean(x^2) + eps)` over the last dimension, computed in fp32,
    then the weight is applied as `variant` says (see `RMSNormVariant`). The
    weight has the size of the last dimension; `no_weight` takes none.

    Applied to a `[T, heads, d]` tensor with a `[d]` weight it is the per-head
    QK-norm of Qwen 3 and Gemma 3; applied to `[T, nH*d]` before the head
    split it is OLMo 2's whole-projection QK-norm.

    ```mlir
    %y = llm.rms_norm cast_before_weight %x, %w eps 1.0e-05 : tensor<?x2048xbf16>, tensor<2048xbf16>
    %q = llm.rms_norm cast_before_weight %qh, %qw eps 1.0e-06 : tensor<?x16x128xbf16>, tensor<128xbf16>
    %n = llm.rms_norm no_weight %k eps 1.0e-05 : tensor<?x8x128xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, Optional<LLM_Weight>:$weight,
                       LLM_RMSNormVariant:$variant, F64Attr:$eps);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $variant $input (`,` $weight^)? `eps` custom<Double>($eps) attr-dict `:` type($input)
    (`,` type($weight)^)?
  }];
  let hasVerifier = 1;
}

def LLM_LayerNormOp : LLM_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "layer normalization over the last dimension, in fp32";
  let description = [{
    `(x - mean(x)) * rsqrt(var(x) + eps) * w + b` over the last dimension,
    computed in fp32 and rounded once. The bias is optional.

    ```mlir
    %y = llm.layer_norm %x, %w, %b eps 1.0e-05 : tensor<?x768xf32>, tensor<768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$weight,
                       Optional<LLM_Weight>:$bias, F64Attr:$eps);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `eps` custom<Double>($eps) attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)?
  }];
  let hasVerifier = 1;
}

def LLM_AddRMSNormOp : LLM_Op<"add_rms_norm", [Pure,
    AllTypesMatch<["input", "residual", "normalized", "sum"]>]> {
  let summary = "residual add fused with the RMSNorm that reads the sum";
  let description = [{
    `sum = input + residual`, `normalized = rms_norm(sum)`: the residual
    stream update and the next pre-norm in one pass over memory. Produced by
    `llm-fuse-add-rms-norm`; semantics of the norm as in `llm.rms_norm`.

    ```mlir
    %n, %s = llm.add_rms_norm cast_before_weight %h, %o, %w eps 1.0e-05 : tensor<?x2048xbf16>, tensor<2048xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Activation:$residual,
                       Optional<LLM_Weight>:$weight,
                       LLM_RMSNormVariant:$variant, F64Attr:$eps);
  let results = (outs LLM_Activation:$normalized, LLM_Activation:$sum);
  let assemblyFormat = [{
    $variant $input `,` $residual (`,` $weight^)? `eps` custom<Double>($eps) attr-dict `:`
    type($input) (`,` type($weight)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Projections and elementwise
//===----------------------------------------------------------------------===//

def LLM_LinearOp : LLM_Op<"linear", [Pure]> {
  let summary = "y = x * W^T + b";
  let description = [{
    A dense projection of the last dimension. `weight` is `[out, in]` as
    stored by Hugging Face; `bias`, when present, is `[out]`. The weight may
    be quantized (`!llm.qweight`): y = x * dequant(W)^T + b, dequantized as
    the type defines, in fp32, the result rounded once as for a dense one.

    `fp8_activations` (`llmc compile --fp8-activations`, FP8 weights in
    blocks of 128 input features): x is quantized dynamically as well, per
    token and 128 input features, as DeepSeek-V3 runs its FP8 linears:
    x' = e4m3(x / s) * s in fp32 with s = max|x| / 448 over the group (1
    when all are 0), and y = x' * dequant(W)^T + b.

    ```mlir
    %q = llm.linear %x, %wq : tensor<?x2048xbf16>, tensor<2048x2048xbf16> -> tensor<?x2048xbf16>
    %k = llm.linear %x, %wk, %bk : tensor<?x3584xbf16>, tensor<512x3584xbf16>, tensor<512xbf16> -> tensor<?x512xbf16>
    %o = llm.linear %x, %wo {fp8_activations} : tensor<?x7168xbf16>, !llm.qweight<shape = [7168, 16384], storage = f8E4M3FN, block = [128, 128], scale = f32> -> tensor<?x7168xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_AnyWeight:$weight,
                       Optional<LLM_Weight>:$bias,
                       UnitAttr:$fp8_activations);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_GatedLinearOp : LLM_Op<"gated_linear", [Pure]> {
  let summary = "act(x * Wg^T) * (x * Wu^T): gate and up projections fused with the GLU";
  let description = [{
    The first half of a gated MLP in one op: both projections read `x` once and
    the activation is applied before anything is written. Produced by
    `llm-fuse-gated-mlp` from two `llm.linear` and an `llm.glu`.

    ```mlir
    %m = llm.gated_linear silu %x, %wg, %wu : tensor<?x2048xbf16>, tensor<8192x2048xbf16>, tensor<8192x2048xbf16> -> tensor<?x8192xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$gate_weight,
                       LLM_Weight:$up_weight, LLM_ActivationFn:$activation);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $activation $input `,` $gate_weight `,` $up_weight attr-dict `:`
    type($input) `,` type($gate_weight) `,` type($up_weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_MoERouterOp : LLM_Op<"moe_router", [Pure, AttrSizedOperandSegments]> {
  let summary = "Mixture-of-Experts routing: scores, (group-limited) top-k, weights";
  let description = [{
    Chooses `top_k` of the `[E, H]` router's experts for every token and
    their routing weights, as the families' reference routers do:

    1. `logits = x W^T`: with `logits_in_fp32` from x and W widened to fp32
       (DeepSeek, GLM), otherwise in x's dtype (Mixtral, Qwen);
    2. `s = softmax(logits)` over all experts or `sigmoid(logits)`, in fp32;
    3. choice scores `c = s + correction_bias` (the optional `[E]` f32
       operand, DeepSeek V3's `e_score_correction_bias`), else `c = s`;
    4. with `groups > 1`: experts form `groups` consecutive groups, scored by
       `group_score` of `c`; the experts of all but the `top_groups` best
       groups are out of the choice;
    5. the `top_k` best remaining `c`, best first (equal scores: the lower
       expert index first, as `torch.topk` orders them);
    6. weights `w = s` at the chosen experts (unbiased), divided by
       `sum(w) + normalize_epsilon` when `normalize`, times `scaling`,
       rounded to the weights result's element type (f32, or x's type where
       the reference casts them).

    `softmax_top_k` (gpt-oss) chooses the top_k logits and takes the softmax
    over those k only, in fp32. `logit_bias` (`[E]`, gpt-oss's router bias)
    is added to the logits before they are rounded, as a biased linear.

    ```mlir
    %w, %ids = llm.moe_router softmax %x, %gate top_k 2 normalize : tensor<?x64xf32>, tensor<8x64xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
    %w, %ids = llm.moe_router sigmoid %x, %gate, %bias top_k 8 groups 8 top_groups 4 group_score sum_of_top2 logits_in_fp32 normalize epsilon 1.0e-20 scaling 2.5 : tensor<?x7168xbf16>, tensor<256x7168xbf16>, tensor<256xf32> -> tensor<?x8xf32>, tensor<?x8xi32>
    %w, %ids = llm.moe_router softmax_top_k %x, %gate logit_bias(%b : tensor<32xbf16>) top_k 4 : tensor<?x2880xbf16>, tensor<32x2880xbf16> -> tensor<?x4xbf16>, tensor<?x4xi32>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$weight,
      Optional<LLM_Weight>:$correction_bias,
      Optional<LLM_Weight>:$logit_bias, LLM_RouterScoring:$scoring,
      I64Attr:$top_k, DefaultValuedAttr<I64Attr, "1">:$groups,
      DefaultValuedAttr<I64Attr, "1">:$top_groups,
      DefaultValuedAttr<LLM_RouterGroupScore, "RouterGroupScore::SumOfTop2">:$group_score,
      UnitAttr:$logits_in_fp32, UnitAttr:$normalize,
      DefaultValuedAttr<F64Attr, "0.0">:$epsilon,
      DefaultValuedAttr<F64Attr, "1.0">:$scaling);
  let results = (outs LLM_Activation:$weights,
                      RankedTensorOf<[I32]>:$expert_ids);
  let assemblyFormat = [{
    $scoring $input `,` $weight (`,` $correction_bias^)?
    (`logit_bias` `(` $logit_bias^ `:` type($logit_bias) `)`)? `top_k` $top_k
    (`groups` $groups^)? (`top_groups` $top_groups^)?
    (`group_score` $group_score^)? (`logits_in_fp32` $logits_in_fp32^)?
    (`normalize` $normalize^)? (`epsilon` $epsilon^)?
    (`scaling` $scaling^)? attr-dict `:` type($input) `,` type($weight)
    (`,` type($correction_bias)^)? `->` type($weights) `,` type($expert_ids)
  }];
  let hasVerifier = 1;
}

def LLM_MoEExpertsOp : LLM_Op<"moe_experts", [Pure, AttrSizedOperandSegments]> {
  let summary = "the routed experts: each token's chosen gated MLPs, weighted and summed";
  let description = [{
    For token t and its j-th chosen expert `e = expert_ids[t, j]`:
    `m = act(gate_e x) * (up_e x)` (each rounded to x's type, as a gated
    MLP computes it), `y_j = down_e m` in x's type; the result is
    `sum_j weights[t, j] * y_j`, each product in the weights' type, summed
    in fp32 and rounded once to x's type (transformers' grouped experts).
    `gate_up` is `[E, 2I, H]` (rows `[0, I)` the gate, `[I, 2I)` up), `down`
    `[E, H, I]`: transformers' fused layout, stacked from per-expert
    checkpoint tensors by `llm.param ... stacked`. Both may be quantized
    alike (`!llm.qweight`, blocks `[1, rows, columns]` within each expert:
    DeepSeek's FP8 blocks, gpt-oss's MXFP4), dequantized as the type says.

    With `scale_input` (Llama 4), the weight scales the expert's input
    instead of its output: `x_j = weights[t, j] * x` rounded to x's type,
    `y_j` computed from `x_j`, and the result is `sum_j y_j` (in fp32,
    rounded once).

    gpt-oss: `biases %gu_b, %down_b` (`[E, 2I]`, `[E, H]`) are added to the
    rounded gate/up and down products and rounded again; `swiglu_limit L
    alpha A` replaces `act(gate) * up` (the activation must be `silu`) by
    `g = min(gate, L)`, `u = clamp(up, -L, L)`, `(u + 1) * (g *
    sigmoid(A * g))`, each product, sum and the sigmoid rounded to x's type.

    ```mlir
    %y = llm.moe_experts silu %x, %w, %ids, %gate_up, %down : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x192x64xf32>, tensor<8x64x96xf32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Activation:$weights,
      RankedTensorOf<[I32]>:$expert_ids, LLM_AnyWeight:$gate_up,
      LLM_AnyWeight:$down, Optional<LLM_Weight>:$gate_up_bias,
      Optional<LLM_Weight>:$down_bias, LLM_ActivationFn:$activation,
      UnitAttr:$scale_input, OptionalAttr<F64Attr>:$swiglu_limit,
      OptionalAttr<F64Attr>:$swiglu_alpha);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $activation $input `,` $weights `,` $expert_ids `,` $gate_up `,` $down
    (`biases` $gate_up_bias^ `,` $down_bias)? (`scale_input` $scale_input^)?
    (`swiglu_limit` $swiglu_limit^ `alpha` $swiglu_alpha)? attr-dict `:`
    type($input) `,` type($weights) `,` type($expert_ids) `,`
    type($gate_up) `,` type($down) (`,` type($gate_up_bias)^ `,`
    type($down_bias))? `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_SigmoidGateOp : LLM_Op<"sigmoid_gate", [Pure,
    AllTypesMatch<["value", "result"]>]> {
  let summary = "y * sigmoid(x . w): a per-token scalar gate (Qwen2-MoE's shared expert)";
  let description = [{
    For each token, `g = sigmoid(x . w)` with `w` `[1, H]` (the logit and
    the sigmoid each rounded to the value's type, as an nn.Linear of width 1
    followed by F.sigmoid computes them), then `g * value`, rounded.

    ```mlir
    %g = llm.sigmoid_gate %x, %w, %shared : tensor<?x2048xbf16>, tensor<1x2048xbf16>, tensor<?x2048xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$weight,
                       LLM_Activation:$value);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $value attr-dict `:` type($input) `,`
    type($weight) `,` type($value)
  }];
  let hasVerifier = 1;
}

def LLM_GLUOp : LLM_Op<"glu", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "act(gate) * up: the SwiGLU / GeGLU combination";
  let description = [{
    Elementwise `act(gate) * up` in the activation dtype: SwiGLU with `silu`,
    GeGLU with `gelu_tanh` or `gelu`.

    ```mlir
    %m = llm.glu silu %g, %u : tensor<?x8192xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$gate, LLM_Activation:$up,
                       LLM_ActivationFn:$activation);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = "$activation $gate `,` $up attr-dict `:` type($result)";
}

def LLM_AddOp : LLM_Op<"add", [Pure, Commutative,
    AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "elementwise add (the residual connection)";
  let description = [{
    ```mlir
    %h1 = llm.add %h0, %attn : tensor<?x2048xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$lhs, LLM_Activation:$rhs);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_SoftcapOp : LLM_Op<"softcap", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "cap * tanh(x / cap): logit soft-capping";
  let description = [{
    Squashes values smoothly into `(-cap, cap)`, as Gemma's
    `final_logit_softcapping` does to the logits.

    ```mlir
    %l = llm.softcap %logits cap 30.0 : tensor<?x256000xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, F64Attr:$cap);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = "$input `cap` custom<Double>($cap) attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def LLM_ScaleOp : LLM_Op<"scale", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "x * factor or x / factor, in fp32, rounded once";
  let description = [{
    An activation times (or, with `divide`, divided by) a constant, as
    PyTorch computes `tensor * float` / `tensor / float`: in fp32, rounded
    once to the activation dtype. Granite's embedding, residual and
    attention multipliers and its `logits / logits_scaling`.

    ```mlir
    %e = llm.scale %x factor 12.0 : tensor<?x4096xbf16>
    %l = llm.scale %logits factor 16.0 divide : tensor<?x49155xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, F64Attr:$factor,
                       UnitAttr:$divide);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `factor` custom<Double>($factor) (`divide` $divide^)? attr-dict `:`
    type($result)
  }];
  let hasVerifier = 1;
}

def LLM_AttnTemperatureOp : LLM_Op<"attn_temperature", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Llama 4's attention temperature tuning: queries scaled by position";
  let description = [{
    Token t's row times `1 + scale * log1p(floor((positions[t] + 1) /
    floor_scale))`, all in fp32 as transformers computes it, rounded once
    (the identity below position `floor_scale - 1`). Llama 4 applies it to
    the queries of its NoPE layers.

    ```mlir
    %qt = llm.attn_temperature %q, %pos floor_scale 8192.0 scale 0.1 : tensor<?x40x128xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_IndexVector:$positions,
                       F64Attr:$floor_scale, F64Attr:$scale);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $positions `floor_scale` custom<Double>($floor_scale) `scale`
    custom<Double>($scale) attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Heads, rotary embedding, KV cache, attention
//===----------------------------------------------------------------------===//

def LLM_SplitHeadsOp : LLM_Op<"split_heads", [Pure]> {
  let summary = "view [T, heads * d] as [T, heads, d]";
  let description = [{
    Heads are contiguous blocks of `d` columns, in head order.

    ```mlir
    %q3 = llm.split_heads %q : tensor<?x2048xbf16> -> tensor<?x32x64xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_MergeHeadsOp : LLM_Op<"merge_heads", [Pure]> {
  let summary = "view [T, heads, d] as [T, heads * d]";
  let description = [{
    The inverse of `llm.split_heads`: heads concatenated in head order.

    ```mlir
    %a2 = llm.merge_heads %a : tensor<?x32x64xbf16> -> tensor<?x2048xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_RopeOp : LLM_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of each head";
  let description = [{
    Rotates `rope.dim` dimensions of every head of `input` (`[T, heads,
    d]`), starting at `offset` (0: the first ones), by the angles
    `positions[t] * inv_freq`, in the pairs the layout names; the other
    dimensions pass through (partial rotary; MLA's decoupled RoPE rotates
    the trailing `qk_rope_head_dim` of each head, `offset = qk_nope_head_dim`).
    cos and sin are computed in fp32, multiplied by the attention scaling of
    yarn/longrope, and rounded to the activation dtype before the rotation,
    whose products are rounded too (`apply_rotary_pos_emb` in the activation
    dtype). With `fp32` the rotation is one complex multiply in fp32,
    rounded once (DeepSeek V2's and Llama 4's `view_as_complex` form).

    ```mlir
    %qr = llm.rope #llm.rope<default, theta = 1000000.0, dim = 128> %q, %pos : tensor<?x16x128xbf16>
    %qm = llm.rope #llm.rope<default, theta = 10000.0, dim = 64, layout = interleaved> %q, %pos offset 128 fp32 : tensor<?x128x192xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_IndexVector:$positions,
                       LLM_RopeAttr:$rope,
                       DefaultValuedAttr<I64Attr, "0">:$offset,
                       UnitAttr:$fp32);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $rope $input `,` $positions (`offset` $offset^)? (`fp32` $fp32^)? attr-dict
    `:` type($input)
  }];
  let hasVerifier = 1;
}

def LLM_KVCacheWriteOp : LLM_Op<"kv_cache_write", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "store keys and values of new tokens into a layer's cache";
  let description = [{
    Token `t`'s key and value (`[T, nKV, d]` each) are stored at position
    `positions[t]` of sequence `slots[t]`; the result is the updated cache.
    With a windowed cache only the last `window` positions of each sequence
    are kept. An f8E4M3FN cache stores each head's values as E4M3 codes
    with one f32 scale (`!llm.kv_cache`). Lowering makes the update in
    place.

    ```mlir
    %c1 = llm.kv_cache_write %k, %v into %c0 at %slots, %pos : tensor<?x8x64xbf16>, tensor<?x8x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$key, LLM_Activation:$value,
                       LLM_KVCacheType:$cache, LLM_IndexVector:$slots,
                       LLM_IndexVector:$positions);
  let results = (outs LLM_KVCacheType:$result);
  let assemblyFormat = [{
    $key `,` $value `into` $cache `at` $slots `,` $positions attr-dict `:`
    type($key) `,` type($value) `,` type($cache)
  }];
  let hasVerifier = 1;
}

def LLM_AttentionOp : LLM_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "causal scaled dot-product attention over a KV cache";
  let description = [{
    For token `t` of sequence `slots[t]` at position `i = positions[t]`, each
    query head `h` attends to the cached keys/values of KV head
    `h / (nH / nKV)` (MHA when equal, GQA, MQA with one KV head) at positions
    `j` of the same sequence that the mask allows:

    * causal: `j <= i`;
    * `window = W`: also `i - j < W` (W tokens including the current one);
    * `chunk = C`: also `j / C == i / C` (Llama 4's chunked attention).

    `scores = (q . k) * scale`, then `softcap` (`c * tanh(s / c)`) when set,
    softmax in fp32, then the weighted sum of values. With `sinks` (one logit
    per query head, `[nH]`), each row's softmax has one more, unscaled entry
    whose probability is dropped (gpt-oss).

    With `step` keys and values (`[T, nKV, d]`, the `llm.kv_cache_write`
    operands of the step, which then follows the attention), the cache holds
    each sequence's positions before the step and the step's own positions
    are read from them, converted to the cache's dtype as the write stores
    them: the same numbers, but a windowed cache then needs to keep only the
    window (`llm-window-rings`).

    ```mlir
    %a = llm.attention %q, %c1 at %slots, %pos scale 0.125 : tensor<?x32x64xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 64, dtype = bf16> -> tensor<?x32x64xbf16>
    %w = llm.attention %q, %c at %slots, %pos scale 0.08838834764831845 {window = 4096 : i64} : tensor<?x32x128xbf16>, !llm.kv_cache<kv_heads = 8, head_dim = 128, dtype = bf16, window = 4096> -> tensor<?x32x128xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$query, LLM_KVCacheType:$cache,
                       LLM_IndexVector:$slots, LLM_IndexVector:$positions,
                       Optional<LLM_Weight>:$sinks,
                       Optional<LLM_Activation>:$step_key,
                       Optional<LLM_Activation>:$step_value,
                       F64Attr:$scale,
                       OptionalAttr<I64Attr>:$window,
                       OptionalAttr<I64Attr>:$chunk,
                       OptionalAttr<F64Attr>:$softcap);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $query `,` $cache `at` $slots `,` $positions (`sinks` $sinks^)?
    (`step` $step_key^ `,` $step_value)? `scale`
    custom<Double>($scale) attr-dict `:` type($query) `,` type($cache) (`,` type($sinks)^)?
    (`,` `step` type($step_key)^ `,` type($step_value))?
    `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Multi-head Latent Attention (DeepSeek V2/V3, Kimi K2)
//
// Sizes: `L` the latent (kv_lora_rank), `R` the decoupled RoPE width
// (qk_rope_head_dim), `N` the per-head no-RoPE query/key width
// (qk_nope_head_dim), `V` the per-head value width (v_head_dim). `kv_b` is
// kv_b_proj's weight `[nH * (N + V), L]`: per head, N rows of W_UK (the key
// up-projection) then V rows of W_UV (the value up-projection).
//===----------------------------------------------------------------------===//

def LLM_LatentCacheWriteOp : LLM_Op<"latent_cache_write", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "normalize the latent, rotate the decoupled key, store both";
  let description = [{
    `kv` is kv_a_proj_with_mqa's output `[T, L + R]`. Its first L values,
    the latent `c_kv`, are RMS-normalized with `norm_weight` (kv_a_layernorm,
    the `cast_before_weight` variant, eps `eps`); its last R values, the key
    shared by all heads, are rotated by `rope` at `positions[t]`
    (`llm.rope`'s rounding, `fp32` as there). Both are stored as row
    `positions[t]` of sequence `slots[t]`: the norm, the RoPE and the cache
    write in one op.

    ```mlir
    %c1 = llm.latent_cache_write %kv, %w into %c0 at %slots, %pos rope #llm.rope<default, theta = 10000.0, dim = 64, layout = interleaved> eps 1.0e-06 : tensor<?x576xbf16>, tensor<512xbf16>, !llm.latent_cache<latent_dim = 512, rope_dim = 64, dtype = bf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$kv, LLM_Weight:$norm_weight,
                       LLM_LatentCacheType:$cache, LLM_IndexVector:$slots,
                       LLM_IndexVector:$positions, F64Attr:$eps,
                       LLM_RopeAttr:$rope, UnitAttr:$fp32);
  let results = (outs LLM_LatentCacheType:$result);
  let assemblyFormat = [{
    $kv `,` $norm_weight `into` $cache `at` $slots `,` $positions `rope`
    $rope `eps` custom<Double>($eps) (`fp32` $fp32^)? attr-dict `:`
    type($kv) `,` type($norm_weight) `,` type($cache)
  }];
  let hasVerifier = 1;
}

def LLM_MLAAttentionOp : LLM_Op<"mla_attention", [Pure]> {
  let summary = "Multi-head Latent Attention, expanded: per-head keys and values from the latent";
  let description = [{
    What the reference computes. For every cached position j of the token's
    sequence (causal, `j <= positions[t]`) and head h, with `c_j` the cached
    latent and `r_j` the cached rotated key:
    `k_{j,h} = [W_UK[h] c_j || r_j]` and `v_{j,h} = W_UV[h] c_j`, each
    rounded to the query's type (kv_b_proj's output); then
    `softmax(q . k * scale) v` in fp32 as `llm.attention`. `query` is
    `[T, nH, N + R]` (RoPE already applied to its last R), the result
    `[T, nH, V]`.

    `llm-absorb-mla` rewrites it into the absorbed form
    (`llm.mla_absorb_query`, `llm.latent_attention`, `llm.mla_absorb_output`).

    ```mlir
    %a = llm.mla_attention %q, %c1, %kvb at %slots, %pos scale 0.1352 : tensor<?x128x192xbf16>, !llm.latent_cache<latent_dim = 512, rope_dim = 64, dtype = bf16>, tensor<32768x512xbf16> -> tensor<?x128x128xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$query, LLM_LatentCacheType:$cache,
                       LLM_Weight:$kv_b, LLM_IndexVector:$slots,
                       LLM_IndexVector:$positions, F64Attr:$scale);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $query `,` $cache `,` $kv_b `at` $slots `,` $positions `scale`
    custom<Double>($scale) attr-dict `:` type($query) `,` type($cache) `,`
    type($kv_b) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_MLAAbsorbQueryOp : LLM_Op<"mla_absorb_query", [Pure]> {
  let summary = "fold the key up-projection into the query: attention in the latent space";
  let description = [{
    `result[t, h] = [q_nope[t, h] W_UK[h] || q_rope[t, h]]`, `[T, nH, L + R]`
    from the query `[T, nH, N + R]`: since `q_nope . (W_UK c) = (q_nope
    W_UK) . c`, the absorbed query scores the cached latent rows directly.
    Products are summed in fp32 and stored as the result's type.

    ```mlir
    %ql = llm.mla_absorb_query %q, %kvb : tensor<?x128x192xbf16>, tensor<32768x512xbf16> -> tensor<?x128x576xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$query, LLM_Weight:$kv_b);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $query `,` $kv_b attr-dict `:` type($query) `,` type($kv_b) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def LLM_LatentAttentionOp : LLM_Op<"latent_attention", [Pure]> {
  let summary = "attention of absorbed queries over the latent cache (all heads share one row)";
  let description = [{
    Multi-query attention over the latent cache: for token t and head h,
    `s_j = (query[t, h] . row_j) * scale` over the whole cached row
    (`L + R` values: latent and rotated key), causal, softmax in fp32, and
    the result `[T, nH, L]` is `sum_j p_j c_j` over the rows' latent part.

    ```mlir
    %ol = llm.latent_attention %ql, %c1 at %slots, %pos scale 0.1352 : tensor<?x128x576xf32>, !llm.latent_cache<latent_dim = 512, rope_dim = 64, dtype = bf16> -> tensor<?x128x512xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$query, LLM_LatentCacheType:$cache,
                       LLM_IndexVector:$slots, LLM_IndexVector:$positions,
                       F64Attr:$scale);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $query `,` $cache `at` $slots `,` $positions `scale` custom<Double>($scale)
    attr-dict `:` type($query) `,` type($cache) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_MLAAbsorbOutputOp : LLM_Op<"mla_absorb_output", [Pure]> {
  let summary = "apply the value up-projection after latent attention";
  let description = [{
    `result[t, h] = W_UV[h] input[t, h]`: `[T, nH, V]` from the latent
    attention output `[T, nH, L]`, summed in fp32.

    ```mlir
    %o = llm.mla_absorb_output %ol, %kvb : tensor<?x128x512xf32>, tensor<32768x512xbf16> -> tensor<?x128x128xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$kv_b);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $kv_b attr-dict `:` type($input) `,` type($kv_b) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Output
//===----------------------------------------------------------------------===//

def LLM_LMHeadOp : LLM_Op<"lm_head", [Pure]> {
  let summary = "project final hidden states to vocabulary logits";
  let description = [{
    `logits = x * W^T` with `W` `[V, H]`, in the activation dtype (logits are
    not upcast). With tied embeddings `W` is the embedding table itself.

    ```mlir
    %logits = llm.lm_head %h, %w : tensor<?x2048xbf16>, tensor<128256x2048xbf16> -> tensor<?x128256xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$weight);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

#endif // LLMC_DIALECTS_LLM_IR_LLMOPS_TD
