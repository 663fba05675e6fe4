#!/usr/bin/env bash
# One short CUDA run under compute-sanitizer: a random-weight plan of a config
# (qwen3-0.6b in ctest), a 4-token prompt and 2 decode steps, with
# --tool memcheck or --tool racecheck. Passes iff llmc exits 0 and the tool
# reports "ERROR SUMMARY: 0 errors" (racecheck's summary line reads
# "RACECHECK SUMMARY: N hazards displayed (0 errors, W warnings)": 0 errors is
# required there, warnings are printed). Skips (77) without compute-sanitizer
# (/usr/local/cuda/bin, $LLMC_COMPUTE_SANITIZER or PATH) or without a device.
#
#   sanitizer.sh <llmc> <memcheck|racecheck|...> <model dir or config.json> [compute-sanitizer args...]
set -euo pipefail
[[ $# -ge 3 ]] || {
  echo "usage: $0 <llmc> <tool> <model dir or config.json> [compute-sanitizer args...]" >&2
  exit 2
}
here=$(dirname "$0")
# shellcheck source=test/gpu/gpu_lib.sh
source "$here/gpu_lib.sh"
llmc=$1
tool=$2
config=$3
shift 3
sanitizer=$(gpu_sanitizer)
if [[ -z $sanitizer ]]; then
  echo "no compute-sanitizer: not at /usr/local/cuda/bin/compute-sanitizer nor on PATH (set LLMC_COMPUTE_SANITIZER)"
  exit 77
fi
gpu_require "$llmc"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-sanitizer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
target=$(gpu_target)
compile_cmd=("$llmc" compile "$config" -o "$tmp/x.plan" --random-weights=1
  --max-seq-len 64 --max-tokens 8)
if [[ -n $target ]]; then
  compile_cmd+=(--target "$target")
fi
echo "+ ${compile_cmd[*]}"
"${compile_cmd[@]}"

prompt=1,2,3,4
run_cmd=("$sanitizer" --tool "$tool" "$@" "$llmc" run "$tmp/x.plan"
  --backend cuda --tokens "$prompt" --max-new-tokens 2)
echo "+ ${run_cmd[*]}"
rc=0
"${run_cmd[@]}" >"$tmp/out.txt" 2>&1 || rc=$?
cat "$tmp/out.txt"
if [[ $rc -ne 0 ]]; then
  echo "FAIL: compute-sanitizer --tool $tool exited with $rc" >&2
  exit 1
fi
summary=$(grep -E -m 1 "(ERROR|RACECHECK) SUMMARY:" "$tmp/out.txt" || true)
if ! grep -qE "ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: [0-9]+ hazards? displayed \(0 errors," <<<"$summary"; then
  echo "FAIL: compute-sanitizer --tool $tool: ${summary:-no summary line} (expected 0 errors)" >&2
  exit 1
fi
echo "PASS: $tool: ${summary#*= }"
