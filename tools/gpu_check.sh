#!/usr/bin/env bash
# The one command for a GPU machine: build, run the CUDA tests, benchmark
# llmc's CUDA backend on random-weight plans, measure the Hugging Face
# transformers baseline on the same configs, and print one table.
#
#   tools/gpu_check.sh [--build-dir DIR] [--skip-build] [--models a,b,...]
#                      [--quick] [--skip-tests] [--skip-bench] [--skip-hf]
#                      [--bandwidth-gbs X] [--work-dir DIR]
#
# Steps, in order:
#  1. configure + build (cmake -G Ninja -DCMAKE_BUILD_TYPE=Release,
#     ninja -j$(nproc)) into --build-dir (default build-gpu); --skip-build
#     uses what is there (bin/llmc, bin/llmc-compare-logits), e.g. what
#     tools/device_bundle.sh built elsewhere for a machine without LLVM/MLIR
#     22. Such an llmc finds this machine's libnvrtc.so.13 (CUDA_HOME, nvcc's
#     toolkit, /usr/local/cuda, the nvidia-cuda-nvrtc Python package) and
#     CUDA headers ($LLMC_CUDA_INCLUDE, else the same places).
#  2. the device check: nvidia-smi must list a GPU. Without one this is where
#     it stops: "gpu_check: no CUDA device (nvidia-smi: ...)", exit 2.
#     The llmc --target is the device's (compute capability 9.0 -> sm_90a,
#     X.Y -> sm_XY; $LLMC_GPU_TARGET overrides).
#  3. ctest -L gpu --output-on-failure (test/gpu: golden models on cuda, cuda
#     against cpu on every examples/ config, compute-sanitizer); --quick
#     leaves out the gpu-slow ones (7B/8B comparisons, racecheck). Where the
#     build directory was not configured from this checkout, the same scripts
#     run directly instead of through ctest.
#  4. per model (default llama-3.2-1b,qwen3-0.6b,llama-3.1-8b; --quick:
#     qwen3-0.6b,llama-3.2-1b): llmc compile examples/<model>
#     --random-weights=1 --target <device's>, then
#     llmc bench <plan> --backend cuda --json [--bandwidth-gbs B].
#     B: --bandwidth-gbs, else a device-to-device copy measured with PyTorch
#     (tools/bench/hf_bench.py --copy-bandwidth; bytes read + written).
#  5. per model: tools/bench/hf_bench.py eager, then compile (torch.compile,
#     static cache), in separate processes; skipped with a note when python3
#     cannot import torch and transformers.
#  6. the summary table: model, llmc prefill tokens/s, llmc decode ms/token at
#     batch 1, bandwidth fraction (weight bytes per decode step / B), HF eager
#     and HF compile decode ms/token.
#
# Output in ${OUT:-./gpu-check-out}, five files (few, so that a device
# machine's $OUT comes back whole): summary.txt (the table and the run's
# facts), summary.json (every measurement), ctest.log, gpu-check.log (this
# script's whole transcript), logs.tar.gz (each command's log and JSON).
# Plans and per-step files live in --work-dir (default <build dir>/gpu-check);
# plans newer than llmc are reused.
#
# The steps can be run apart (--skip-tests, --skip-bench, --skip-hf), e.g. to
# fit machines that limit one command's time; each run rewrites $OUT.
#
# Exit status: 0 all llmc steps passed (HF baseline failures are noted, not
# counted); 1 a test, compile or bench failed; 2 no CUDA device; 64 bad usage.
set -uo pipefail

usage() {
  sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-64}"
}

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=build-gpu
skip_build=0
skip_tests=0
skip_bench=0
skip_hf=0
quick=0
models=""
bandwidth=""
work_dir=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --skip-build) skip_build=1; shift ;;
    --skip-tests) skip_tests=1; shift ;;
    --skip-bench) skip_bench=1; shift ;;
    --skip-hf) skip_hf=1; shift ;;
    --quick) quick=1; shift ;;
    --models) models=${2:?--models needs a value}; shift 2 ;;
    --models=*) models=${1#*=}; shift ;;
    --bandwidth-gbs) bandwidth=${2:?--bandwidth-gbs needs a value}; shift 2 ;;
    --bandwidth-gbs=*) bandwidth=${1#*=}; shift ;;
    --work-dir) work_dir=${2:?--work-dir needs a value}; shift 2 ;;
    --work-dir=*) work_dir=${1#*=}; shift ;;
    -h | --help) usage 0 ;;
    *) echo "gpu_check: unknown argument '$1' (--help lists them)" >&2; exit 64 ;;
  esac
done

cd "$root" || exit 1
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
work_dir=${work_dir:-$build_dir/gpu-check}
[[ $work_dir == /* ]] || work_dir=$root/$work_dir
out=${OUT:-$root/gpu-check-out}
if [[ -z $models ]]; then
  if [[ $quick == 1 ]]; then
    models=qwen3-0.6b,llama-3.2-1b
  else
    models=llama-3.2-1b,qwen3-0.6b,llama-3.1-8b
  fi
fi
IFS=, read -r -a model_list <<<"$models"
for m in "${model_list[@]}"; do
  if [[ ! -f examples/$m/config.json ]]; then
    echo "gpu_check: --models: no examples/$m/config.json" >&2
    exit 64
  fi
done

mkdir -p "$out" "$work_dir/logs" "$work_dir/results" "$work_dir/plans" || exit 1
rm -f "$out/summary.txt" "$out/summary.json" "$out/ctest.log" \
  "$out/gpu-check.log" "$out/logs.tar.gz"
exec > >(tee "$out/gpu-check.log") 2>&1
logs=$work_dir/logs
results=$work_dir/results
status=0
notes=()
note() {
  notes+=("$1")
  echo "gpu_check: $1"
}
step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# pack_output: the logs and JSON into $out/logs.tar.gz. Runs on every exit.
# shellcheck disable=SC2317  # (invoked by the trap)
pack_output() {
  local rc=$?
  [[ -d $logs ]] && tar -C "$work_dir" -czf "$out/logs.tar.gz" logs results 2>/dev/null
  echo "gpu_check: output in $out (exit $rc)"
}
trap pack_output EXIT
trap 'exit 143' TERM INT

echo "gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores"
echo "gpu_check: repo $root ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ', modified'))"
echo "gpu_check: build $build_dir, work $work_dir, output $out, models ${model_list[*]}"

# --- 1. build ---------------------------------------------------------------
if [[ $skip_build == 0 ]]; then
  step "configure + build"
  if ! cmake -G Ninja -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    >"$logs/configure.log" 2>&1; then
    tail -n 40 "$logs/configure.log"
    echo "gpu_check: cmake configure failed (log: $logs/configure.log)" >&2
    exit 1
  fi
  if ! ninja -C "$build_dir" -j"$(nproc)" >"$logs/build.log" 2>&1; then
    tail -n 40 "$logs/build.log"
    echo "gpu_check: build failed (log: $logs/build.log)" >&2
    exit 1
  fi
  tail -n 1 "$logs/build.log"
fi
llmc=$build_dir/bin/llmc
compare=$build_dir/bin/llmc-compare-logits
for b in "$llmc" "$compare"; do
  if [[ ! -x $b ]]; then
    echo "gpu_check: $b not found: build first (without --skip-build, or --build-dir)" >&2
    exit 1
  fi
done

# A carried llmc (tools/device_bundle.sh) needs this machine's NVRTC and CUDA
# headers, which may live elsewhere than on the machine that built it.
cuda_home=${CUDA_HOME:-}
if [[ -z $cuda_home ]] && command -v nvcc >/dev/null 2>&1; then
  cuda_home=$(cd "$(dirname "$(command -v nvcc)")/.." && pwd)
fi
if ldd "$llmc" 2>/dev/null | grep 'libnvrtc.*not found' > /dev/null; then
  pip_nvrtc=$(python3 -c 'import nvidia.cuda_nvrtc as m, os; print(os.path.join(list(m.__path__)[0], "lib"))' 2>/dev/null || true)
  for d in ${cuda_home:+$cuda_home/lib64 $cuda_home/lib} /usr/local/cuda/lib64 \
    /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib $pip_nvrtc; do
    if compgen -G "$d/libnvrtc.so.13*" >/dev/null; then
      export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
      echo "gpu_check: libnvrtc from $d"
      break
    fi
  done
  if ldd "$llmc" | grep 'libnvrtc.*not found' > /dev/null; then
    echo "gpu_check: $llmc needs libnvrtc.so.13, found nowhere (set LD_LIBRARY_PATH)" >&2
    exit 1
  fi
fi
if [[ -z ${LLMC_CUDA_INCLUDE:-} && ! -f /usr/local/cuda/include/cuda_runtime.h ]]; then
  for d in ${cuda_home:+$cuda_home/include} /usr/local/cuda/targets/x86_64-linux/include; do
    if [[ -f $d/cuda_runtime.h ]]; then
      export LLMC_CUDA_INCLUDE=$d
      echo "gpu_check: CUDA headers from $d (LLMC_CUDA_INCLUDE)"
      break
    fi
  done
fi

# --- 2. the device ----------------------------------------------------------
step "device"
gpu_line=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
  smi="nvidia-smi not found"
elif ! smi=$(nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version \
  --format=csv,noheader 2>&1); then
  smi=$(head -n 1 <<<"$smi")
  smi=${smi:-nvidia-smi failed}
elif [[ -z $smi ]]; then
  smi="no GPU listed"
else
  gpu_line=$(head -n 1 <<<"$smi")
fi
if [[ -z ${gpu_line:-} ]]; then
  echo "gpu_check: no CUDA device (nvidia-smi: $smi)" >&2
  printf 'gpu_check: no CUDA device (nvidia-smi: %s)\nStopped after the build, before ctest -L gpu.\n' \
    "$smi" >"$out/summary.txt"
  exit 2
fi
echo "$smi"
# shellcheck source=test/gpu/gpu_lib.sh
source "$root/test/gpu/gpu_lib.sh"
target=$(gpu_target)
if [[ -z $target ]]; then
  echo "gpu_check: cannot derive an llmc --target from nvidia-smi's compute_cap" >&2
  exit 1
fi
export LLMC_GPU_TARGET=$target
echo "gpu_check: llmc --target $target"
# nvidia-smi sees a GPU: the CUDA tests must not skip for want of one.
probe_rc=0
probe=$(gpu_probe "$llmc" 2>&1) || probe_rc=$?
echo "$probe"
if [[ $probe_rc -ne 0 ]]; then
  status=1
  note "the CUDA backend does not run although nvidia-smi lists a GPU: $(tail -n 1 <<<"$probe")"
fi

have_torch=0
torch_error=$(python3 -c 'import torch, transformers' 2>&1 | tail -n 1) && have_torch=1

# --- 3. tests ---------------------------------------------------------------
tests_summary="not run (--skip-tests)"
if [[ $skip_tests == 0 ]]; then
  step "ctest -L gpu"
  ctest_filter=(-L gpu)
  [[ $quick == 1 ]] && ctest_filter+=(-LE gpu-slow)
  home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
  if [[ -f $build_dir/CTestTestfile.cmake && $home -ef $root ]]; then
    ctest --test-dir "$build_dir" "${ctest_filter[@]}" --output-on-failure \
      >"$out/ctest.log" 2>&1
    rc=$?
    grep -E "tests passed|\(Failed|\(Not Run|\(Timeout|\(Skipped|^Total Test time" "$out/ctest.log"
    tests_summary=$(grep -E "tests passed" "$out/ctest.log" | tail -n 1)
    skipped=$(grep -c "(Skipped)" "$out/ctest.log")
    tests_summary="${tests_summary:-ctest gave no summary}; $skipped skipped"
  else
    # Not configured from this checkout (a carried build): the same scripts,
    # directly.
    echo "gpu_check: $build_dir is not a ctest tree of $root: running test/gpu's scripts directly"
    rc=0
    passed=0 failed=0 skipped=0 failures=""
    run_test() { # name, command...
      local name=$1 trc=0
      shift
      echo "--- $name" >>"$out/ctest.log"
      "$@" >>"$out/ctest.log" 2>&1 || trc=$?
      case $trc in
        0) passed=$((passed + 1)); echo "$name: passed" ;;
        77) skipped=$((skipped + 1)); echo "$name: skipped" ;;
        *) failed=$((failed + 1)); failures+=" $name"; rc=1; echo "$name: FAILED ($trc)" ;;
      esac
    }
    : >"$out/ctest.log"
    run_test gpu.probe bash test/gpu/probe.sh "$llmc" "$work_dir/probe.result"
    export LLMC_GPU_PROBE_RESULT=$work_dir/probe.result
    for g in test/models/*/golden.json; do
      d=$(dirname "$g")
      run_test "gpu.golden.$(basename "$d")" bash test/gpu/golden.sh "$llmc" "$compare" "$d"
    done
    run_test gpu.golden.mistral-f32-chunked bash test/gpu/golden.sh "$llmc" "$compare" \
      --compile-arg --max-tokens --compile-arg 4 test/models/mistral-f32
    for c in examples/*/config.json; do
      d=$(dirname "$c")
      case $(basename "$d") in
        *7b* | *8b*) [[ $quick == 1 ]] && continue ;;
      esac
      # As test/gpu/CMakeLists.txt: Mixture-of-Experts examples (60 GB to
      # 2 TB of weights) are checked on the golden MoE models instead.
      grep -qE '"(num_local_experts|num_experts|n_routed_experts)"' "$c" && continue
      run_test "gpu.cuda-vs-cpu.$(basename "$d")" bash test/gpu/cuda_vs_cpu.sh "$llmc" "$compare" "$d"
    done
    run_test gpu.memcheck.qwen3-0.6b bash test/gpu/sanitizer.sh "$llmc" memcheck examples/qwen3-0.6b
    [[ $quick == 1 ]] ||
      run_test gpu.racecheck.qwen3-0.6b bash test/gpu/sanitizer.sh "$llmc" racecheck examples/qwen3-0.6b
    tests_summary="$passed passed, $failed failed, $skipped skipped (direct)${failures:+; failed:$failures}"
  fi
  if [[ $rc -ne 0 ]]; then
    status=1
    note "CUDA tests failed: $tests_summary (see ctest.log)"
  fi
  echo "gpu_check: tests: $tests_summary"
fi

# --- 4. llmc bench ----------------------------------------------------------
if [[ $skip_bench == 0 ]]; then
  if [[ -z $bandwidth && $have_torch == 1 ]]; then
    step "copy bandwidth (PyTorch)"
    if python3 tools/bench/hf_bench.py --copy-bandwidth -o "$results/copy-bandwidth.json" \
      >"$logs/copy-bandwidth.log" 2>&1; then
      bandwidth=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["copy_gbs"])' \
        "$results/copy-bandwidth.json")
      echo "gpu_check: device-to-device copy: $bandwidth GB/s (read + write)"
    else
      tail -n 5 "$logs/copy-bandwidth.log"
      note "copy bandwidth not measured (see logs/copy-bandwidth.log): no bandwidth fraction"
    fi
  elif [[ -z $bandwidth ]]; then
    note "no PyTorch to measure the copy bandwidth and no --bandwidth-gbs: no bandwidth fraction"
  fi
  bench_args=()
  [[ $quick == 1 ]] && bench_args=(--prompt-lengths 128 --batch 1 --repeats 1 --decode-steps 16)
  [[ -n $bandwidth ]] && bench_args+=(--bandwidth-gbs "$bandwidth")
  for m in "${model_list[@]}"; do
    step "llmc: $m"
    plan=$work_dir/plans/$m.$target.plan
    rm -f "$results/llmc-$m.json"
    if [[ -f $plan && $plan -nt $llmc && $plan -nt examples/$m/config.json ]]; then
      echo "gpu_check: reusing $plan"
    else
      start=$SECONDS
      if ! "$llmc" compile "examples/$m" --random-weights=1 --target "$target" \
        -o "$plan" >"$logs/compile-$m.log" 2>&1; then
        tail -n 20 "$logs/compile-$m.log"
        status=1
        note "$m: llmc compile failed (logs/compile-$m.log)"
        continue
      fi
      echo "gpu_check: compiled $plan in $((SECONDS - start)) s"
    fi
    if "$llmc" bench "$plan" --backend cuda --json ${bench_args[@]+"${bench_args[@]}"} \
      >"$results/llmc-$m.json" 2>"$logs/bench-$m.log"; then
      cat "$results/llmc-$m.json"
    else
      cat "$logs/bench-$m.log"
      rm -f "$results/llmc-$m.json"
      status=1
      note "$m: llmc bench --backend cuda failed (logs/bench-$m.log)"
    fi
  done
fi

# --- 5. Hugging Face baseline ------------------------------------------------
if [[ $skip_hf == 0 ]]; then
  if [[ $have_torch == 0 ]]; then
    note "HF baseline skipped: python3 cannot import torch and transformers ($torch_error)"
  else
    hf_args=()
    [[ $quick == 1 ]] && hf_args=(--prompt-lengths 128 --repeats 1 --decode-steps 16)
    for m in "${model_list[@]}"; do
      for mode in eager compile; do
        step "HF $mode: $m"
        rm -f "$results/hf-$mode-$m.json"
        if PYTHONUNBUFFERED=1 python3 tools/bench/hf_bench.py "examples/$m" --modes "$mode" \
          ${hf_args[@]+"${hf_args[@]}"} -o "$results/hf-$mode-$m.json" \
          >"$logs/hf-$mode-$m.log" 2>&1; then
          grep '^hf_bench:' "$logs/hf-$mode-$m.log"
        else
          tail -n 15 "$logs/hf-$mode-$m.log"
          rm -f "$results/hf-$mode-$m.json"
          note "$m: HF $mode failed (logs/hf-$mode-$m.log)"
        fi
      done
    done
  fi
fi

# --- 6. summary ---------------------------------------------------------------
step "summary"
printf '%s\n' "${notes[@]+"${notes[@]}"}" >"$work_dir/notes.txt"
python3 - "$results" "$out" "$gpu_line" "$target" "${bandwidth:-}" "$tests_summary" \
  "$work_dir/notes.txt" "${model_list[@]}" <<'EOF'
import json, os, sys, datetime
results, out, gpu, target, bw, tests, notes_file = sys.argv[1:8]
models = sys.argv[8:]
bw = float(bw) if bw else None
notes = [n for n in open(notes_file).read().splitlines() if n]

def load(name):
    p = os.path.join(results, name)
    return json.load(open(p)) if os.path.exists(p) else None

def decode_b1(d):
    for e in (d or {}).get("decode", []):
        if e.get("batch") == 1:
            return e
    return None

rows, data = [], {}
for m in models:
    llmc = load(f"llmc-{m}.json")
    hf = {mode: load(f"hf-{mode}-{m}.json") for mode in ("eager", "compile")}
    data[m] = {"llmc": llmc, "hf_eager": hf["eager"], "hf_compile": hf["compile"]}
    pre = max((llmc or {}).get("prefill", []), key=lambda e: e["tokens"], default=None)
    dec = decode_b1(llmc)
    frac = None
    if dec and bw:
        frac = dec["weight_gbs"] / bw
    hfd = {mode: decode_b1((hf[mode] or {}).get("results", {}).get(mode))
           for mode in hf}
    def f(v, fmt):
        return fmt % v if v is not None else "-"
    rows.append([
        m,
        f"{pre['tokens_per_s']:.0f} @{pre['tokens']}" if pre else "-",
        f(dec and dec["ms_per_step"], "%.3f"),
        f(dec and dec.get("weight_gbs"), "%.0f"),
        f(frac and 100 * frac, "%.1f%%"),
        f(hfd["eager"] and hfd["eager"]["ms_per_step"], "%.3f"),
        f(hfd["compile"] and hfd["compile"]["ms_per_step"], "%.3f"),
    ])

head = ["model", "llmc prefill tok/s", "llmc decode ms/tok b=1",
        "weight GB/s", "bandwidth fraction", "HF eager ms/tok", "HF compile ms/tok"]
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
table = "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])
text = [
    f"gpu_check {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
    f"device: {gpu}",
    f"llmc --target {target}; plans: --random-weights=1 (bf16), llmc bench defaults"
    " unless --quick",
    f"bandwidth for the fraction: {bw} GB/s" if bw else
    "bandwidth for the fraction: none (no PyTorch and no --bandwidth-gbs)",
    f"CUDA tests: {tests}",
    "",
    table,
    "",
    "llmc prefill: tokens/s at the longest prompt measured; decode: ms per step"
    " at batch 1 (llmc bench, wall clock around each call);",
    "weight GB/s = weight bytes / decode step; bandwidth fraction = that / the"
    " bandwidth above; HF: tools/bench/hf_bench.py (generate, CUDA events).",
]
if notes:
    text += ["", "notes:"] + ["  " + n for n in notes]
text = "\n".join(text) + "\n"
open(os.path.join(out, "summary.txt"), "w").write(text)
json.dump({"device": gpu, "target": target, "bandwidth_gbs": bw, "tests": tests,
           "notes": notes, "models": data},
          open(os.path.join(out, "summary.json"), "w"), indent=2)
print(text, end="")
EOF
exit "$status"
