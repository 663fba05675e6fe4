#!/usr/bin/env bash
# Builds llmc with AddressSanitizer + UBSan in the given directory (default
# build-asan/) and runs every bad-input and unit test there. Called by the
# ctest entry `bad-input-asan`; can be run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-asan}
cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMC_SANITIZE=ON >/dev/null
cmake --build "$dir"
# Leaks are checked too; UBSan findings are fatal (-fno-sanitize-recover).
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir "$dir" -L "badinput|unit" --output-on-failure
