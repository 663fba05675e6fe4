#!/usr/bin/env bash
# The runtime built alone (-DLLMC_BUILD_COMPILER=OFF) in a clean directory,
# with MLIR, LLVM and the CUDA toolkit hidden from CMake: it must configure,
# build, pass its own tests (the runtime's unit tests), install, and serve a
# product as the full build's install does (product_checks.sh), generating
# the tokens the full build's `llmc run` generates for the same plan.
#
#   run_runtime_only_test.sh <llmc> <cmake> <source dir>
set -euo pipefail
llmc=$1 cmake=$2 src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-runtime-only.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ctest=$(dirname "$cmake")/ctest

"$cmake" -G Ninja -S "$src" -B "$tmp/build" -DLLMC_BUILD_COMPILER=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_MLIR=ON -DCMAKE_DISABLE_FIND_PACKAGE_LLVM=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON > "$tmp/configure.log" ||
  { cat "$tmp/configure.log" >&2; exit 1; }
"$cmake" --build "$tmp/build" > "$tmp/build.log" ||
  { cat "$tmp/build.log" >&2; exit 1; }
# Nothing compiled saw LLVM's, MLIR's or the CUDA toolkit's headers.
if grep -E -e '/llvm-[0-9]+/|/mlir|/usr/local/cuda|/cuda-[0-9]' \
     "$tmp/build/compile_commands.json"; then
  echo "FAIL: the runtime-only build compiled against LLVM/MLIR/CUDA headers" >&2
  exit 1
fi
[[ ! -e $tmp/build/bin/llmc ]] || { echo "FAIL: a runtime-only build built llmc" >&2; exit 1; }
(cd "$tmp/build" && "$ctest" -j2 --output-on-failure > "$tmp/ctest.log") ||
  { tail -40 "$tmp/ctest.log" >&2; exit 1; }
grep -E "tests passed" "$tmp/ctest.log"
echo "libllmc.so links: $(ldd "$tmp/build/runtime/libllmc.so" | awk '{print $1}' | tr '\n' ' ')"

prefix=$tmp/prefix
"$cmake" --install "$tmp/build" --prefix "$prefix" > "$tmp/install.log"
[[ ! -e $prefix/bin/llmc ]] || { echo "FAIL: a runtime-only install has llmc" >&2; exit 1; }

"$llmc" compile "$src/test/models/qwen3-f32" --target cpu -o "$tmp/m.plan" --quiet
want=$("$llmc" run "$tmp/m.plan" --tokens 1,2,3,4,5 --max-new-tokens 8 --num-threads 1)
# shellcheck source=test/install/product_checks.sh
source "$src/test/install/product_checks.sh"
check_products "$prefix" "$tmp/m.plan" "$want" "$tmp" "$cmake" "$src"
