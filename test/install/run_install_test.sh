#!/usr/bin/env bash
# `cmake --install` of the build into a fresh prefix, then what a product
# does with it: a CMake project with find_package(llmc) (shared and static)
# and a plain cc with pkg-config build test/install/consumer/main.c, and
# examples/embed links a plan into its binary; each generates the same
# tokens as the installed `llmc run`. Also: the
# shared library exports only llmc_* and carries its ABI version.
#
#   run_install_test.sh <build dir> <cmake> <source dir>
set -euo pipefail
build=$1 cmake=$2 src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmc-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log"
libdir=$(dirname "$(find "$prefix" -name 'libllmc.so.*' -type f | head -1)")
for f in "$prefix/include/llmc/llmc.h" "$libdir/libllmc.a" \
         "$libdir/cmake/llmc/llmcConfig.cmake" "$libdir/pkgconfig/llmc.pc" \
         "$prefix/bin/llmc" "$prefix/bin/llmc-opt"; do
  [[ -e $f ]] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
abi=$(sed -n 's/^#define LLMC_ABI_VERSION \([0-9]*\)$/\1/p' "$prefix/include/llmc/llmc.h")
soname=$(readelf -d "$libdir/libllmc.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == "libllmc.so.$abi" ]] || { echo "FAIL: soname $soname, ABI $abi" >&2; exit 1; }
others=$(nm -D --defined-only "$libdir/libllmc.so" | awk '{print $3}' |
         grep -v -e '^llmc_' -e '^LLMC_' || true)
[[ -z $others ]] || { echo "FAIL: libllmc.so exports more than llmc_*:" >&2; echo "$others" >&2; exit 1; }
echo "libllmc.so: soname $soname, $(nm -D --defined-only "$libdir/libllmc.so" | grep -c ' llmc_') llmc_* functions"

# A plan from the installed compiler, and what `llmc run` makes of it.
"$prefix/bin/llmc" compile "$src/test/models/qwen3-f32" --target cpu -o "$tmp/m.plan" --quiet
want=$("$prefix/bin/llmc" run "$tmp/m.plan" --tokens 1,2,3,4,5 --max-new-tokens 8 --num-threads 1)

"$cmake" -S "$src/test/install/consumer" -B "$tmp/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/configure.log" ||
  { cat "$tmp/configure.log" >&2; exit 1; }
"$cmake" --build "$tmp/consumer" > "$tmp/build.log" ||
  { cat "$tmp/build.log" >&2; exit 1; }
export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
cc -std=c99 -Wall -Werror -pedantic "$src/test/install/consumer/main.c" \
  $(pkg-config --cflags --libs llmc) -Wl,-rpath,"$libdir" -o "$tmp/consumer_pc"

# examples/embed: the plan linked into the program, opened in place.
"$cmake" -S "$src/examples/embed" -B "$tmp/embed" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DLLMC_PLAN="$tmp/m.plan" > "$tmp/configure.log" ||
  { cat "$tmp/configure.log" >&2; exit 1; }
"$cmake" --build "$tmp/embed" > "$tmp/build.log" ||
  { cat "$tmp/build.log" >&2; exit 1; }
got=$("$tmp/embed/embed" 1,2,3,4,5 8)
[[ $got == "$want" ]] ||
  { echo "FAIL: examples/embed generated $got, llmc run $want" >&2; exit 1; }
echo "embed ($(stat -c %s "$tmp/embed/embed") bytes with its plan): $got"

for exe in "$tmp/consumer/consumer" "$tmp/consumer/consumer_static" "$tmp/consumer_pc"; do
  got=$("$exe" "$tmp/m.plan")
  if [[ $got != "$want" ]]; then
    echo "FAIL: $exe generated $got, llmc run $want" >&2
    exit 1
  fi
  echo "$(basename "$exe"): $got"
done
ldd "$tmp/consumer/consumer" | grep -q "libllmc.so.$abi" ||
  { echo "FAIL: consumer does not load libllmc.so.$abi" >&2; exit 1; }
if ldd "$tmp/consumer/consumer_static" | grep -q libllmc; then
  echo "FAIL: consumer_static loads libllmc.so" >&2; exit 1
fi
echo "installed llmc $(pkg-config --modversion llmc) works from CMake and pkg-config"

# The Debian package of the same files (cpack -G DEB), where dpkg-deb exists.
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
