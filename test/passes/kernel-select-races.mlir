// RUN: llmc-opt %s --pass-pipeline="builtin.module(kernel-select{max-seq-len=512})" | FileCheck %s --check-prefix=RACE --enable-var-scope

// Memory planned by hand: K's output shares bytes with x. Running the two
// projections at once could then change a result, so each gets its own
// GEMV; the same holds for a norm pair whose outputs overlap.
// RACE-LABEL: func.func @races
// RACE: kernel.launch "q_proj+k_proj"
// RACE-NOT: gemv_multi
// RACE: kernel.call @gemv({{.*}}entry = "linear_gemv_n64_k64_f32_f32_f32"
// RACE: kernel.call @gemv({{.*}}entry = "linear_gemv_n64_k64_f32_f32_f32"
// RACE: kernel.launch "norms"
// RACE-NOT: rms_norm_pair
// RACE: kernel.call @rms_norm({{.*}}entry = "rms_norm_s16_g4_var3_f32_none_f32"
// RACE: kernel.call @rms_norm({{.*}}entry = "rms_norm_s16_g4_var3_f32_none_f32"
func.func @races(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>) -> tensor<?x64xf32> attributes {kernel.arena_bytes = 4096 : i64, kernel.max_tokens = 4 : i64} {
  %e = llm.param "embed" : tensor<80x64xf32>
  %w = llm.param "w" : tensor<64x64xf32>
  %x = kernel.launch "embed"(%tokens, %e) : (tensor<?xi32>, tensor<80x64xf32>) -> tensor<?x64xf32> attributes {kernel.offsets = array<i64: 0>} {
  ^bb0(%t: tensor<?xi32>, %t2: tensor<80x64xf32>):
    %0 = llm.embedding %t, %t2 {kernel.offsets = array<i64: 0>} : tensor<80x64xf32> -> tensor<?x64xf32>
    kernel.yield %0 : tensor<?x64xf32>
  }
  %q:2 = kernel.launch "q_proj+k_proj"(%x, %w) : (tensor<?x64xf32>, tensor<64x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) attributes {kernel.offsets = array<i64: 1024, 0>} {
  ^bb0(%a: tensor<?x64xf32>, %b: tensor<64x64xf32>):
    %0 = llm.linear %a, %b {kernel.offsets = array<i64: 1024>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %1 = llm.linear %a, %b {kernel.offsets = array<i64: 0>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    kernel.yield %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
  }
  %n = kernel.launch "norms"(%q#0, %q#1) : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32> attributes {kernel.offsets = array<i64: 2048>} {
  ^bb0(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>):
    %0 = llm.split_heads %a {kernel.offsets = array<i64: 1024>} : tensor<?x64xf32> -> tensor<?x4x16xf32>
    %1 = llm.split_heads %b {kernel.offsets = array<i64: 0>} : tensor<?x64xf32> -> tensor<?x4x16xf32>
    %2 = llm.rms_norm no_weight %0 eps 1.0e-06 {kernel.offsets = array<i64: 2048>} : tensor<?x4x16xf32>
    %3 = llm.rms_norm no_weight %1 eps 1.0e-06 {kernel.offsets = array<i64: 2048>} : tensor<?x4x16xf32>
    %4 = llm.merge_heads %3 {kernel.offsets = array<i64: 2048>} : tensor<?x4x16xf32> -> tensor<?x64xf32>
    kernel.yield %4 : tensor<?x64xf32>
  }
  return %n : tensor<?x64xf32>
}
