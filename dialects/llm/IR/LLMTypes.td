//===- LLMTypes.td - llm dialect types ---------------------*- tablegen -*-===//

#ifndef LLMC_DIALECTS_LLM_IR_LLMTYPES_TD
#define LLMC_DIALECTS_LLM_IR_LLMTYPES_TD

include "dialects/llm/IR/LLMBase.td"

class LLM_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<LLM_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def LLM_KVCacheType : LLM_Type<"KVCache", "kv_cache"> {
  let summary = "the key/value cache of one attention layer";
  let description = [{
    Keys and values of every cached token of every sequence of a session, for
    one attention layer: `kv_heads` heads of `head_dim` elements each, stored
    as `dtype`. The number of sequences and the capacity per sequence are
    chosen when a session is created, so they are not part of the type.

    A layer that only ever attends to the last `window` tokens has a windowed
    cache (`window = W`): it needs to hold `W` tokens per sequence, not the
    whole sequence, and the runtime allocates it that way.

    `dtype` is f32, f16, bf16 or f8E4M3FN (`llmc compile --kv-dtype
    fp8_e4m3`). An FP8 cache also keeps one f32 scale per token and KV head
    for keys and for values: `llm.kv_cache_write` stores element x of a head
    as the E4M3 code nearest to x / s (ties to even), s = max|x| / 448 over
    the head's elements (1 when all are 0), and attention reads it back as
    code * s in fp32.

    ```mlir
    !llm.kv_cache<kv_heads = 8, head_dim = 128, dtype = bf16>
    !llm.kv_cache<kv_heads = 8, head_dim = 128, dtype = bf16, window = 4096>
    !llm.kv_cache<kv_heads = 8, head_dim = 128, dtype = f8E4M3FN>
    ```

    Other cache kinds (MLA's `!llm.latent_cache`, later linear attention's
    recurrent state) are separate types, so that each layer's storage
    follows from its type.
  }];
  let parameters = (ins
    "int64_t":$kv_heads,
    "int64_t":$head_dim,
    "::mlir::Type":$dtype,
    DefaultValuedParameter<"int64_t", "0">:$window
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def LLM_LatentCacheType : LLM_Type<"LatentCache", "latent_cache"> {
  let summary = "the compressed latent cache of one Multi-head Latent Attention layer";
  let description = [{
    DeepSeek's MLA caches one row per token shared by all heads: the
    normalized latent `c_kv` (`latent_dim` = kv_lora_rank values) followed by
    the rotated decoupled key `k_rope` (`rope_dim` = qk_rope_head_dim
    values), stored as `dtype`. Keys and values of every head are
    projections of that row (`kv_b_proj`), so a token costs
    `(latent_dim + rope_dim) * sizeof(dtype)` bytes per layer: 1152 for
    DeepSeek V3 in bf16, against 2 * 128 * 192 * 2 for the expanded keys and
    values.

    ```mlir
    !llm.latent_cache<latent_dim = 512, rope_dim = 64, dtype = bf16>
    ```
  }];
  let parameters = (ins
    "int64_t":$latent_dim,
    "int64_t":$rope_dim,
    "::mlir::Type":$dtype
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Elements of one cached row: latent_dim + rope_dim.
    int64_t getRowElems() const { return getLatentDim() + getRopeDim(); }
  }];
}

def LLM_QuantWeightType : LLM_Type<"QuantWeight", "qweight"> {
  let summary = "a weight stored quantized: low-precision values with block scales";
  let description = [{
    A weight of logical shape `shape` (as the dense tensor it stands for,
    `[out, in]` for a linear layer) stored as `storage` values, each block
    of `block` elements (one extent per dimension; the last block of a
    dimension may be partial) sharing one `scale` and, for the integer
    formats with an offset, one `zero` point. The value of element i is

        (stored[i] - zero[block(i)]) * scale[block(i)]

    (without `zero`: stored[i] * scale[block(i)]), computed in fp32, which
    is what the kernels read and dequantize in registers: the IR never
    expands a quantized weight to its dense form. The scales form a tensor
    of shape ceil(shape / block) (getScaleShape()), as do the zero points.

    The encodings of the shipped checkpoint formats:

    | format | storage | block | scale | zero |
    |---|---|---|---|---|
    | FP8 block (DeepSeek V3, Qwen3-FP8) | f8E4M3FN | [128, 128] | f32 (`weight_scale_inv`) | |
    | FP8 per tensor / per channel | f8E4M3FN | [out, in] / [1, in] | f32 | |
    | MXFP4 (gpt-oss experts) | f4E2M1FN | [1, 32] | f8E8M0FNU (2^(e - 127)) | |
    | INT4 group, symmetric (compressed-tensors, GPTQ sym) | i4 | [1, 128] | bf16 / f16 | |
    | INT4 group with zero points (AWQ, GPTQ asym) | i4 | [1, 128] | f16 | i4 |
    | INT8 per channel | i8 | [1, in] | f32 / bf16 | |

    Integer storage is signed two's complement (i4: -8..7, i8: -128..127);
    formats that ship unsigned values (AWQ's and GPTQ's 0..15 with a zero
    point) are re-based by the frontend's weight recipe. The plan stores the
    values row-major and densely packed, two 4-bit values per byte (the
    lower-indexed one in the low nibble), whatever the checkpoint's packing.

    ```mlir
    !llm.qweight<shape = [2048, 2048], storage = f8E4M3FN, block = [128, 128], scale = f32>
    !llm.qweight<shape = [4096, 4096], storage = i4, block = [1, 128], scale = f16, zero = i4>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t">:$shape,
    "::mlir::Type":$storage,
    ArrayRefParameter<"int64_t">:$block,
    "::mlir::Type":$scale,
    OptionalParameter<"::mlir::Type">:$zero
  );
  let assemblyFormat = [{
    `<` `shape` `=` `[` $shape `]` `,` `storage` `=` $storage `,`
    `block` `=` `[` $block `]` `,` `scale` `=` $scale
    (`,` `zero` `=` $zero^)? `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// ceil(shape / block): the shape of the scales and zero points.
    ::llvm::SmallVector<int64_t> getScaleShape() const;
    /// Elements of the logical weight.
    int64_t getNumElements() const;
    /// Bits of one stored value: 4 or 8.
    unsigned getStorageBits() const;
    /// Bytes of the packed values (a 4-bit row of odd length is padded to
    /// a whole byte).
    uint64_t getStorageBytes() const;
  }];
}

#endif // LLMC_DIALECTS_LLM_IR_LLMTYPES_TD
