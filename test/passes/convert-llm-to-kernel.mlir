// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-llm-to-kernel))' | FileCheck %s --enable-var-scope

// One attention block: Q/K/V share a launch with their head split, RoPE and
// the cache write; attention takes the head merge; the residual add joins
// o_proj's launch; weights become operands and move to the top.
// CHECK-LABEL: func.func @attention_block
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x64xf32>, %[[POS:[^:]+]]: tensor<?xi32>, %[[SLOTS:[^:]+]]: tensor<?xi32>, %[[C:[^:]+]]: !llm.kv_cache
func.func @attention_block(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>) -> (tensor<?x64xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>) {
  // CHECK-DAG: %[[WQ:.+]] = llm.param "q.weight"
  // CHECK-DAG: %[[WK:.+]] = llm.param "k.weight"
  // CHECK-DAG: %[[WV:.+]] = llm.param "v.weight"
  // CHECK-DAG: %[[WO:.+]] = llm.param "o.weight"
  // CHECK: %[[QKV:.+]]:2 = kernel.launch "attn.q_proj+k_proj+v_proj"(%[[X]], %[[WQ]], %[[WK]], %[[WV]], %[[POS]], %[[C]], %[[SLOTS]])
  // CHECK: ^bb0(%[[BX:[^:]+]]: tensor<?x64xf32>, %[[BWQ:[^:]+]]: tensor<64x64xf32>, %[[BWK:[^:]+]]: tensor<32x64xf32>, %[[BWV:[^:]+]]: tensor<32x64xf32>, %[[BPOS:[^:]+]]: tensor<?xi32>, %[[BC:[^:]+]]: !llm.kv_cache{{.*}}, %[[BSLOTS:[^:]+]]: tensor<?xi32>):
  // CHECK: %[[Q:.+]] = llm.linear %[[BX]], %[[BWQ]]
  // CHECK: %[[K:.+]] = llm.linear %[[BX]], %[[BWK]]
  // CHECK: %[[V:.+]] = llm.linear %[[BX]], %[[BWV]]
  // CHECK: %[[QH:.+]] = llm.split_heads %[[Q]]
  // CHECK: %[[KH:.+]] = llm.split_heads %[[K]]
  // CHECK: %[[VH:.+]] = llm.split_heads %[[V]]
  // CHECK: %[[QR:.+]] = llm.rope {{.*}} %[[QH]], %[[BPOS]]
  // CHECK: %[[KR:.+]] = llm.rope {{.*}} %[[KH]], %[[BPOS]]
  // CHECK: %[[C1:.+]] = llm.kv_cache_write %[[KR]], %[[VH]] into %[[BC]] at %[[BSLOTS]], %[[BPOS]]
  // CHECK: kernel.yield %[[QR]], %[[C1]]
  // CHECK: %[[A:.+]] = kernel.launch "attn"(%[[QKV]]#0, %[[QKV]]#1, %[[SLOTS]], %[[POS]])
  // CHECK: llm.attention
  // CHECK: llm.merge_heads
  // CHECK: kernel.yield
  // CHECK: %[[H:.+]] = kernel.launch "attn.o_proj"(%[[A]], %[[WO]], %[[X]])
  // CHECK: llm.linear
  // CHECK: llm.add
  // CHECK: kernel.yield
  // CHECK: return %[[H]], %[[QKV]]#1
  %wq = llm.param "q.weight" : tensor<64x64xf32>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("attn.q_proj")
  %wk = llm.param "k.weight" : tensor<32x64xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32> loc("attn.k_proj")
  %wv = llm.param "v.weight" : tensor<32x64xf32>
  %v = llm.linear %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32> loc("attn.v_proj")
  %qh = llm.split_heads %q : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %kh = llm.split_heads %k : tensor<?x32xf32> -> tensor<?x2x16xf32>
  %vh = llm.split_heads %v : tensor<?x32xf32> -> tensor<?x2x16xf32>
  %qr = llm.rope #llm.rope<default, theta = 10000.0, dim = 16> %qh, %pos : tensor<?x4x16xf32>
  %kr = llm.rope #llm.rope<default, theta = 10000.0, dim = 16> %kh, %pos : tensor<?x2x16xf32>
  %c1 = llm.kv_cache_write %kr, %vh into %c at %slots, %pos : tensor<?x2x16xf32>, tensor<?x2x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>
  %a = llm.attention %qr, %c1 at %slots, %pos scale 0.25 : tensor<?x4x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32> -> tensor<?x4x16xf32> loc("attn")
  %am = llm.merge_heads %a : tensor<?x4x16xf32> -> tensor<?x64xf32>
  %wo = llm.param "o.weight" : tensor<64x64xf32>
  %o = llm.linear %am, %wo : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("attn.o_proj")
  %h = llm.add %x, %o : tensor<?x64xf32> loc("residual")
  return %h, %c1 : tensor<?x64xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>
}

// -----

// A per-head norm (rank 3) is an epilogue; a norm of the hidden state starts
// its own launch; a fused op's name lists the modules it came from.
// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> (tensor<?x4x16xf32>, tensor<?x64xf32>) {
  // CHECK: kernel.launch "layer.residual+post_attention_layernorm"
  // CHECK-NEXT: ^bb0
  // CHECK-NEXT: llm.add_rms_norm
  // CHECK-NEXT: kernel.yield
  // CHECK: kernel.launch "layer.q_proj"
  // CHECK: llm.linear
  // CHECK: llm.split_heads
  // CHECK: llm.rms_norm cast_before_weight {{.*}} : tensor<?x4x16xf32>
  // CHECK: kernel.yield
  %w = llm.param "norm.weight" : tensor<64xf32>
  %n, %s = llm.add_rms_norm cast_before_weight %x, %r, %w eps 1.0e-06 : tensor<?x64xf32>, tensor<64xf32> loc(fused["layer.residual", "layer.post_attention_layernorm"])
  %wq = llm.param "q.weight" : tensor<64x64xf32>
  %q = llm.linear %n, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("layer.q_proj")
  %qh = llm.split_heads %q : tensor<?x64xf32> -> tensor<?x4x16xf32>
  %qw = llm.param "q_norm.weight" : tensor<16xf32>
  %qn = llm.rms_norm cast_before_weight %qh, %qw eps 1.0e-06 : tensor<?x4x16xf32>, tensor<16xf32>
  return %qn, %s : tensor<?x4x16xf32>, tensor<?x64xf32>
}

// -----

// Projections of different inputs get a launch each; a light op whose inputs
// come only from older launches gets its own, and later light ops join it.
// CHECK-LABEL: func.func @separate
func.func @separate(%x: tensor<?x64xf32>, %y: tensor<?x64xf32>) -> tensor<?x64xf32> {
  // CHECK: %[[A:.+]] = kernel.launch "a"
  // CHECK: %[[B:.+]] = kernel.launch "b"
  // CHECK-NEXT: ^bb0
  // CHECK-NEXT: llm.linear
  // CHECK-NEXT: kernel.yield
  // CHECK: kernel.launch "cap"(%[[A]], %[[B]])
  // CHECK-NEXT: ^bb0
  // CHECK-NEXT: llm.softcap
  // CHECK-NEXT: llm.add
  // CHECK-NEXT: kernel.yield
  %w = llm.param "w" : tensor<64x64xf32>
  %a = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("a")
  %b = llm.linear %y, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32> loc("b")
  %c = llm.softcap %a cap 30.0 : tensor<?x64xf32> loc("cap")
  %s = llm.add %c, %b : tensor<?x64xf32> loc("sum")
  return %s : tensor<?x64xf32>
}

// -----

// Modules of different parents keep their full names in a launch name.
// CHECK-LABEL: func.func @layer_boundary
// CHECK: kernel.launch "model.layers.0.residual+model.layers.1.input_layernorm"
func.func @layer_boundary(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = llm.param "norm.weight" : tensor<64xf32>
  %n, %s = llm.add_rms_norm cast_before_weight %x, %r, %w eps 1.0e-06 : tensor<?x64xf32>, tensor<64xf32> loc(fused["model.layers.0.residual", "model.layers.1.input_layernorm"])
  return %n, %s : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// A view never makes a launch of its own: the merge of the first attention's
// heads, met after the second attention, moves into the first attention's
// launch; the add joins the second's.
// CHECK-LABEL: func.func @views_join_their_producer
// CHECK: kernel.launch "attn_a"
// CHECK: llm.attention
// CHECK-NEXT: llm.merge_heads
// CHECK: kernel.launch "attn_b"
// CHECK: llm.attention
// CHECK-NEXT: llm.merge_heads
// CHECK-NEXT: llm.add
// CHECK-NOT: kernel.launch
func.func @views_join_their_producer(%q: tensor<?x4x16xf32>, %c: !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32>, %slots: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  %a = llm.attention %q, %c at %slots, %pos scale 0.25 : tensor<?x4x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32> -> tensor<?x4x16xf32> loc("attn_a")
  %b = llm.attention %q, %c at %slots, %pos scale 0.5 : tensor<?x4x16xf32>, !llm.kv_cache<kv_heads = 2, head_dim = 16, dtype = f32> -> tensor<?x4x16xf32> loc("attn_b")
  %am = llm.merge_heads %a : tensor<?x4x16xf32> -> tensor<?x64xf32>
  %bm = llm.merge_heads %b : tensor<?x4x16xf32> -> tensor<?x64xf32>
  %s = llm.add %am, %bm : tensor<?x64xf32>
  return %s : tensor<?x64xf32>
}
