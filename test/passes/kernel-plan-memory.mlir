// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-llm-to-kernel, kernel-plan-memory{max-tokens=4}))' | FileCheck %s --enable-var-scope
// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-llm-to-kernel, kernel-plan-memory{max-tokens=4 alignment=4096}))' | FileCheck %s --check-prefix=ALIGN

// A chain of projections: each buffer is max-tokens x 64 x 4 bytes = 1 KiB.
// %c can take %a's bytes (dead once %b is computed), never %b's.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: attributes {kernel.arena_bytes = 2048 : i64, kernel.max_tokens = 4 : i64}
// CHECK: kernel.launch "a"{{.*}} attributes {kernel.offsets = array<i64: 0>}
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: 0>
// CHECK: kernel.launch "b"{{.*}} attributes {kernel.offsets = array<i64: 1024>}
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: 1024>
// CHECK: kernel.launch "c"{{.*}} attributes {kernel.offsets = array<i64: 0>}
// ALIGN-LABEL: func.func @chain
// ALIGN-SAME: kernel.arena_bytes = 8192 : i64
// ALIGN: kernel.launch "b"{{.*}} attributes {kernel.offsets = array<i64: 4096>}
func.func @chain(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %a = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("a")
  %b = llm.linear %a, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("b")
  %c = llm.linear %b, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("c")
  return %c : tensor<?x64xf32>
}

// -----

// Views share their source's bytes; the cache is not in the arena (-1); an
// op never writes over an input it reads (the output of %o is placed apart
// from the attention output it consumes, though that one dies there).
// CHECK-LABEL: func.func @views_and_caches
// CHECK: %[[QKV:.+]]:2 = kernel.launch "q_proj+k_proj+v_proj"{{.*}} attributes {kernel.offsets = array<i64: [[Q:[0-9]+]], -1>}
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: [[Q]]>
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: [[K:[0-9]+]]>
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: [[V:[0-9]+]]>
// CHECK: llm.split_heads {{.*}}kernel.offsets = array<i64: [[Q]]>
// CHECK: llm.split_heads {{.*}}kernel.offsets = array<i64: [[K]]>
// CHECK: llm.split_heads {{.*}}kernel.offsets = array<i64: [[V]]>
// CHECK: llm.kv_cache_write {{.*}}kernel.offsets = array<i64: -1>
// CHECK: kernel.launch "attn"{{.*}} attributes {kernel.offsets = array<i64: [[A:[0-9]+]]>}
// CHECK: llm.attention {{.*}}kernel.offsets = array<i64: [[A]]>
// CHECK: llm.merge_heads {{.*}}kernel.offsets = array<i64: [[A]]>
// CHECK: kernel.launch "o_proj"{{.*}} attributes {kernel.offsets = array<i64: [[O:[0-9]+]]>}
// CHECK-NOT: kernel.offsets = array<i64: [[A]]>
// CHECK: return
func.func @views_and_caches(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>) -> (tensor<?x64xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>) {
  %wq = llm.param "q.weight" : tensor<64x64xf32>
  %wk = llm.param "k.weight" : tensor<32x64xf32>
  %wv = llm.param "v.weight" : tensor<32x64xf32>
  %wo = llm.param "o.weight" : tensor<64x64xf32>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("q_proj")
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32> loc("k_proj")
  %v = llm.linear %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32> loc("v_proj")
  %qh = llm.split_heads %q : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %kh = llm.split_heads %k : tensor<?x32xf32> -> tensor<?x2x16xf32>
  %vh = llm.split_heads %v : tensor<?x32xf32> -> tensor<?x2x16xf32>
  %c1 = llm.kv_cache_write %kh, %vh into %c at %slots, %pos : tensor<?x2x16xf32>, tensor<?x2x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>
  %a = llm.attention %qh, %c1 at %slots, %pos scale 0.25 : tensor<?x4x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32> -> tensor<?x4x16xf32> loc("attn")
  %am = llm.merge_heads %a : tensor<?x4x16xf32> -> tensor<?x64xf32>
  %o = llm.linear %am, %wo : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("o_proj")
  return %o, %c1 : tensor<?x64xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>
}

// -----

// A launch reads its operands through block arguments: the input of sibling
// projections stays live until the last of them, so none of their outputs
// may take its bytes.
// CHECK-LABEL: func.func @siblings
// CHECK: kernel.launch "norm"{{.*}} attributes {kernel.offsets = array<i64: [[N:[0-9]+]]>}
// CHECK: kernel.launch "q_proj+k_proj"{{.*}} attributes {kernel.offsets = array<i64: [[Q:[0-9]+]], [[K:[0-9]+]]>}
// CHECK-NOT: kernel.offsets = array<i64: [[N]]>
// CHECK: return
func.func @siblings(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<64x64xf32>
  %nw = llm.param "nw" : tensor<64xf32>
  %n = llm.rms_norm cast_before_weight %x, %nw eps 1.0e-06 : tensor<?x64xf32>, tensor<64xf32> loc("norm")
  %q = llm.linear %n, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("q_proj")
  %k = llm.linear %n, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("k_proj")
  return %q, %k : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// Inside one launch no two values share bytes, even where program order
// would allow it: the code generator may run a launch's ops at once (here
// the two norms, as Qwen3's Q and K norms). %kn is defined after %q's last
// use and is not yielded, yet stays off %q's bytes.
// CHECK-LABEL: func.func @one_launch
// CHECK: kernel.launch "q_proj+k_proj"
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: [[Q:[0-9]+]]>
// CHECK: llm.linear {{.*}}kernel.offsets = array<i64: [[K:[0-9]+]]>
// CHECK: llm.rms_norm {{.*}}kernel.offsets = array<i64: [[QN:[0-9]+]]>
// CHECK-NOT: kernel.offsets = array<i64: [[Q]]>
// CHECK: kernel.yield
func.func @one_launch(%x: tensor<?x64xf32>) -> tensor<?x4x16xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %nw = llm.param "nw" : tensor<16xf32>
  %q = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("q_proj")
  %k = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("k_proj")
  %qh = llm.split_heads %q : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %kh = llm.split_heads %k : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %qn = llm.rms_norm cast_before_weight %qh, %nw eps 1.0e-06 : tensor<?x4x16xf32>, tensor<16xf32> loc("q_proj")
  %kn = llm.rms_norm cast_before_weight %kh, %nw eps 1.0e-06 : tensor<?x4x16xf32>, tensor<16xf32> loc("k_proj")
  %s = llm.add %qn, %kn : tensor<?x4x16xf32> loc("k_proj")
  return %s : tensor<?x4x16xf32>
}
