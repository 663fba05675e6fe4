// RUN: llmc-opt %s --split-input-file | llmc-opt --split-input-file | FileCheck %s --enable-var-scope
//
// Quantized weights (!llm.qweight): the encodings of the shipped formats
// round-trip, params name their scales (and zero points), and llm.linear
// takes them with the logical [out, in] shape.

// CHECK-LABEL: func.func @formats
// CHECK-SAME: !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>
// CHECK-SAME: !llm.qweight<shape = [64, 96], storage = f4E2M1FN, block = [1, 32], scale = f8E8M0FNU>
// CHECK-SAME: !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4>
// CHECK-SAME: !llm.qweight<shape = [64, 256], storage = i8, block = [1, 256], scale = bf16>
// CHECK-SAME: !llm.qweight<shape = [8, 64, 96], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>
func.func @formats(
    %a: !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>,
    %b: !llm.qweight<shape = [64, 96], storage = f4E2M1FN, block = [1, 32], scale = f8E8M0FNU>,
    %c: !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4>,
    %d: !llm.qweight<shape = [64, 256], storage = i8, block = [1, 256], scale = bf16>,
    %e: !llm.qweight<shape = [8, 64, 96], storage = f4E2M1FN, block = [1, 1, 32], scale = f8E8M0FNU>) {
  return
}

// -----

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x384xbf16>) -> tensor<?x256xbf16> {
  // CHECK: llm.param "q_proj.weight" scales "q_proj.weight_scale_inv" : !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>
  %w = llm.param "q_proj.weight" scales "q_proj.weight_scale_inv" : !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>
  // CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x384xbf16>, !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32> -> tensor<?x256xbf16>
  %y = llm.linear %x, %w : tensor<?x384xbf16>, !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32> -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// CHECK-LABEL: func.func @zeros
func.func @zeros(%x: tensor<?x256xf16>) -> tensor<?x64xf16> {
  // CHECK: llm.param "o.qweight" scales "o.scales" zeros "o.qzeros" : !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4>
  %w = llm.param "o.qweight" scales "o.scales" zeros "o.qzeros" : !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4>
  %y = llm.linear %x, %w : tensor<?x256xf16>, !llm.qweight<shape = [64, 256], storage = i4, block = [1, 128], scale = f16, zero = i4> -> tensor<?x64xf16>
  return %y : tensor<?x64xf16>
}
