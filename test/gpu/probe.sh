#!/usr/bin/env bash
# ctest's gpu.probe (the fixture every gpu test requires): can the CUDA
# backend run here? Writes the verdict to <result file> ("ok" or
# "skip <reason>") for the other gpu tests, and exits 0, 77 (skip) or 1.
#
#   probe.sh <llmc> <result file>
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 <llmc> <result file>" >&2; exit 2; }
# shellcheck source=test/gpu/gpu_lib.sh
source "$(dirname "$0")/gpu_lib.sh"
llmc=$1
result=$2
rm -f "$result"
rc=0
verdict=$(gpu_probe "$llmc") || rc=$?
echo "$verdict"
case $rc in
  0) echo ok >"$result" ;;
  77) echo "skip $verdict" >"$result" ;;
esac
exit "$rc"
