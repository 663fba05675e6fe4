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
  // expected-error @+1 {{quantized weight 'e': stacked, rows, transposed and interleaved are not supported for quantized weights yet}}
  %w = llm.param "e" stacked ["e.0", "e.1"] scales "s" : !llm.qweight<shape = [2, 64, 64], storage = i8, block = [1, 1, 64], scale = f32>
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
