# Sourced by run_install_test.sh and run_runtime_only_test.sh: what a product
# does with an installed llmc runtime at $prefix, each way checked to generate
# the tokens `llmc run` generated ($want) for the plan $plan:
#  - the shared library exports only llmc_* and carries its ABI version;
#  - a CMake project with find_package(llmc) (shared and static) and a plain
#    cc with pkg-config build test/install/consumer/main.c;
#  - examples/embed links the plan into its binary and opens it in place.
#
#   check_products <prefix> <plan> <want> <work dir> <cmake> <source dir>
check_products() {
  local prefix=$1 plan=$2 want=$3 tmp=$4 cmake=$5 src=$6
  local libdir abi soname others got exe
  libdir=$(dirname "$(find "$prefix" -name 'libllmc.so.*' -type f | head -1)")
  for f in "$prefix/include/llmc/llmc.h" "$libdir/libllmc.a" \
           "$libdir/cmake/llmc/llmcConfig.cmake" "$libdir/pkgconfig/llmc.pc"; do
    [[ -e $f ]] || { echo "FAIL: $f not installed" >&2; return 1; }
  done
  abi=$(sed -n 's/^#define LLMC_ABI_VERSION \([0-9]*\)$/\1/p' "$prefix/include/llmc/llmc.h")
  soname=$(readelf -d "$libdir/libllmc.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
  [[ $soname == "libllmc.so.$abi" ]] || { echo "FAIL: soname $soname, ABI $abi" >&2; return 1; }
  others=$(nm -D --defined-only "$libdir/libllmc.so" | awk '{print $3}' |
           grep -v -e '^llmc_' -e '^LLMC_' || true)
  [[ -z $others ]] || { echo "FAIL: libllmc.so exports more than llmc_*:" >&2; echo "$others" >&2; return 1; }
  echo "libllmc.so: soname $soname, $(nm -D --defined-only "$libdir/libllmc.so" | grep -c ' llmc_') llmc_* functions"

  "$cmake" -S "$src/test/install/consumer" -B "$tmp/consumer" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/configure.log" ||
    { cat "$tmp/configure.log" >&2; return 1; }
  "$cmake" --build "$tmp/consumer" > "$tmp/build.log" ||
    { cat "$tmp/build.log" >&2; return 1; }
  # shellcheck disable=SC2046
  PKG_CONFIG_PATH=$libdir/pkgconfig cc -std=c99 -Wall -Werror -pedantic \
    "$src/test/install/consumer/main.c" \
    $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs llmc) \
    -Wl,-rpath,"$libdir" -o "$tmp/consumer_pc"

  # examples/embed: the plan linked into the program, opened in place.
  "$cmake" -S "$src/examples/embed" -B "$tmp/embed" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" -DLLMC_PLAN="$plan" > "$tmp/configure.log" ||
    { cat "$tmp/configure.log" >&2; return 1; }
  "$cmake" --build "$tmp/embed" > "$tmp/build.log" ||
    { cat "$tmp/build.log" >&2; return 1; }
  got=$("$tmp/embed/embed" 1,2,3,4,5 8)
  [[ $got == "$want" ]] ||
    { echo "FAIL: examples/embed generated $got, llmc run $want" >&2; return 1; }
  echo "embed ($(stat -c %s "$tmp/embed/embed") bytes with its plan): $got"

  for exe in "$tmp/consumer/consumer" "$tmp/consumer/consumer_static" "$tmp/consumer_pc"; do
    got=$("$exe" "$plan")
    if [[ $got != "$want" ]]; then
      echo "FAIL: $exe generated $got, llmc run $want" >&2
      return 1
    fi
    echo "$(basename "$exe"): $got"
  done
  # ldd's whole output first: `ldd | grep -q` under pipefail fails whenever
  # grep exits before ldd has written everything (SIGPIPE), as it once did.
  local deps
  deps=$(ldd "$tmp/consumer/consumer")
  grep -q "libllmc.so.$abi" <<< "$deps" ||
    { echo "FAIL: consumer does not load libllmc.so.$abi" >&2; return 1; }
  deps=$(ldd "$tmp/consumer/consumer_static")
  if grep -q libllmc <<< "$deps"; then
    echo "FAIL: consumer_static loads libllmc.so" >&2; return 1
  fi
  echo "installed llmc $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --modversion llmc) works from CMake and pkg-config"
}
