#!/usr/bin/env bash
# Builds llmc with AddressSanitizer + UBSan in the given directory (default
# build-asan/) and runs every bad-input and unit test there. Called by the
# ctest entry `bad-input-asan`; can be run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-asan}
# -O0 -g1: the sanitizers find the same bugs at -O0, and this build is
# compiled far more often than its tests run: an ASan TU at -O2 -g took 4x
# the release build's time (LLMOps.cpp: 60 s against 14 s), at -O0 -g1 1.1x.
# -g1 keeps file:line in the reports' stack traces. NDEBUG as in release.
cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" -DLLMC_SANITIZE=ON >/dev/null
# Only what the bad-input and unit tests run (not the emulator's tools).
cmake --build "$dir" --target llmc llmc-opt llmc-compare-logits \
  llmc-unit-tests llmc-codegen-tests llmc-cuda-driver-tests \
  llmc-cuda-backend-tests llmc-safetensors-tests llmc-runtime-tests \
  llmc-plan-writer-tests
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
