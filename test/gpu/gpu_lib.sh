# Sourced by the test/gpu scripts (and tools/gpu_check.sh): find the GPU
# target and decide whether the CUDA backend can start here.
#
# A test needs the device: it calls `gpu_require <llmc>`, which returns when
# `llmc run --backend cuda` works and otherwise ends the script with
#   exit 77  "no CUDA device: <reason>"  (ctest's SKIP_RETURN_CODE) when the
#            runtime says there is no driver, cuInit failed, no device, or the
#            CUDA backend is not built in;
#   exit 1   with llmc's output for any other failure (a real failure).
#
# The probe compiles the tiny golden model test/models/qwen3-bf16 for the
# device's target and runs one token on it. ctest's gpu.probe fixture runs it
# once per ctest run and leaves its verdict in $LLMC_GPU_PROBE_RESULT, which
# the other tests then read instead of probing again.

# shellcheck shell=bash

LLMC_GPU_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LLMC_SOURCE_DIR=$(cd "$LLMC_GPU_LIB_DIR/../.." && pwd)

# llmc's --target for the device: $LLMC_GPU_TARGET if set, else from
# nvidia-smi's compute capability of the first GPU (9.0 -> sm_90a, the
# Hopper-specific target; X.Y -> sm_XY otherwise). Prints nothing when there is
# no nvidia-smi, so that llmc's default target applies.
gpu_target() {
  if [[ -n ${LLMC_GPU_TARGET:-} ]]; then
    echo "$LLMC_GPU_TARGET"
    return 0
  fi
  command -v nvidia-smi >/dev/null 2>&1 || return 0
  local cap
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null |
    head -n 1 | tr -d ' \r') || return 0
  case $cap in
    9.0) echo sm_90a ;;
    [0-9].[0-9] | [0-9][0-9].[0-9]) echo "sm_${cap/./}" ;;
  esac
  return 0
}

# `--target X` for llmc compile, as words (none when the target is unknown).
gpu_target_args() {
  local t
  t=$(gpu_target)
  if [[ -n $t ]]; then
    echo "--target $t"
  fi
}

# The runtime's messages that mean "this machine cannot run CUDA", as an
# extended regular expression.
LLMC_GPU_SKIP_PATTERN='no CUDA driver|cuInit failed|no CUDA device|CUDA backend not built in this runtime'

# gpu_probe <llmc>: prints the verdict and returns 0 (usable), 77 (skip) or 1.
gpu_probe() {
  local llmc=$1 tmp rc out target_args
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-gpu-probe.XXXXXX")
  # shellcheck disable=SC2207
  target_args=($(gpu_target_args))
  if ! out=$("$llmc" compile "$LLMC_SOURCE_DIR/test/models/qwen3-bf16" \
    -o "$tmp/probe.plan" ${target_args[@]+"${target_args[@]}"} 2>&1); then
    rm -rf "$tmp"
    echo "gpu probe: llmc compile failed:" >&2
    echo "$out" >&2
    return 1
  fi
  rc=0
  out=$("$llmc" run "$tmp/probe.plan" --backend cuda --tokens 1 \
    --max-new-tokens 1 2>&1) || rc=$?
  rm -rf "$tmp"
  if [[ $rc -eq 0 ]]; then
    local shown=${target_args[*]:-the default target}
    echo "gpu probe: the CUDA backend runs (llmc compile ${shown})"
    return 0
  fi
  local reason
  reason=$(grep -E -m 1 "$LLMC_GPU_SKIP_PATTERN" <<<"$out" || true)
  if [[ -n $reason ]]; then
    reason=${reason#llmc: error: }
    case $reason in
      "no CUDA device"*) echo "$reason" ;;
      *) echo "no CUDA device: $reason" ;;
    esac
    return 77
  fi
  echo "gpu probe: llmc run --backend cuda failed (exit $rc):" >&2
  echo "$out" >&2
  return 1
}

# gpu_require <llmc>: returns if the CUDA backend runs, else exits the script
# (77 = skip, 1 = failure). Uses the cached verdict of ctest's gpu.probe when
# it is newer than llmc and at most a day old.
gpu_require() {
  local llmc=$1 cache=${LLMC_GPU_PROBE_RESULT:-} verdict rc
  if [[ -n $cache && -f $cache && $cache -nt $llmc &&
    -n $(find "$cache" -mmin -1440 2>/dev/null) ]]; then
    verdict=$(head -n 1 "$cache")
    case $verdict in
      ok) return 0 ;;
      skip\ *)
        echo "${verdict#skip }"
        exit 77
        ;;
    esac
  fi
  rc=0
  verdict=$(gpu_probe "$llmc") || rc=$?
  echo "$verdict"
  case $rc in
    0) return 0 ;;
    77) exit 77 ;;
    *) exit 1 ;;
  esac
}

# The compute-sanitizer executable, or nothing.
gpu_sanitizer() {
  if [[ -n ${LLMC_COMPUTE_SANITIZER:-} ]]; then
    echo "$LLMC_COMPUTE_SANITIZER"
  elif [[ -x /usr/local/cuda/bin/compute-sanitizer ]]; then
    echo /usr/local/cuda/bin/compute-sanitizer
  else
    command -v compute-sanitizer 2>/dev/null || true
  fi
}
