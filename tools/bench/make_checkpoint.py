#!/usr/bin/env python3
"""Writes a random-weight Llama/Mistral/Qwen checkpoint for a config.json.

    tools/bench/make_checkpoint.py examples/llama-3.2-1b /tmp/ckpt-1b \
        --max-shard-size 1GB

The layout is the one transformers' save_pretrained writes: the state dict in
module order, split into shards of at most --max-shard-size
(model-0000K-of-0000N.safetensors plus model.safetensors.index.json; a single
model.safetensors when everything fits), each shard's tensors sorted by name
as the safetensors library stores them. The values are uniform in
+-1/sqrt(fan-in), in the config's torch_dtype (bf16, f16 or f32), norms 1.

For compile-speed and memory measurements (docs/PERF.md) on machines without
torch: only numpy is needed. Generating is a tiled random block, so a 16 GB
checkpoint takes about as long as writing it. With --fill zeros every value
is 0 and the shards are sparse files (no numpy, no disk space, instant): the
memory-bound test (test/tools/llmc-compile-memory.test) uses that.
"""

import argparse
import json
import os
import re
import shutil
import struct
import sys



def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def parse_size(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?B)?", text.strip(), re.I)
    if not m:
        sys.exit(f"--max-shard-size: '{text}' is not a size like 5GB")
    unit = (m.group(2) or "B").upper()
    return int(float(m.group(1)) * {"B": 1, "KB": 10**3, "MB": 10**6,
                                     "GB": 10**9}[unit])


def state_dict(cfg):
    """(name, shape) in the module order of *ForCausalLM.state_dict()."""
    h = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    hd = cfg.get("head_dim") or h // heads
    inter = cfg["intermediate_size"]
    vocab = cfg["vocab_size"]
    bias = cfg.get("attention_bias", cfg["model_type"] == "qwen2")
    qk_norm = cfg["model_type"] == "qwen3"
    out = [("model.embed_tokens.weight", (vocab, h))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for proj, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)):
            out.append((p + f"self_attn.{proj}_proj.weight", (rows, h)))
            if bias:
                out.append((p + f"self_attn.{proj}_proj.bias", (rows,)))
        out.append((p + "self_attn.o_proj.weight", (h, heads * hd)))
        if qk_norm:
            out.append((p + "self_attn.q_norm.weight", (hd,)))
            out.append((p + "self_attn.k_norm.weight", (hd,)))
        out.append((p + "mlp.gate_proj.weight", (inter, h)))
        out.append((p + "mlp.up_proj.weight", (inter, h)))
        out.append((p + "mlp.down_proj.weight", (h, inter)))
        out.append((p + "input_layernorm.weight", (h,)))
        out.append((p + "post_attention_layernorm.weight", (h,)))
    out.append(("model.norm.weight", (h,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (vocab, h)))
    return out


DTYPES = {"bfloat16": ("BF16", 2), "float16": ("F16", 2),
          "float32": ("F32", 4)}


def block_for(dtype, bound, rng, n):
    """n random values uniform in +-bound, as the raw bytes of `dtype`."""
    import numpy as np
    v = rng.uniform(-bound, bound, n).astype(np.float32)
    if dtype == "BF16":
        u = v.view(np.uint32)
        rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        return rounded.astype(np.uint16).tobytes()
    if dtype == "F16":
        return v.astype(np.float16).tobytes()
    return v.tobytes()


def write_shard(path, tensors, dtype, esize, rng, zeros):
    header = {}
    offset = 0
    for name, shape in sorted(tensors):
        size = esize * prod(shape)
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    ones = {"BF16": b"\x80\x3f", "F16": b"\x00\x3c",
            "F32": b"\x00\x00\x80\x3f"}[dtype]
    tile = 1 << 24  # values per random block
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        if zeros:
            f.truncate(8 + len(text) + offset)
            return
        for name, shape in sorted(tensors):
            n = prod(shape)
            if len(shape) == 1 and "norm" in name:
                f.write(ones * n)
                continue
            block = block_for(dtype, shape[-1] ** -0.5, rng, min(n, tile))
            per = len(block) // esize
            done = 0
            while done < n:
                k = min(per, n - done)
                f.write(block[: k * esize])
                done += k


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("config", help="config.json or the directory holding it")
    ap.add_argument("out", help="directory to create")
    ap.add_argument("--max-shard-size", default="5GB",
                    help="largest shard (transformers' default: 5GB)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fill", choices=("random", "zeros"), default="random",
                    help="zeros: sparse shards of zeros, without numpy")
    args = ap.parse_args()
    cfg_path = args.config
    if os.path.isdir(cfg_path):
        cfg_path = os.path.join(cfg_path, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    if cfg["model_type"] not in ("llama", "mistral", "qwen2", "qwen3"):
        sys.exit(f"{cfg_path}: model_type {cfg['model_type']} is not one "
                 "this script lays out")
    dtype, esize = DTYPES[cfg.get("torch_dtype", "float32")]
    limit = parse_size(args.max_shard_size)

    shards, current, size = [], [], 0
    for name, shape in state_dict(cfg):
        bytes_ = esize * prod(shape)
        if current and size + bytes_ > limit:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += bytes_
    shards.append(current)

    os.makedirs(args.out, exist_ok=True)
    shutil.copy(cfg_path, os.path.join(args.out, "config.json"))
    zeros = args.fill == "zeros"
    rng = None
    if not zeros:
        import numpy as np
        rng = np.random.default_rng(args.seed)
    total = 0
    if len(shards) == 1:
        write_shard(os.path.join(args.out, "model.safetensors"), shards[0],
                    dtype, esize, rng, zeros)
    else:
        weight_map = {}
        for k, tensors in enumerate(shards, 1):
            fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
            write_shard(os.path.join(args.out, fname), tensors, dtype, esize,
                        rng, zeros)
            for name, _ in tensors:
                weight_map[name] = fname
        for name, shape in state_dict(cfg):
            total += esize * prod(shape)
        with open(os.path.join(args.out, "model.safetensors.index.json"),
                  "w") as f:
            json.dump({"metadata": {"total_size": total},
                       "weight_map": weight_map}, f, indent=2)
            f.write("\n")
    print(f"{args.out}: {len(shards)} shard(s)")


if __name__ == "__main__":
    main()
