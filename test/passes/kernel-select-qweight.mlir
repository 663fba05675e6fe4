// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(convert-llm-to-kernel))' | FileCheck %s --check-prefix=LAUNCH
// RUN: not llmc-opt %s --kernel-lower="max-tokens=8 max-seq-len=16" 2>&1 | FileCheck %s
//
// A quantized weight is an operand of its launch like any other weight (the
// CPU backend runs the launch's llm ops), but no generated CUDA kernel reads
// one yet: kernel selection says so, naming the op and the encoding.

// LAUNCH: %[[W:.+]] = llm.param "q_proj.weight" scales "q_proj.weight_scale_inv" : !llm.qweight
// LAUNCH: kernel.launch "q_proj"(%{{.+}}, %[[W]])
// CHECK: error: loc("q_proj"): 'llm.linear' op has a quantized weight ('!llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>'): no generated CUDA kernel reads quantized weights yet; compile with --target cpu
func.func @prefill(%x: tensor<?x384xbf16>) -> tensor<?x256xbf16> attributes {llm.step = #llm.step<prefill>} {
  %w = llm.param "q_proj.weight" scales "q_proj.weight_scale_inv" : !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32>
  %y = llm.linear %x, %w : tensor<?x384xbf16>, !llm.qweight<shape = [256, 384], storage = f8E4M3FN, block = [128, 128], scale = f32> -> tensor<?x256xbf16> loc("q_proj")
  return %y : tensor<?x256xbf16>
}
