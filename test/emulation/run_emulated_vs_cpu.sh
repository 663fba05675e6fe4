#!/usr/bin/env bash
# Long sequences on the emulated CUDA backend against the CPU backend, from
# one plan: a prompt of <prompt len> tokens and <new> greedy steps, so that
# decode attention splits its keys (the split count follows the length at
# run time: attention.cuh, attn_decode_split). The golden models' prompts
# are too short for that; no reference but the CPU backend is needed here.
#
#   run_emulated_vs_cpu.sh <llmc-emu-compile> <libllmc-fake-cuda-emu.so>
#       <work dir> <llmc> <llmc-compare-logits> <model dir> <prompt len>
#       <new> <rel tol> [llmc compile args...]
set -euo pipefail
[[ $# -ge 9 ]] || { echo "usage: see $0" >&2; exit 2; }
emu_compile=$1 fake=$2 work=$3 llmc=$4 compare=$5 model=$6 len=$7 new=$8
tol=$9
shift 9
rm -rf "$work"
mkdir -p "$work/kernels"
vocab=$("$compare" --print-field "$model/config.json" vocab_size)
prompt=$(awk -v n="$len" -v v="$vocab" 'BEGIN {
  for (i = 0; i < n; ++i) printf "%s%d", (i ? "," : ""), (i * 37 + 11) % v }')
set -x
"$llmc" compile "$model" -o "$work/x.plan" --target sm_90a \
  --dump-kernels "$work/kernels" "$@"
"$llmc" run "$work/x.plan" --tokens "$prompt" --max-new-tokens "$new" \
  --logits-out "$work/cpu.npy" > "$work/cpu.txt"
LLMC_CUDA_DRIVER=$fake LLMC_EMU_SOURCES=$work/kernels \
  LLMC_EMU_COMPILE=$emu_compile \
  LLMC_EMU_CACHE=${LLMC_EMU_CACHE:-$(dirname "$work")/kernel-cache} \
  "$llmc" run "$work/x.plan" --backend cuda --tokens "$prompt" \
  --max-new-tokens "$new" --logits-out "$work/cuda.npy" > "$work/cuda.txt"
set +x
if ! diff "$work/cpu.txt" "$work/cuda.txt"; then
  echo "FAIL: generated tokens differ between the CPU and emulated CUDA backends" >&2
  exit 1
fi
"$compare" "$work/cpu.npy" "$work/cuda.npy" --rel-tol "$tol"
