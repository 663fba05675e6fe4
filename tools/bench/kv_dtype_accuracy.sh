#!/usr/bin/env bash
# What `llmc compile --kv-dtype fp8_e4m3` costs in accuracy: one model
# compiled twice (KV cache in the activation dtype, and FP8), the same
# prompt of 230 tokens and 40 greedy steps on the CPU backend, then the
# logits compared row by row over the rows both runs share (until the
# first greedy token that differs).
#
#   tools/bench/kv_dtype_accuracy.sh <llmc> <model dir> [llmc compile args...]
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 <llmc> <model dir> [compile args...]" >&2; exit 2; }
llmc=$1 model=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/llmc-kv-accuracy.XXXXXX")
trap 'rm -rf "$work"' EXIT
vocab=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$model/config.json")
prompt=$(awk -v n=230 -v v="$vocab" 'BEGIN {
  for (i = 0; i < n; ++i) printf "%s%d", (i ? "," : ""), (i * 37 + 11) % v }')
for kv in auto fp8_e4m3; do
  "$llmc" compile "$model" -o "$work/$kv.plan" --quiet --target cpu \
    --max-seq-len 4096 --allow-longer-context --max-tokens 64 --kv-dtype "$kv" "$@"
  "$llmc" run "$work/$kv.plan" --tokens "$prompt" --max-new-tokens 40 \
    --logits-out "$work/$kv.npy" > "$work/$kv.txt"
done
python3 - "$work" "$(basename "$model")" <<'PY'
import sys
import numpy as np
work, name = sys.argv[1], sys.argv[2]
a = np.load(f"{work}/auto.npy").astype(np.float64)
b = np.load(f"{work}/fp8_e4m3.npy").astype(np.float64)
ta = open(f"{work}/auto.txt").read().split(",")
tb = open(f"{work}/fp8_e4m3.txt").read().split(",")
same = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x.strip() != y.strip()), len(ta))
rows = a.shape[0] - len(ta) + same  # prompt rows + the steps both took alike
err = np.abs(a[:rows] - b[:rows]).max(axis=1) / np.abs(a).max()
top1 = (a[:rows].argmax(1) == b[:rows].argmax(1)).mean()
print(f"{name}: greedy tokens equal for {same}/{len(ta)} steps; over {rows} rows, "
      f"max|dlogit| / max|logit|: median {np.median(err):.2e}, max {err.max():.2e}; "
      f"top-1 agreement {100 * top1:.1f}%")
PY
