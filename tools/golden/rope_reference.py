#!/usr/bin/env python3
# RoPE inverse-frequency reference values, computed by Hugging Face transformers' own code.
#
# Generated with: transformers 5.23.0, torch 2.15.0+cu132 (run on CPU), Python 3.11.7.
#
# This is an offline generator, not part of the build or of CI: it needs torch and transformers
#   python3 -m venv /tmp/ropevenv && /tmp/ropevenv/bin/pip install torch transformers
#   /tmp/ropevenv/bin/python tools/golden/rope_reference.py
# and (re)writes test/unit/data/rope_reference.json, which is committed.
#
# How each value is obtained (transformers 5.x API):
#   * non-default rope types: transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS[rope_type](config, device="cpu")
#     (and seq_len=... for "dynamic");
#   * "default": in transformers 5.x "default" is no longer in ROPE_INIT_FUNCTIONS; the model's own
#     LlamaRotaryEmbedding.compute_default_rope_parameters(config) is used instead.
#   The config is a transformers LlamaConfig built with `rope_parameters` (the 5.x name of `rope_scaling`).
#   Every case is cross-checked against
#     (1) the LlamaRotaryEmbedding module itself (its inv_freq buffer / attention_scaling, and for "dynamic" the
#         buffer after a forward pass over positions 0..seq_len-1, i.e. the path a real forward takes), and
#     (2) an independent float64 evaluation of the formulas in shared/MODELS.md section 1.6,
#   and the maximum relative differences are printed (not stored).
#
# Output format: a JSON object {"transformers_version", "torch_version", "generator", "cases": [...]}; each case is
#   {"name", "config" (the config keys used), "inv_freq": [float32 values printed with 9 significant digits],
#    "inv_freq_f32_bits": [the same values as hex IEEE-754 binary32 bit patterns, for exact comparison],
#    "attention_scaling": float, "source": how it was computed}.

import json
import math
import os
import struct
import sys

import torch
import transformers
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_PATH = os.path.join(REPO_ROOT, "test", "unit", "data", "rope_reference.json")


def case(name, head_dim, num_heads, max_pos, rope_parameters, seq_len=None):
    cfg = {
        "hidden_size": head_dim * num_heads,
        "num_attention_heads": num_heads,
        "head_dim": head_dim,
        "max_position_embeddings": max_pos,
        "rope_parameters": rope_parameters,
    }
    if seq_len is not None:
        cfg["seq_len"] = seq_len
    return name, cfg


CASES = [
    # a. default
    case("default", 64, 32, 2048, {"rope_type": "default", "rope_theta": 10000.0}),
    # b. linear
    case("linear", 64, 32, 2048, {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}),
    # c. llama3 (Llama-3.2-1B values)
    case("llama3_hd64_llama3.2-1b", 64, 32, 131072,
         {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    # d. llama3 (Llama-3.1-8B values)
    case("llama3_hd128_llama3.1-8b", 128, 32, 131072,
         {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    # e. yarn, beta defaults (32 / 1), truncate default (true)
    case("yarn_default_betas", 64, 32, 16384,
         {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 4096}),
    # f. yarn, gpt-oss style (truncate false)
    case("yarn_gpt_oss_style", 64, 64, 131072,
         {"rope_type": "yarn", "rope_theta": 150000.0, "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
          "truncate": False, "original_max_position_embeddings": 4096}),
    # g. yarn with mscale / mscale_all_dim (deepseek style); max_position_embeddings = factor * original
    case("yarn_mscale", 64, 32, 163840,
         {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "mscale": 0.707, "mscale_all_dim": 0.707,
          "original_max_position_embeddings": 4096}),
    # h. dynamic NTK, evaluated beyond (4096) and within (1024) max_position_embeddings
    case("dynamic_seq4096", 64, 32, 2048, {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
         seq_len=4096),
    case("dynamic_seq1024", 64, 32, 2048, {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
         seq_len=1024),
]


def make_config(cfg):
    return LlamaConfig(
        hidden_size=cfg["hidden_size"],
        num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_attention_heads"],
        head_dim=cfg["head_dim"],
        max_position_embeddings=cfg["max_position_embeddings"],
        rope_parameters=dict(cfg["rope_parameters"]),
        num_hidden_layers=1,
        intermediate_size=64,
        vocab_size=16,
    )


def hf_init(cfg):
    """The transformers rope init function for this rope_type."""
    config = make_config(cfg)
    rope_type = config.rope_parameters["rope_type"]
    if rope_type == "default":
        inv, scale = LlamaRotaryEmbedding.compute_default_rope_parameters(config)
        src = "LlamaRotaryEmbedding.compute_default_rope_parameters(config)"
    elif rope_type == "dynamic":
        inv, scale = ROPE_INIT_FUNCTIONS[rope_type](config, device="cpu", seq_len=cfg["seq_len"])
        src = "ROPE_INIT_FUNCTIONS['dynamic'](config, device='cpu', seq_len=%d)" % cfg["seq_len"]
    else:
        inv, scale = ROPE_INIT_FUNCTIONS[rope_type](config, device="cpu")
        src = "ROPE_INIT_FUNCTIONS['%s'](config, device='cpu')" % rope_type
    assert inv.dtype == torch.float32, inv.dtype
    return inv, float(scale), src


def hf_module(cfg):
    """The LlamaRotaryEmbedding module (what a model forward uses)."""
    config = make_config(cfg)
    emb = LlamaRotaryEmbedding(config)
    if "seq_len" in cfg:
        x = torch.zeros(1, 1, cfg["head_dim"], dtype=torch.float32)
        pos = torch.arange(cfg["seq_len"], dtype=torch.int64)[None, :]
        emb(x, pos)
    return emb.inv_freq.detach().clone(), float(emb.attention_scaling)


def formula_f64(cfg):
    """Independent float64 evaluation of shared/MODELS.md section 1.6."""
    p = cfg["rope_parameters"]
    b = p["rope_theta"]
    r = cfg["head_dim"]
    half = r // 2
    base_inv = [1.0 / b ** (2 * m / r) for m in range(half)]
    t = p["rope_type"]
    if t == "default":
        return base_inv, 1.0
    if t == "linear":
        return [v / p["factor"] for v in base_inv], 1.0
    if t == "dynamic":
        L, M, f = cfg["seq_len"], cfg["max_position_embeddings"], p["factor"]
        if L > M:
            b2 = b * ((f * L / M) - (f - 1)) ** (r / (r - 2))
            return [1.0 / b2 ** (2 * m / r) for m in range(half)], 1.0
        return base_inv, 1.0
    if t == "llama3":
        f, lf, hf, O = p["factor"], p["low_freq_factor"], p["high_freq_factor"], p["original_max_position_embeddings"]
        lam_low, lam_high = O / lf, O / hf
        out = []
        for v in base_inv:
            lam = 2 * math.pi / v
            if lam > lam_low:
                out.append(v / f)
            elif lam < lam_high:
                out.append(v)
            else:
                s = (O / lam - lf) / (hf - lf)
                out.append((1 - s) * v / f + s * v)
        return out, 1.0
    if t == "yarn":
        O = p["original_max_position_embeddings"]
        f = p.get("factor") or cfg["max_position_embeddings"] / O
        bf = p.get("beta_fast") or 32
        bs = p.get("beta_slow") or 1

        def get_mscale(s, ms=1.0):
            return 1.0 if s <= 1 else 0.1 * ms * math.log(s) + 1.0

        af = p.get("attention_factor")
        if af is None:
            if p.get("mscale") and p.get("mscale_all_dim"):
                af = get_mscale(f, p["mscale"]) / get_mscale(f, p["mscale_all_dim"])
            else:
                af = get_mscale(f)

        def cd(n):
            return r * math.log(O / (2 * math.pi * n)) / (2 * math.log(b))

        low, high = cd(bf), cd(bs)
        if p.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, r - 1)
        if low == high:
            high += 0.001
        out = []
        for m in range(half):
            ramp = min(max((m - low) / (high - low), 0.0), 1.0)
            out.append(base_inv[m] / f * ramp + base_inv[m] * (1 - ramp))
        return out, af
    raise ValueError(t)


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def fmt9(x):
    # x is a float32 value (held in a Python float64); 9 significant digits round-trip any float32.
    s = "%.9g" % x
    if "e" not in s and "." not in s:
        s += ".0"
    return s


def max_rel(a, b):
    return max(abs(x - y) / abs(y) if y != 0 else abs(x) for x, y in zip(a, b))


def main():
    torch.set_grad_enabled(False)
    results = []
    ok = True
    for name, cfg in CASES:
        inv, scale, src = hf_init(cfg)
        inv_list = [float(v) for v in inv.tolist()]
        # exact-bits check against the module path
        m_inv, m_scale = hf_module(cfg)
        same_bits = torch.equal(inv, m_inv)
        mod_rel = max_rel([float(v) for v in m_inv.tolist()], inv_list)
        ref, ref_scale = formula_f64(cfg)
        f_rel = max_rel(inv_list, ref)
        print("%-26s n=%-3d scale=%.9g module_bits_equal=%s module_max_rel=%.3g models_md_f64_max_rel=%.3g "
              "scale_diff=%.3g" % (name, len(inv_list), scale, same_bits, mod_rel, f_rel, abs(scale - ref_scale)))
        if f_rel > 2e-6 or abs(scale - ref_scale) > 1e-12 or scale != m_scale:
            ok = False
            print("  MISMATCH in case", name, file=sys.stderr)
        results.append({
            "name": name,
            "config": cfg,
            "inv_freq": inv_list,
            "inv_freq_f32_bits": ["0x%08x" % f32_bits(v) for v in inv_list],
            "attention_scaling": scale,
            "source": src,
            "module_path_bits_equal": bool(same_bits),
        })

    # Hand-written JSON so that the float32 values print with 9 significant digits.
    lines = ["{"]
    lines.append('  "transformers_version": %s,' % json.dumps(transformers.__version__))
    lines.append('  "torch_version": %s,' % json.dumps(torch.__version__))
    lines.append('  "generator": "tools/golden/rope_reference.py",')
    lines.append('  "cases": [')
    for i, r in enumerate(results):
        lines.append("    {")
        lines.append('      "name": %s,' % json.dumps(r["name"]))
        lines.append('      "config": %s,' % json.dumps(r["config"], sort_keys=False))
        lines.append('      "source": %s,' % json.dumps(r["source"]))
        lines.append('      "module_path_bits_equal": %s,' % json.dumps(r["module_path_bits_equal"]))
        lines.append('      "attention_scaling": %s,' % repr(r["attention_scaling"]))
        lines.append('      "inv_freq": [%s],' % ", ".join(fmt9(v) for v in r["inv_freq"]))
        lines.append('      "inv_freq_f32_bits": [%s]' % ", ".join('"%s"' % h for h in r["inv_freq_f32_bits"]))
        lines.append("    }" + ("," if i + 1 < len(results) else ""))
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"

    # self-check: the 9-digit text round-trips to the exact float32 bits
    parsed = json.loads(text)
    for r in parsed["cases"]:
        for v, h in zip(r["inv_freq"], r["inv_freq_f32_bits"]):
            assert "0x%08x" % f32_bits(v) == h, (r["name"], v, h)

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write(text)
    print("wrote", OUT_PATH, len(text), "bytes")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
