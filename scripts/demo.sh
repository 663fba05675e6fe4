#!/usr/bin/env bash
# Installs what is needed, builds, and turns every bundled example config into
# llm IR, printing the IR of one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/examples
for dir in examples/*/; do
  name=$(basename "$dir")
  build/bin/llmc compile "$dir" --emit=llm -o "build/examples/$name.mlir"
  echo "compiled $dir -> build/examples/$name.mlir ($(wc -l < "build/examples/$name.mlir") lines of llm IR)"
done
echo
echo "== llm IR of Qwen3-0.6B, first layer =="
sed -n '1,40p' build/examples/qwen3-0.6b.mlir
