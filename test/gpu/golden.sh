#!/usr/bin/env bash
# A golden model of test/models on the CUDA backend: test/models/run_golden.sh
# with --backend cuda and the device's --target, so the same tokens and the
# same tolerance (golden.json's rel_tolerance: 1e-4 x max|logit| for the -f32
# models, 2e-2 for the -bf16 ones) as on the CPU. Skips (77) without a device.
#
#   golden.sh <llmc> <llmc-compare-logits> [--compile-arg X]... <model dir> [llmc run args...]
set -euo pipefail
[[ $# -ge 3 ]] || {
  echo "usage: $0 <llmc> <llmc-compare-logits> [--compile-arg X]... <model dir> [llmc run args...]" >&2
  exit 2
}
here=$(dirname "$0")
# shellcheck source=test/gpu/gpu_lib.sh
source "$here/gpu_lib.sh"
llmc=$1
compare=$2
shift 2
gpu_require "$llmc"
target=$(gpu_target)
target_args=()
if [[ -n $target ]]; then
  target_args=(--compile-arg --target --compile-arg "$target")
fi
exec bash "$LLMC_SOURCE_DIR/test/models/run_golden.sh" "$llmc" "$compare" \
  --backend cuda ${target_args[@]+"${target_args[@]}"} "$@"
