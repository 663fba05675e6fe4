#!/usr/bin/env bash
# Times `llmc compile` against a plain copy of the same checkpoint's weight
# bytes, on the same disk, in one run (docs/PERF.md, "Compile speed"):
#
#   tools/bench/compile_vs_copy.sh <checkpoint dir> <scratch dir> [runs] \
#       [-- llmc compile options]
#
# Each run drops the page cache first when it can (root), so both start
# cold; otherwise both run with whatever the cache holds, which the output
# says. The copy is `cat <shards> > <scratch>/copy.bin && sync`; the compile
# is `llmc compile <checkpoint> -o <scratch>/x.plan <options>` (its commit
# fsyncs). Peak resident memory comes from /usr/bin/time.
set -euo pipefail

ckpt=${1:?usage: compile_vs_copy.sh <checkpoint dir> <scratch dir> [runs] [-- options]}
scratch=${2:?usage: compile_vs_copy.sh <checkpoint dir> <scratch dir> [runs] [-- options]}
shift 2
runs=3
if [[ $# -gt 0 && $1 != -- ]]; then runs=$1; shift; fi
[[ $# -gt 0 && $1 == -- ]] && shift
options=("$@")
root=$(cd "$(dirname "$0")/../.." && pwd)
llmc=${LLMC:-$root/build/bin/llmc}
mkdir -p "$scratch"

drop() {
  sync
  if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then echo cold; else echo warm; fi
}

shards=("$ckpt"/*.safetensors)
bytes=$(cat "${shards[@]}" | wc -c)
echo "checkpoint: $ckpt, ${#shards[@]} shard(s), $bytes bytes; llmc compile ${options[*]}"
printf '%-4s %-5s %10s %10s %8s %14s\n' run cache copy_s compile_s ratio compile_rss_MB
for ((i = 1; i <= runs; i++)); do
  cache=$(drop)
  t0=$(date +%s.%N)
  cat "${shards[@]}" >"$scratch/copy.bin" && sync
  t1=$(date +%s.%N)
  rm -f "$scratch/copy.bin"
  drop >/dev/null
  /usr/bin/time -f '%e %M' -o "$scratch/time.txt" \
    "$llmc" compile "$ckpt" -o "$scratch/x.plan" "${options[@]}"
  read -r wall rss <"$scratch/time.txt"
  copy=$(echo "$t1 - $t0" | bc)
  printf '%-4s %-5s %10.2f %10.2f %8.2f %14d\n' "$i" "$cache" "$copy" "$wall" \
    "$(echo "$wall / $copy" | bc -l)" $((rss / 1024))
  rm -f "$scratch/x.plan"
done
