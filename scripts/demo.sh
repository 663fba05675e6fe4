#!/usr/bin/env bash
# Installs what is needed, builds, compiles the bundled tiny Llama checkpoint
# to a plan, inspects it and generates with it on the CPU backend, then turns
# every bundled example config into llm IR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/examples
model=test/models/llama-f32
echo "== llmc compile $model -o build/examples/llama.plan =="
build/bin/llmc compile "$model" -o build/examples/llama.plan
build/bin/llmc inspect build/examples/llama.plan | sed -n '1,20p'
echo "== llmc run: 8 greedy tokens after a 6-token prompt =="
build/bin/llmc run build/examples/llama.plan --backend cpu --tokens 1,2,3,4,5,6 --max-new-tokens 8 --timing
echo
for dir in examples/*/; do
  name=$(basename "$dir")
  [[ -f $dir/config.json ]] || continue  # examples/embed: a program, not a model
  # DeepSeek V3.2's sparse-attention indexer is not built: llmc refuses it
  # by name (examples/README.md).
  if [[ $name == deepseek-v3.2 ]]; then
    build/bin/llmc compile "$dir" --emit=llm -o "build/examples/$name.mlir" ||
      echo "refused $dir, as expected"
    continue
  fi
  build/bin/llmc compile "$dir" --emit=llm --quiet -o "build/examples/$name.mlir"
  echo "compiled $dir -> build/examples/$name.mlir ($(wc -l < "build/examples/$name.mlir") lines of llm IR)"
done
echo
echo "== llm IR of Qwen3-0.6B, first lines =="
sed -n '1,40p' build/examples/qwen3-0.6b.mlir
