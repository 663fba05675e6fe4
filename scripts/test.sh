#!/usr/bin/env bash
# Builds llmc and runs every test (lit + FileCheck suite and GoogleTest units)
# through one ctest run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
