#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang-22, ASan and UBSan in
# a build directory of their own (default build-fuzz/) and runs each target:
# first every committed crasher and seed once, as regression inputs, then
# new inputs for a bounded time from a copy of its seed corpus. Called by
# the ctest entry `fuzz` (30 s per target); a longer campaign is
# `scripts/fuzz.sh --seconds 600` (docs/RELIABILITY.md).
#
#   scripts/fuzz.sh [--seconds N] [--build-dir DIR] [--llmc PATH] [target...]
#
# targets: config safetensors index plan (default: all). With --llmc, plans
# that llmc compiles now (CPU and sm_90a) join the plan target's seeds.
# A crash leaves its input in DIR/artifacts/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30
dir=build-fuzz
llmc=
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) dir=$2; shift 2 ;;
    --llmc) llmc=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(config safetensors index plan)
command -v clang++-22 >/dev/null ||
  { echo "fuzz.sh: clang++-22 not found (scripts/setup.sh installs it)" >&2; exit 2; }

cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMC_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 >/dev/null
cmake --build "$dir" --target "${targets[@]/#/llmc-fuzz-}"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$dir/artifacts"
shopt -s nullglob
for t in "${targets[@]}"; do
  bin="$dir/fuzz/llmc-fuzz-$t"
  seeds=(test/fuzz/corpus/$t/*)
  crashers=(test/fuzz/crashers/$t/*)
  echo "== $t: ${#crashers[@]} crashers and ${#seeds[@]} seeds as regression inputs"
  "$bin" -runs=0 "${crashers[@]}" "${seeds[@]}" 2>&1 | tail -n 2
  work="$dir/corpus/$t"
  rm -rf "$work" && mkdir -p "$work"
  cp "${seeds[@]}" "$work/"
  if [ "$t" = plan ] && [ -n "$llmc" ]; then
    good=test/tools/Inputs/safetensors/good
    "$llmc" compile "$good" -o "$work/fresh-cpu" --target cpu --max-seq-len 16 --max-tokens 4
    "$llmc" compile "$good" -o "$work/fresh-sm90a" --target sm_90a --max-seq-len 16 --max-tokens 4
  fi
  maxlen=()
  [ "$t" = plan ] && maxlen=(-max_len=600000)
  echo "== $t: fuzzing for $seconds s"
  "$bin" "$work" -max_total_time="$seconds" "${maxlen[@]}" \
    -artifact_prefix="$dir/artifacts/$t-" -print_final_stats=1 2>&1 |
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY" || true
  # A crash makes libFuzzer exit non-zero and write an artifact.
  if compgen -G "$dir/artifacts/$t-*" >/dev/null; then
    echo "fuzz.sh: $t: crash inputs in $dir/artifacts/ (add them to test/fuzz/crashers/$t/ with the fix)" >&2
    exit 1
  fi
done
echo "fuzz.sh: all targets clean"
