#!/usr/bin/env bash
# Builds the llmc that tools/gpu_check.sh runs on a GPU machine without
# LLVM/MLIR 22 (the `device` tool's image has the CUDA toolkit, CMake and
# PyTorch, but no LLVM, MLIR or flatbuffers): llmc and llmc-compare-logits
# linked statically against LLVM, MLIR and xxhash (-DLLMC_STATIC_LLVM=ON),
# stripped, in <build dir>/bin.
#
#   tools/device_bundle.sh [--build-dir DIR]      (default build-device)
#
# Then, on the GPU machine, in a checkout of the same commit with DIR/bin
# copied in (the device tool: carry ["build-device/bin"]):
#
#   tools/gpu_check.sh --skip-build --build-dir build-device
#
# The binaries still need the machine's libnvrtc.so.13 and CUDA headers,
# which gpu_check.sh looks for (LLMC_CUDA_INCLUDE, CUDA_HOME, /usr/local/cuda,
# the nvidia-cuda-nvrtc Python package).
#
# Exit status: 0 built; 1 a build step failed, or the result still needs a
# shared LLVM/MLIR library or exceeds 64 MiB; 64 bad usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=build-device
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device_bundle: unknown argument '$1' (--help lists them)" >&2; exit 64 ;;
  esac
done
[[ $build_dir == /* ]] || build_dir=$root/$build_dir

cmake -G Ninja -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DLLMC_STATIC_LLVM=ON >"$build_dir.configure.log" 2>&1 || {
  tail -n 30 "$build_dir.configure.log"
  echo "device_bundle: configure failed (log: $build_dir.configure.log)" >&2
  exit 1
}
rm -f "$build_dir.configure.log"
ninja -C "$build_dir" llmc llmc-compare-logits
bins=("$build_dir/bin/llmc" "$build_dir/bin/llmc-compare-logits")
strip "${bins[@]}"

for b in "${bins[@]}"; do
  if ldd "$b" | grep -E 'libLLVM|libMLIR|libxxhash|not found'; then
    echo "device_bundle: $b still needs the libraries above" >&2
    exit 1
  fi
done
"$build_dir/bin/llmc" --version >/dev/null
bytes=$(du -cb "${bins[@]}" | tail -n 1 | cut -f1)
if ((bytes > 64 * 1024 * 1024)); then
  echo "device_bundle: $bytes bytes exceed the device tool's 64 MiB carry" >&2
  exit 1
fi
ls -l "${bins[@]}"
echo "device_bundle: shared libraries still needed:"
ldd "$build_dir/bin/llmc" | awk '{print "  " $1}'
echo "device_bundle: $bytes bytes in $build_dir/bin; on the GPU machine:"
echo "  tools/gpu_check.sh --skip-build --build-dir ${build_dir#"$root"/}"
