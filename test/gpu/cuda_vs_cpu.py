#!/usr/bin/env python3
"""CUDA backend against the CPU reference backend on one random-weight plan.

Compiles a config with `llmc compile <config> --random-weights=SEED
--max-seq-len 256 [--target T]`, then runs the same greedy decode on both
backends (`llmc run --tokens <prompt> --max-new-tokens N --logits-out F`):
a 20-token prompt, 32 decode steps. It requires

  * the same generated tokens, and
  * max|cuda - cpu| <= rel_tol x max|cpu| over every logits row the two runs
    computed from the same tokens (bf16: rel_tol 2e-2, as for the golden
    bf16 models; all values finite).

A random-weight model can have near-ties at the top: if the CUDA run picks a
different token at step k, the rows up to that step (same inputs on both)
must still be within tolerance, which bounds the CPU's own top-2 margin there
by 2 x rel_tol x max|cpu|, i.e. the choice is a tie at this precision and not
an error. The check then continues from the prompt extended with the CPU's
tokens up to and including step k (both backends prefill it and decode the
remaining steps); more than --max-ties such ties fail the test. Every tie is
printed.

Standard library only (no numpy): reads the float32 .npy files itself.
Invoked by cuda_vs_cpu.sh, which first checks that the CUDA backend runs.
"""

import argparse
import array
import ast
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time


def read_npy(path):
    """Returns (rows, cols, array('f')) of a 2-D little-endian float32 .npy."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise SystemExit(f"{path}: not a .npy file")
    major = data[6]
    if major == 1:
        hlen = int.from_bytes(data[8:10], "little")
        start = 10
    elif major in (2, 3):
        hlen = int.from_bytes(data[8:12], "little")
        start = 12
    else:
        raise SystemExit(f"{path}: .npy format {major} not supported")
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    if header.get("descr") not in ("<f4", "float32") or header.get("fortran_order"):
        raise SystemExit(f"{path}: expected C-order <f4, got {header}")
    shape = header["shape"]
    if len(shape) != 2:
        raise SystemExit(f"{path}: expected 2 dimensions, got {shape}")
    values = array.array("f")
    values.frombytes(data[start + hlen:])
    if sys.byteorder != "little":
        values.byteswap()
    if len(values) != shape[0] * shape[1]:
        raise SystemExit(f"{path}: {len(values)} values for shape {shape}")
    return shape[0], shape[1], values


def prompt_tokens(n, vocab, seed):
    """Deterministic ids in [0, vocab), xorshift64 like `llmc bench`."""
    x = (0x9E3779B97F4A7C15 ^ seed) & 0xFFFFFFFFFFFFFFFF
    out = []
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        out.append(x % vocab)
    return out


def run(cmd, log):
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    dt = time.monotonic() - t0
    if proc.stderr.strip():
        print(proc.stderr.rstrip(), flush=True)
    print(f"  ({dt:.1f} s, exit {proc.returncode})", flush=True)
    if proc.returncode != 0:
        log(f"FAIL: {cmd[0]} {cmd[1]} exited with {proc.returncode}")
        if proc.stdout.strip():
            print(proc.stdout.rstrip())
        sys.exit(1)
    return proc.stdout


def generate(llmc, plan, backend, tokens, new_tokens, logits_path, log):
    out = run([llmc, "run", plan, "--backend", backend,
               "--tokens", ",".join(map(str, tokens)),
               "--max-new-tokens", str(new_tokens),
               "--logits-out", logits_path], log)
    text = out.strip()
    ids = [int(t) for t in text.split(",")] if text else []
    if len(ids) != new_tokens:
        log(f"FAIL: {backend} generated {len(ids)} tokens, expected {new_tokens}")
        sys.exit(1)
    return ids


def compare_rows(cpu, cuda, cols, rows, rel_tol):
    """Max |cuda - cpu| over the first `rows` rows against rel_tol x max|cpu|.

    Returns (ok, message)."""
    n = rows * cols
    ref_max = 0.0
    worst = 0.0
    worst_at = 0
    finite = True
    for i in range(n):
        a = cpu[i]
        b = cuda[i]
        if not (math.isfinite(a) and math.isfinite(b)):
            finite = False
            worst_at = i
            break
        if abs(a) > ref_max:
            ref_max = abs(a)
        d = abs(a - b)
        if d > worst:
            worst = d
            worst_at = i
    r, c = divmod(worst_at, cols)
    if not finite:
        return False, (f"non-finite value at row {r} col {c}: "
                       f"cpu {cpu[worst_at]} cuda {cuda[worst_at]}")
    limit = rel_tol * ref_max
    compare_rows.ref_max = ref_max
    msg = (f"rows 0..{rows - 1}: max |cuda - cpu| = {worst:.6g} "
           f"({worst / ref_max if ref_max else float('inf'):.3g} x max|cpu| = "
           f"{ref_max:.6g}; limit {rel_tol:g} x), worst at row {r} col {c}: "
           f"cpu {cpu[worst_at]:.6g} cuda {cuda[worst_at]:.6g}")
    return worst <= limit, msg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--compare", help="llmc-compare-logits (whole-array check)")
    ap.add_argument("--config", required=True,
                    help="model directory or config.json (examples/...)")
    ap.add_argument("--target", default="",
                    help="llmc compile --target (default: llmc's)")
    ap.add_argument("--seed", type=int, default=1, help="--random-weights seed")
    ap.add_argument("--max-seq-len", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=20)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--rel-tol", type=float, default=2e-2)
    ap.add_argument("--max-ties", type=int, default=3)
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (plan, logits)")
    args = ap.parse_args()

    name = os.path.basename(os.path.normpath(
        os.path.dirname(args.config) if args.config.endswith(".json")
        else args.config))

    def log(msg):
        print(f"cuda-vs-cpu {name}: {msg}", flush=True)

    config_path = (args.config if args.config.endswith(".json")
                   else os.path.join(args.config, "config.json"))
    with open(config_path) as f:
        vocab = int(json.load(f)["vocab_size"])

    work = tempfile.mkdtemp(prefix="llmc-cuda-vs-cpu.",
                            dir=os.environ.get("TMPDIR"))
    try:
        plan = os.path.join(work, "x.plan")
        cmd = [args.llmc, "compile", args.config, "-o", plan,
               f"--random-weights={args.seed}",
               "--max-seq-len", str(args.max_seq_len)]
        if args.target:
            cmd += ["--target", args.target]
        run(cmd, log)

        prefix = prompt_tokens(args.prompt_len, vocab, args.seed)
        remaining = args.new_tokens
        ties = 0
        decoded = 0
        while remaining > 0:
            cpu_npy = os.path.join(work, "cpu.npy")
            cuda_npy = os.path.join(work, "cuda.npy")
            cpu_ids = generate(args.llmc, plan, "cpu", prefix, remaining,
                               cpu_npy, log)
            cuda_ids = generate(args.llmc, plan, "cuda", prefix, remaining,
                                cuda_npy, log)
            cr, cc, cpu = read_npy(cpu_npy)
            gr, gc, cuda = read_npy(cuda_npy)
            expected = (len(prefix) + remaining, vocab)
            if (cr, cc) != expected or (gr, gc) != expected:
                log(f"FAIL: logits shapes cpu {(cr, cc)} cuda {(gr, gc)}, "
                    f"expected {expected}")
                return 1
            k = next((i for i, (a, b) in enumerate(zip(cpu_ids, cuda_ids))
                      if a != b), remaining)
            # Rows 0..P-1 are the prompt's; row P+j follows generated token j.
            # Rows before P+k saw the same tokens on both backends.
            rows = len(prefix) + k if k < remaining else cr
            ok, msg = compare_rows(cpu, cuda, cc, rows, args.rel_tol)
            log(msg)
            if not ok:
                log("FAIL: logits differ beyond the tolerance")
                if k < remaining:
                    log(f"  (and the tokens diverge at step {decoded + k}: "
                        f"cpu {cpu_ids[k]} cuda {cuda_ids[k]})")
                return 1
            if k == remaining:
                log(f"tokens match ({remaining} steps from a "
                    f"{len(prefix)}-token prompt): "
                    + ",".join(map(str, cpu_ids)))
                if args.compare:
                    # The project's tool on the whole arrays, for the record.
                    print(run([args.compare, cpu_npy, cuda_npy,
                               "--rel-tol", str(args.rel_tol)], log).rstrip())
                decoded += remaining
                break
            ties += 1
            row = len(prefix) + k - 1
            base = row * cc
            a, b = cpu_ids[k], cuda_ids[k]
            cpu_row = cpu[base:base + cc]
            cuda_row = cuda[base:base + cc]
            cpu_gap = cpu[base + a] - cpu[base + b]
            cuda_gap = cuda[base + b] - cuda[base + a]
            where = (f"step {decoded + k}: cpu picks {a}, cuda {b}; cpu margin "
                     f"{cpu_gap:.6g}, cuda margin {cuda_gap:.6g}")
            # Greedy: each backend's token must be the top of its own logits;
            # then the logits check above bounds the margin by 2 x rel_tol.
            if cpu[base + a] < max(cpu_row) or cuda[base + b] < max(cuda_row):
                log(f"FAIL: tokens diverge at {where}, and a token is not the "
                    f"argmax of its backend's logits (cpu top {max(cpu_row):.6g}, "
                    f"cuda top {max(cuda_row):.6g})")
                return 1
            if cpu_gap > 2 * args.rel_tol * compare_rows.ref_max:
                log(f"FAIL: tokens diverge at {where}: not a tie "
                    f"(cpu margin over 2 x {args.rel_tol:g} x max|cpu|)")
                return 1
            log(f"tie {ties}: {where} (a tie at this tolerance)")
            if ties > args.max_ties:
                log(f"FAIL: more than {args.max_ties} ties")
                return 1
            prefix = prefix + cpu_ids[:k + 1]
            decoded += k + 1
            remaining -= k + 1
        log(f"PASS: {decoded} decode steps compared, {ties} tie(s)")
        return 0
    finally:
        if args.keep:
            print(f"keeping {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
