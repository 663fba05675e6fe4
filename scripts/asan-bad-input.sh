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
# use_sigaltstack=0: NVRTC replaces the alternate signal stack of the
# threads that compile, and ASan then fails to unmap its own at thread exit
# ("unable to unmap", CompileAll tests); ASan needs none of it here.
# allocator_may_return_null=1: an impossible allocation throws std::bad_alloc
# (as it does without ASan), which the runtime reports as out of memory.
# allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons its slabs when its
# header is compiled with ASan (our code) but libMLIR, built without it,
# never unpoisons what it allocates from the same slabs; MLIR's storage
# uniquer then reports use-after-poison on its own allocations, depending
# only on which side happened to start a slab.
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:use_sigaltstack=0:allocator_may_return_null=1:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir "$dir" -L "badinput|unit" --output-on-failure
