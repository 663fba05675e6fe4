#!/usr/bin/env python3
"""Rewrites a safetensors file with some tensors changed, to make damaged
checkpoints for tests (standard library only).

  edit_safetensors.py IN OUT [--dtype NAME=DTYPE]... [--i64 NAME=V,V,...]...

--dtype F32 -> BF16 converts the values (round to nearest even); any other
--dtype relabels the bytes (the sizes must agree). --i64 replaces a tensor's
values with the given I64 values (its shape kept).
"""
import argparse
import json
import struct

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
         "F8_E4M3": 1, "F8_E5M2": 1, "BOOL": 1}


def to_bf16(data):
    out = bytearray()
    for (bits,) in struct.iter_unpack("<I", data):
        bits += 0x7FFF + ((bits >> 16) & 1)
        out += struct.pack("<H", (bits >> 16) & 0xFFFF)
    return bytes(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--dtype", action="append", default=[])
    p.add_argument("--i64", action="append", default=[])
    a = p.parse_args()
    with open(a.src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", None)
    tensors = {k: (v, body[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}
    for edit in a.dtype:
        name, dtype = edit.split("=")
        info, data = tensors[name]
        if info["dtype"] == "F32" and dtype == "BF16":
            data = to_bf16(data)
        elif len(data) != SIZES[dtype] * (len(data) // SIZES[info["dtype"]]):
            raise SystemExit(f"{name}: cannot relabel {info['dtype']} as {dtype}")
        tensors[name] = (dict(info, dtype=dtype), data)
    for edit in a.i64:
        name, values = edit.split("=")
        info, data = tensors[name]
        vals = [int(v) for v in values.split(",")]
        tensors[name] = (dict(info, dtype="I64"), struct.pack(f"<{len(vals)}q", *vals))
    out_header, blobs, offset = {}, [], 0
    if meta is not None:
        out_header["__metadata__"] = meta
    for name, (info, data) in tensors.items():
        out_header[name] = {"dtype": info["dtype"], "shape": info["shape"],
                            "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(out_header).encode()
    text += b" " * (-len(text) % 8)
    with open(a.dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    main()
