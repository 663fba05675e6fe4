#!/usr/bin/env python3
"""Writes the tiny checkpoints the bad-input tests read (test/tools/Inputs/).

One valid 1-layer llama (hidden 8, 2 heads, 1 KV head, vocab 16) and copies of
it broken in one way each. Standard library only; run it again after changing
a case and commit the output:

    python3 tools/testdata/make_bad_inputs.py test/tools/Inputs/safetensors
"""
import json
import os
import random
import shutil
import struct
import sys

CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "vocab_size": 16,
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 64,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
}

SHAPES = {
    "model.embed_tokens.weight": [16, 8],
    "model.layers.0.input_layernorm.weight": [8],
    "model.layers.0.self_attn.q_proj.weight": [8, 8],
    "model.layers.0.self_attn.k_proj.weight": [4, 8],
    "model.layers.0.self_attn.v_proj.weight": [4, 8],
    "model.layers.0.self_attn.o_proj.weight": [8, 8],
    "model.layers.0.post_attention_layernorm.weight": [8],
    "model.layers.0.mlp.gate_proj.weight": [16, 8],
    "model.layers.0.mlp.up_proj.weight": [16, 8],
    "model.layers.0.mlp.down_proj.weight": [8, 16],
    "model.norm.weight": [8],
    "lm_head.weight": [16, 8],
}


def tensors():
    rng = random.Random(7)
    out = {}
    for name, shape in SHAPES.items():
        n = 1
        for d in shape:
            n *= d
        if len(shape) == 1:
            vals = [1.0] * n
        else:
            vals = [rng.uniform(-0.5, 0.5) for _ in range(n)]
        out[name] = ("F32", shape, struct.pack("<%df" % n, *vals))
    return out


def encode(entries, header_len=None):
    """entries: name -> (dtype, shape, bytes, [begin, end] or None)."""
    header, data = {}, b""
    for name, (dtype, shape, raw, offsets) in entries.items():
        if offsets is None:
            offsets = [len(data), len(data) + len(raw)]
            data += raw
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def write(root, case, blob, config=CONFIG):
    d = os.path.join(root, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(blob)


def main(root):
    shutil.rmtree(root, ignore_errors=True)
    base = {k: (dt, s, raw, None) for k, (dt, s, raw) in tensors().items()}
    write(root, "good", encode(base))

    e = dict(base)
    del e["lm_head.weight"]
    write(root, "missing-tensor", encode(e))

    e = dict(base)
    dt, _, raw, _ = e["model.layers.0.self_attn.k_proj.weight"]
    e["model.layers.0.self_attn.k_proj.weight"] = (dt, [8, 4], raw, None)
    write(root, "wrong-shape", encode(e))

    e = dict(base)
    e["model.norm.weight"] = ("I32", [8], struct.pack("<8i", *range(8)), None)
    write(root, "wrong-dtype", encode(e))

    e = dict(base)
    e["model.norm.weight"] = ("F32", [2**62, 2**62], b"\0" * 32, None)
    write(root, "shape-overflow", encode(e))

    e = dict(base)
    dt, s, raw, _ = e["model.norm.weight"]
    e["model.norm.weight"] = (dt, s, b"", [10**9, 10**9 + len(raw)])
    write(root, "offsets-out-of-range", encode(e))

    # Two tensors claim the same bytes (and a tail of the data is unused).
    blob_entries, data = {}, 0
    e = {}
    for name, (dt, s, raw, _) in base.items():
        e[name] = (dt, s, raw, None)
    first = encode(e)
    header = json.loads(first[8:8 + struct.unpack("<Q", first[:8])[0]])
    header["model.norm.weight"]["data_offsets"] = header[
        "model.layers.0.input_layernorm.weight"]["data_offsets"]
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    body = first[8 + struct.unpack("<Q", first[:8])[0]:]
    write(root, "offsets-overlap", struct.pack("<Q", len(text)) + text + body)

    write(root, "header-too-large", encode(base, header_len=2**63))

    blob = encode(base)
    write(root, "truncated", blob[: len(blob) - 100])

    # A valid checkpoint whose RoPE the plan format cannot hold.
    config = dict(CONFIG, rope_scaling={"rope_type": "dynamic", "factor": 2.0})
    write(root, "rope-dynamic", encode(base), config)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test/tools/Inputs/safetensors")
