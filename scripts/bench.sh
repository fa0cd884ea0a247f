#!/bin/sh
# Runs every benchmark program built from bench/*.c, one after the other (never in parallel:
# they measure ratios against baselines timed in the same process, on a quiet machine).
# Each prints its own lines "name: ours X, baseline Y, ratio Z"; this script only sequences them.
# Usage: scripts/bench.sh BUILD_BENCH_DIR
set -eu
dir=${1:-build/bench}
# bench_tokenizer reads the default corpus: fetch it first (once; checksummed) rather than skip.
sh scripts/fetch_corpus.sh >/dev/null
status=0
for b in "$dir"/*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" || status=1
done
exit $status
