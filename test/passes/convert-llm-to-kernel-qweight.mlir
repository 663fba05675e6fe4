// RUN: not llmc-opt %s --pass-pipeline='builtin.module(func.func(convert-llm-to-kernel))' 2>&1 | FileCheck %s
//
// Quantized weights reach the IR but no backend's kernels read them yet:
// the conversion to launches says so, naming the weight, before any kernel
// is selected.

// CHECK: error: quantized weight 'q_proj.weight' ('!llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>'): no kernels for quantized weights yet, on any backend
func.func @prefill(%x: tensor<?x384xbf16>) -> tensor<?x256xbf16> {
  %w = llm.param "q_proj.weight" scales "q_proj.weight_scale_inv" : !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>
  %y = llm.linear %x, %w : tensor<?x384xbf16>, !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32> -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
