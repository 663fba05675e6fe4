#!/usr/bin/env python3
"""Runs a command and checks its peak resident memory (getrusage of the
child, ru_maxrss): prints "peak resident memory: N MB" and exits 1 when N
exceeds --max-mb, else with the command's own status.

    peak_rss.py --max-mb 2000 -- llmc compile ...
"""
import resource
import subprocess
import sys

args = sys.argv[1:]
if len(args) < 4 or args[0] != "--max-mb" or args[2] != "--":
    sys.exit("usage: peak_rss.py --max-mb N -- command...")
limit = int(args[1])
status = subprocess.run(args[3:]).returncode
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
print(f"peak resident memory: {peak_mb} MB (limit {limit} MB)")
if peak_mb > limit:
    print(f"error: peak resident memory {peak_mb} MB exceeds {limit} MB")
    sys.exit(1)
sys.exit(status)
