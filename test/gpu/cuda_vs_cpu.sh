#!/usr/bin/env bash
# CUDA against CPU on a random-weight plan of one config (examples/...): same
# greedy tokens over a 20-token prompt and 32 decode steps, logits within
# 2e-2 x max|logit| (bf16). See cuda_vs_cpu.py. Skips (77) without a device.
#
#   cuda_vs_cpu.sh <llmc> <llmc-compare-logits> <model dir or config.json> [cuda_vs_cpu.py args...]
set -euo pipefail
[[ $# -ge 3 ]] || {
  echo "usage: $0 <llmc> <llmc-compare-logits> <model dir or config.json> [cuda_vs_cpu.py args...]" >&2
  exit 2
}
here=$(dirname "$0")
# shellcheck source=test/gpu/gpu_lib.sh
source "$here/gpu_lib.sh"
llmc=$1
compare=$2
config=$3
shift 3
gpu_require "$llmc"
exec "${PYTHON3:-python3}" "$here/cuda_vs_cpu.py" --llmc "$llmc" \
  --compare "$compare" --config "$config" --target "$(gpu_target)" "$@"
