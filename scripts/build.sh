#!/usr/bin/env bash
# Configures and builds llmc into ./build (Release, Ninja, ccache if present).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build
