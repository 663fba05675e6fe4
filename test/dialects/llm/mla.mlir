// RUN: llmc-opt %s | llmc-opt | FileCheck %s --check-prefix=ROUND
// RUN: llmc-opt %s --llm-absorb-mla | FileCheck %s --check-prefixes=DEFAULT
// RUN: llmc-opt %s --llm-absorb-mla=steps=all | FileCheck %s --check-prefixes=ALL
// RUN: llmc-opt %s --llm-absorb-mla=steps=none | FileCheck %s --check-prefixes=NONE
// RUN: not llmc-opt %s --llm-absorb-mla=steps=prefill 2>&1 | FileCheck %s --check-prefix=BADSTEPS

// One DeepSeek-V3-style MLA layer (latent 32, rope 16, nope 16, v 24, 4
// heads) in a prefill and a decode function. The ops round-trip; the
// absorption pass rewrites mla_attention into the latent-space form in
// decode by default, in both with steps=all, in neither with steps=none.

!cache = !llm.latent_cache<latent_dim = 32, rope_dim = 16, dtype = bf16>

func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %slots: tensor<?xi32>, %c0: !cache, %x: tensor<?x64xbf16>) -> (tensor<?x64xbf16>, !cache) attributes {llm.step = #llm.step<prefill>} {
  %y, %c1 = call @layer(%pos, %slots, %c0, %x) : (tensor<?xi32>, tensor<?xi32>, !cache, tensor<?x64xbf16>) -> (tensor<?x64xbf16>, !cache)
  return %y, %c1 : tensor<?x64xbf16>, !cache
}

// ROUND-LABEL: func.func private @layer
// ROUND: llm.rope <default, theta = 10000.0, dim = 16, layout = interleaved> %{{.+}}, %{{.+}} offset 16 : tensor<?x4x32xbf16>
// ROUND: llm.latent_cache_write %{{.+}}, %{{.+}} into %{{.+}} at %{{.+}}, %{{.+}} rope <default, theta = 10000.0, dim = 16, layout = interleaved> eps 1.0e-06 : tensor<?x48xbf16>, tensor<32xbf16>, <latent_dim = 32, rope_dim = 16, dtype = bf16>
// ROUND: llm.mla_attention %{{.+}}, %{{.+}}, %{{.+}} at %{{.+}}, %{{.+}} scale 0.22919 : tensor<?x4x32xbf16>, <latent_dim = 32, rope_dim = 16, dtype = bf16>, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
// ROUND: llm.rope {{.+}} offset 16 fp32 : tensor<?x4x32xbf16>
// ROUND: llm.mla_absorb_query %{{.+}}, %{{.+}} : tensor<?x4x32xbf16>, tensor<160x32xbf16> -> tensor<?x4x48xf32>
// ROUND: llm.latent_attention %{{.+}}, %{{.+}} at %{{.+}}, %{{.+}} scale 0.22919 : tensor<?x4x48xf32>, <latent_dim = 32, rope_dim = 16, dtype = bf16> -> tensor<?x4x32xf32>
// ROUND: llm.mla_absorb_output %{{.+}}, %{{.+}} : tensor<?x4x32xf32>, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
func.func private @layer(%pos: tensor<?xi32>, %slots: tensor<?xi32>, %c0: !cache, %x: tensor<?x64xbf16>) -> (tensor<?x64xbf16>, !cache) {
  %wq = llm.param "q_b_proj.weight" : tensor<128x64xbf16>
  %q = llm.linear %x, %wq : tensor<?x64xbf16>, tensor<128x64xbf16> -> tensor<?x128xbf16>
  %q3 = llm.split_heads %q : tensor<?x128xbf16> -> tensor<?x4x32xbf16>
  %qr = llm.rope #llm.rope<default, theta = 10000.0, dim = 16, layout = interleaved> %q3, %pos offset 16 : tensor<?x4x32xbf16>
  %wkv = llm.param "kv_a_proj_with_mqa.weight" : tensor<48x64xbf16>
  %kv = llm.linear %x, %wkv : tensor<?x64xbf16>, tensor<48x64xbf16> -> tensor<?x48xbf16>
  %n = llm.param "kv_a_layernorm.weight" : tensor<32xbf16>
  %c1 = llm.latent_cache_write %kv, %n into %c0 at %slots, %pos rope #llm.rope<default, theta = 10000.0, dim = 16, layout = interleaved> eps 1.0e-06 : tensor<?x48xbf16>, tensor<32xbf16>, !cache
  %kvb = llm.param "kv_b_proj.weight" : tensor<160x32xbf16>
  %a = llm.mla_attention %qr, %c1, %kvb at %slots, %pos scale 0.22919 : tensor<?x4x32xbf16>, !cache, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
  // The absorbed ops (as the pass writes them) and an fp32 rope round-trip too.
  %qf = llm.rope #llm.rope<default, theta = 10000.0, dim = 16, layout = interleaved> %q3, %pos offset 16 fp32 : tensor<?x4x32xbf16>
  %ql = llm.mla_absorb_query %qf, %kvb : tensor<?x4x32xbf16>, tensor<160x32xbf16> -> tensor<?x4x48xf32>
  %ol = llm.latent_attention %ql, %c1 at %slots, %pos scale 0.22919 : tensor<?x4x48xf32>, !cache -> tensor<?x4x32xf32>
  %o2 = llm.mla_absorb_output %ol, %kvb : tensor<?x4x32xf32>, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
  %s = llm.add %a, %o2 : tensor<?x4x24xbf16>
  %a2 = llm.merge_heads %s : tensor<?x4x24xbf16> -> tensor<?x96xbf16>
  %wo = llm.param "o_proj.weight" : tensor<64x96xbf16>
  %o = llm.linear %a2, %wo : tensor<?x96xbf16>, tensor<64x96xbf16> -> tensor<?x64xbf16>
  return %o, %c1 : tensor<?x64xbf16>, !cache
}

// The step functions hold the attention itself.
// DEFAULT-LABEL: func.func @attend_prefill
// DEFAULT: llm.mla_attention
// DEFAULT-LABEL: func.func @attend_decode
// DEFAULT-NOT: llm.mla_attention
// DEFAULT: %[[QL:.+]] = llm.mla_absorb_query %arg0, %arg3 : tensor<?x4x32xbf16>, tensor<160x32xbf16> -> tensor<?x4x48xf32>
// DEFAULT: %[[OL:.+]] = llm.latent_attention %[[QL]], %arg2 at %arg4, %arg5 scale 0.22919 : tensor<?x4x48xf32>, <latent_dim = 32, rope_dim = 16, dtype = bf16> -> tensor<?x4x32xf32>
// DEFAULT: %[[O:.+]] = llm.mla_absorb_output %[[OL]], %arg3 : tensor<?x4x32xf32>, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
// DEFAULT: return %[[O]]
// ALL-LABEL: func.func @attend_prefill
// ALL-NOT: llm.mla_attention
// ALL: llm.latent_attention
// ALL-LABEL: func.func @attend_decode
// ALL-NOT: llm.mla_attention
// ALL: llm.latent_attention
// NONE-LABEL: func.func @attend_prefill
// NONE: llm.mla_attention
// NONE-LABEL: func.func @attend_decode
// NONE: llm.mla_attention
// NONE-NOT: llm.latent_attention
// BADSTEPS: llm-absorb-mla: steps must be decode, all or none, got 'prefill'
func.func @attend_prefill(%q: tensor<?x4x32xbf16>, %x: tensor<?x64xbf16>, %c: !cache, %kvb: tensor<160x32xbf16>, %slots: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4x24xbf16> attributes {llm.step = #llm.step<prefill>} {
  %a = llm.mla_attention %q, %c, %kvb at %slots, %pos scale 0.22919 : tensor<?x4x32xbf16>, !cache, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
  return %a : tensor<?x4x24xbf16>
}
func.func @attend_decode(%q: tensor<?x4x32xbf16>, %x: tensor<?x64xbf16>, %c: !cache, %kvb: tensor<160x32xbf16>, %slots: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4x24xbf16> attributes {llm.step = #llm.step<decode>} {
  %a = llm.mla_attention %q, %c, %kvb at %slots, %pos scale 0.22919 : tensor<?x4x32xbf16>, !cache, tensor<160x32xbf16> -> tensor<?x4x24xbf16>
  return %a : tensor<?x4x24xbf16>
}
