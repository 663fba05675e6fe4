#!/usr/bin/env bash
# Installs every system package llmc needs on Debian 12 (bookworm). Safe to
# re-run: apt-get skips what is already installed. Run as root or with sudo.
# LLVM/MLIR 22 come from bookworm-security; the CUDA 13 toolkit is expected at
# /usr/local/cuda (NVIDIA's installer; it is not a Debian package).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache git python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libflatbuffers-dev flatbuffers-compiler
  nlohmann-json3-dev libgtest-dev libxxhash-dev
  libboost-context-dev  # the kernel emulator's fibers (test/emulation/cuda_emu.h)
  libsodium-dev  # Ed25519 plan signatures
  libzstd-dev  # for tools/device_bundle.sh: the static LLVMSupport links zstd
  pkg-config  # test/install: a product building against llmc.pc
  python3-venv  # test/python: pip install . into a fresh virtual environment
  clang-22 libclang-rt-22-dev  # the libFuzzer targets (scripts/fuzz.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  echo "setup: warning: no CUDA toolkit at /usr/local/cuda (needed for NVRTC)" >&2
fi
echo "setup: all packages present"
