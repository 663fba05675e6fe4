#!/usr/bin/env bash
# `cmake --install` of the build into a fresh prefix, then what a product
# does with it (product_checks.sh: find_package(llmc) shared and static,
# pkg-config, examples/embed), each generating the same tokens as the
# installed `llmc run`; then the Debian package of the same files.
#
#   run_install_test.sh <build dir> <cmake> <source dir>
set -euo pipefail
build=$1 cmake=$2 src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log"
for f in "$prefix/bin/llmc" "$prefix/bin/llmc-opt"; do
  [[ -e $f ]] || { echo "FAIL: $f not installed" >&2; exit 1; }
done

# A plan from the installed compiler, and what `llmc run` makes of it.
"$prefix/bin/llmc" compile "$src/test/models/qwen3-f32" --target cpu -o "$tmp/m.plan" --quiet
want=$("$prefix/bin/llmc" run "$tmp/m.plan" --tokens 1,2,3,4,5 --max-new-tokens 8 --num-threads 1)

# shellcheck source=test/install/product_checks.sh
source "$src/test/install/product_checks.sh"
check_products "$prefix" "$tmp/m.plan" "$want" "$tmp" "$cmake" "$src"

# The Debian package of the same files (cpack -G DEB), where dpkg-deb exists.
abi=$(sed -n 's/^#define LLMC_ABI_VERSION \([0-9]*\)$/\1/p' "$prefix/include/llmc/llmc.h")
if command -v dpkg-deb > /dev/null && command -v cpack > /dev/null; then
  (cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/deb" > "$tmp/cpack.log") ||
    { cat "$tmp/cpack.log" >&2; exit 1; }
  deb=$(find "$tmp/deb" -maxdepth 1 -name 'llmc_*.deb' | head -1)
  [[ -n $deb ]] || { echo "FAIL: cpack made no llmc_*.deb" >&2; exit 1; }
  contents=$(dpkg-deb -c "$deb")
  for f in ./usr/include/llmc/llmc.h "libllmc.so.$abi" libllmc.a llmcConfig.cmake \
           llmc.pc ./usr/bin/llmc ./usr/bin/llmc-opt; do
    grep -qF "$f" <<< "$contents" || { echo "FAIL: $deb lacks $f" >&2; exit 1; }
  done
  echo "$(basename "$deb"): $(dpkg-deb -f "$deb" Version), $(grep -c . <<< "$contents") entries"
fi
