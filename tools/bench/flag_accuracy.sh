#!/usr/bin/env bash
# What a compile flag that changes the numbers costs in accuracy (e.g.
# `--kv-dtype fp8_e4m3`, `--fp8-activations`): one model compiled without
# and with it, the same prompt of 230 tokens and 40 greedy steps on the CPU
# backend, then the logits compared row by row over the rows both runs
# share (until the first greedy token that differs).
#
#   tools/bench/flag_accuracy.sh <llmc> <model dir> "<flags>" [compile args for both...]
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 <llmc> <model dir> \"<flags>\" [compile args...]" >&2; exit 2; }
llmc=$1 model=$2
read -ra flags <<< "$3"
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/llmc-kv-accuracy.XXXXXX")
trap 'rm -rf "$work"' EXIT
vocab=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$model/config.json")
prompt=$(awk -v n=230 -v v="$vocab" 'BEGIN {
  for (i = 0; i < n; ++i) printf "%s%d", (i ? "," : ""), (i * 37 + 11) % v }')
for run in base flag; do
  extra=()
  [[ $run == flag ]] && extra=("${flags[@]}")
  "$llmc" compile "$model" -o "$work/$run.plan" --quiet --target cpu \
    --max-seq-len 4096 --allow-longer-context --max-tokens 64 \
    ${extra[@]+"${extra[@]}"} "$@"
  "$llmc" run "$work/$run.plan" --tokens "$prompt" --max-new-tokens 40 \
    --logits-out "$work/$run.npy" > "$work/$run.txt"
done
python3 - "$work" "$(basename "$model") ${flags[*]} $*" <<'PY'
import sys
import numpy as np
work, name = sys.argv[1], sys.argv[2]
a = np.load(f"{work}/base.npy").astype(np.float64)
b = np.load(f"{work}/flag.npy").astype(np.float64)
ta = open(f"{work}/base.txt").read().split(",")
tb = open(f"{work}/flag.txt").read().split(",")
same = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x.strip() != y.strip()), len(ta))
rows = a.shape[0] - len(ta) + same  # prompt rows + the steps both took alike
err = np.abs(a[:rows] - b[:rows]).max(axis=1) / np.abs(a).max()
top1 = (a[:rows].argmax(1) == b[:rows].argmax(1)).mean()
print(f"{name}: greedy tokens equal for {same}/{len(ta)} steps; over {rows} rows, "
      f"max|dlogit| / max|logit|: median {np.median(err):.2e}, max {err.max():.2e}; "
      f"top-1 agreement {100 * top1:.1f}%")
PY
