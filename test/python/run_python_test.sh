#!/usr/bin/env bash
# `pip install <source dir>` into a fresh virtual environment (the runtime
# built alone by scikit-build-core, pyproject.toml), then test_llmc.py in it
# against what the full build's `llmc run` says about the same plan.
# pip fetches scikit-build-core and numpy from PyPI (its cache after the
# first run).
#
#   run_python_test.sh <llmc> <source dir> [python]
set -euo pipefail
llmc=$1 src=$2 python=${3:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$python" -m venv "$tmp/venv" ||
  { echo "FAIL: $python -m venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "$src" > "$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; exit 1; }
"$tmp/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
  grep -E '^(llmc|numpy) '

"$llmc" compile "$src/test/models/qwen3-f32" --target cpu -o "$tmp/m.plan" --quiet
run() { "$llmc" run "$tmp/m.plan" --tokens 1,2,3,4,5 --max-new-tokens 8 --num-threads 1 "$@"; }
export LLMC_TEST_PLAN=$tmp/m.plan LLMC_TEST_HEADER=$src/runtime/include/llmc/llmc.h
LLMC_TEST_GREEDY=$(run --logits-out "$tmp/logits.npy")
LLMC_TEST_SAMPLED=$(run --temperature 0.8 --top-k 40 --top-p 0.9 --seed 7)
export LLMC_TEST_GREEDY LLMC_TEST_SAMPLED LLMC_TEST_LOGITS=$tmp/logits.npy
# From elsewhere than the source tree: the installed package, not python/llmc.
cd "$tmp"
"$tmp/venv/bin/python" "$src/test/python/test_llmc.py" -v 2>&1
