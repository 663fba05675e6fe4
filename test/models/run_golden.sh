#!/usr/bin/env bash
# Golden conformance test for one model directory (see tools/golden/README.md):
# compile it, greedily decode golden.json's prompt on a backend (the CPU one
# unless told otherwise), and require the same tokens and logits within
# golden.json's rel_tolerance.
#
#   run_golden.sh <llmc> <llmc-compare-logits> [--backend B] [--compile-arg X]... <model dir> [llmc run args...]
#
# --backend B (cpu, the default, or cuda: test/gpu runs these models on cuda)
# is the `llmc run --backend`. --compile-arg X appends X to `llmc compile`
# (repeat it for each word, e.g. --compile-arg --max-tokens --compile-arg 4),
# after golden.json's own "compile_args" when it has them.
# Arguments after the model directory are appended to `llmc run`. Set
# LLMC_GOLDEN_KEEP=1 to keep the temporary directory (plan, logits).
set -euo pipefail

usage() {
  echo "usage: $0 <llmc> <llmc-compare-logits> [--backend B] [--compile-arg X]... <model dir> [llmc run args...]" >&2
  exit 2
}

[[ $# -ge 3 ]] || usage
llmc=$1
compare=$2
shift 2
backend=cpu
compile_args=()
while [[ $# -gt 0 && ( $1 == --compile-arg || $1 == --backend ) ]]; do
  [[ $# -ge 2 ]] || usage
  if [[ $1 == --backend ]]; then
    backend=$2
  else
    compile_args+=("$2")
  fi
  shift 2
done
[[ $# -ge 1 ]] || usage
model=$1
shift
run_args=("$@")

golden=$model/golden.json
for f in "$golden" "$model/logits.npy" "$model/config.json"; do
  [[ -f $f ]] || { echo "error: $f not found" >&2; exit 2; }
done

# golden.json is read by the compare tool so that tests need no Python.
field() { "$compare" --print-field "$golden" "$1"; }
# golden.json's optional compile_args (space-separated words) come first:
# what the model needs (phi3-longrope-short: --max-seq-len 64).
if grep -q '"compile_args"' "$golden"; then
  read -ra own_args <<< "$(field compile_args)"
  compile_args=("${own_args[@]}" ${compile_args[@]+"${compile_args[@]}"})
fi
prompt=$(field prompt)
expected=$(field generated)
max_new=$(field max_new_tokens)
rel_tol=$(field rel_tolerance)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-golden.XXXXXX")
if [[ ${LLMC_GOLDEN_KEEP:-0} == 1 ]]; then
  echo "keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

# ${a[@]+"${a[@]}"}: an empty array under `set -u` on bash < 4.4.
compile_cmd=("$llmc" compile "$model" -o "$tmp/x.plan" ${compile_args[@]+"${compile_args[@]}"})
echo "+ ${compile_cmd[*]}"
if ! "${compile_cmd[@]}"; then
  echo "FAIL: llmc compile exited with an error" >&2
  exit 1
fi

run_cmd=("$llmc" run "$tmp/x.plan" --backend "$backend" --tokens "$prompt"
  --max-new-tokens "$max_new" --logits-out "$tmp/logits.npy"
  ${run_args[@]+"${run_args[@]}"})
echo "+ ${run_cmd[*]}"
if ! actual=$("${run_cmd[@]}"); then
  echo "FAIL: llmc run exited with an error" >&2
  exit 1
fi

if [[ $actual != "$expected" ]]; then
  echo "FAIL: generated tokens differ" >&2
  echo "  expected: $expected" >&2
  echo "  actual:   $actual" >&2
  # Compare the logits anyway: where they diverge says more than the tokens.
  "$compare" "$model/logits.npy" "$tmp/logits.npy" --rel-tol "$rel_tol" || true
  exit 1
fi
echo "generated tokens match: $actual"

"$compare" "$model/logits.npy" "$tmp/logits.npy" --rel-tol "$rel_tol"
