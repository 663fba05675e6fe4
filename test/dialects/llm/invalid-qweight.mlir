// RUN: llmc-opt %s --split-input-file --verify-diagnostics
//
// What !llm.qweight and the params and ops that carry it refuse.

// expected-error @+1 {{block must have one extent per dimension of the shape (2), got 1}}
func.func @block_rank(%a: !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128], scale = f32>)

// -----

// expected-error @+1 {{block extent 512 of dimension 1 must be in [1, 384]}}
func.func @block_extent(%a: !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 512], scale = f32>)

// -----

// expected-error @+1 {{shape must have at least 2 dimensions, got 1}}
func.func @rank1(%a: !llm.qweight<shape = [256], storage = i8, block = [256], scale = f32>)

// -----

// expected-error @+1 {{storage must be f8E4M3FN, f8E5M2, f4E2M1FN, i4 or i8, got 'bf16'}}
func.func @storage(%a: !llm.qweight<shape = [64, 64], storage = bf16, block = [1, 32], scale = f32>)

// -----

// expected-error @+1 {{scale must be f32, bf16, f16 or f8E8M0FNU, got 'i8'}}
func.func @scale(%a: !llm.qweight<shape = [64, 64], storage = i8, block = [1, 32], scale = i8>)

// -----

// expected-error @+1 {{f8E8M0FNU scales are MXFP4's: storage must be f4E2M1FN, got 'f8E4M3FN'}}
func.func @e8m0(%a: !llm.qweight<shape = [64, 64], storage = f8E4M3FN, block = [1, 32], scale = f8E8M0FNU>)

// -----

// expected-error @+1 {{zero points need integer storage, got 'f8E4M3FN'}}
func.func @zero_float(%a: !llm.qweight<shape = [64, 64], storage = f8E4M3FN, block = [1, 32], scale = f32, zero = i4>)

// -----

func.func @no_scales() {
  // expected-error @+1 {{quantized weight 'w' needs its scale tensor (scales "name")}}
  %w = llm.param "w" : !llm.qweight<shape = [64, 64], storage = i8, block = [1, 64], scale = f32>
  return
}

// -----

func.func @missing_zeros() {
  // expected-error @+1 {{quantized weight 'w' has zero points ('i4') but names no zeros tensor}}
  %w = llm.param "w" scales "s" : !llm.qweight<shape = [64, 64], storage = i4, block = [1, 32], scale = f16, zero = i4>
  return
}

// -----

func.func @stray_zeros() {
  // expected-error @+1 {{quantized weight 'w' has no zero points in its type but names a zeros tensor}}
  %w = llm.param "w" scales "s" zeros "z" : !llm.qweight<shape = [64, 64], storage = i4, block = [1, 32], scale = f16>
  return
}

// -----

func.func @dense_scales() {
  // expected-error @+1 {{weight 'w' is not quantized: scales and zeros need an !llm.qweight type}}
  %w = llm.param "w" scales "s" : tensor<64x64xbf16>
  return
}

// -----

func.func @stacked() {
  // expected-error @+1 {{stacked quantized weight 'e' needs one scale tensor per part (scale_parts)}}
  %w = llm.param "e" stacked ["e.0", "e.1"] scales "s" : !llm.qweight<shape = [2, 64, 64], storage = i8, block = [1, 1, 64], scale = f32>
  return
}

// -----

// Gate and up rows of 48 stacked per expert cannot share 32-row blocks.
func.func @stacked_blocks() {
  // expected-error @+1 {{stacked quantized weight 'gu': 4 parts of 192 rows are not whole blocks of 32 rows each}}
  %w = llm.param "gu" stacked ["g.0", "u.0", "g.1", "u.1"] scales "s" scale_parts ["gs.0", "us.0", "gs.1", "us.1"] : !llm.qweight<shape = [2, 96, 64], storage = f8E4M3FN, block = [1, 32, 64], scale = f32>
  return
}

// -----

func.func @rows_quantized() {
  // expected-error @+1 {{quantized weight 'r': rows and transposed are not supported for quantized weights}}
  %w = llm.param "r" stacked ["qkv"] rows [0, 128] scales "s" : !llm.qweight<shape = [64, 64], storage = i8, block = [1, 64], scale = f32>
  return
}

// -----

// Interleaved rows carry their scales only with blocks of one row.
func.func @interleaved_blocks() {
  // expected-error @+1 {{interleaved quantized weight 'i' must be one checkpoint tensor with blocks of one row along an even dimension 1}}
  %w = llm.param "i" interleaved scales "s" : !llm.qweight<shape = [2, 64, 64], storage = f8E4M3FN, block = [1, 2, 64], scale = f32>
  return
}

// -----

// Quantized experts: both weights alike, blocks within one expert.
func.func @experts_alike(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>) {
  %gu = llm.param "gu" scales "gs" : !llm.qweight<shape = [4, 64, 64], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>
  %d = llm.param "d" : tensor<4x64x32xf32>
  // expected-error @+1 {{gate_up and down must be quantized alike}}
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %d : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !llm.qweight<shape = [4, 64, 64], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>, tensor<4x64x32xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @experts_blocks(%x: tensor<?x64xf32>, %w: tensor<?x2xf32>, %ids: tensor<?x2xi32>) {
  %gu = llm.param "gu" scales "gs" : !llm.qweight<shape = [4, 64, 64], storage = f8E4M3FN, block = [2, 64, 64], scale = f32>
  %d = llm.param "d" scales "ds" : !llm.qweight<shape = [4, 64, 32], storage = f8E4M3FN, block = [2, 64, 32], scale = f32>
  // expected-error @+1 {{a quantized expert weight's blocks lie within one expert}}
  %y = llm.moe_experts silu %x, %w, %ids, %gu, %d : tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, !llm.qweight<shape = [4, 64, 64], storage = f8E4M3FN, block = [2, 64, 64], scale = f32>, !llm.qweight<shape = [4, 64, 32], storage = f8E4M3FN, block = [2, 64, 32], scale = f32> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_shape(%x: tensor<?x128xbf16>) {
  %w = llm.param "w" scales "s" : !llm.qweight<shape = [64, 256], storage = i8, block = [1, 256], scale = f32>
  // expected-error @+1 {{input has 128 features but the weight expects 256}}
  %y = llm.linear %x, %w : tensor<?x128xbf16>, !llm.qweight<shape = [64, 256], storage = i8, block = [1, 256], scale = f32> -> tensor<?x64xbf16>
  return
}

// -----

func.func @gated(%x: tensor<?x64xbf16>) {
  %w = llm.param "w" scales "s" : !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32>
  // expected-error @+1 {{invalid kind of type specified: expected builtin.tensor}}
  %m = llm.gated_linear silu %x, %w, %w : tensor<?x64xbf16>, !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32>, !llm.qweight<shape = [96, 64], storage = i8, block = [1, 64], scale = f32> -> tensor<?x96xbf16>
  return
}
