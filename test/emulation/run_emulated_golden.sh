#!/usr/bin/env bash
# One golden model on the CUDA backend with its generated kernels emulated on
# the CPU (README.md):
#
#   run_emulated_golden.sh <llmc-emu-compile> <libllmc-fake-cuda-emu.so>
#       <work dir> <run_golden.sh> <llmc> <llmc-compare-logits>
#       [run_golden.sh options...] <model dir>
#
# The plan is compiled for sm_90a (the fake device is an H100) with its
# kernel sources dumped to <work dir>/kernels, which the fake driver builds
# and runs as the backend launches them.
set -euo pipefail
[[ $# -ge 7 ]] || { echo "usage: see $0" >&2; exit 2; }
emu_compile=$1 fake=$2 work=$3 golden=$4
shift 4
rm -rf "$work"
mkdir -p "$work/kernels"
export LLMC_CUDA_DRIVER=$fake
export LLMC_EMU_SOURCES=$work/kernels
export LLMC_EMU_COMPILE=$emu_compile
# Kernels another golden test already built (same source, same emulator) are
# reused from here (EmuCompile.cpp).
export LLMC_EMU_CACHE=${LLMC_EMU_CACHE:-$(dirname "$work")/kernel-cache}
llmc=$1 compare=$2
shift 2
exec bash "$golden" "$llmc" "$compare" --backend cuda \
  --compile-arg --target --compile-arg sm_90a \
  --compile-arg --dump-kernels --compile-arg "$work/kernels" "$@"
