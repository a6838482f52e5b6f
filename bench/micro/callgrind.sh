#!/usr/bin/env bash
# Instructions per operation of every single-threaded micro-benchmark (bench/micro), counted by
# valgrind's callgrind: a figure that, unlike ns/op, does not move with a noisy machine.
#
# Usage: bench/micro/callgrind.sh [BENCH_BINARY [OUT_TSV]]
#        (defaults: build/bin/ringway_micro_bench, bench/results/micro-callgrind-YYYYMMDD.tsv)
# Env:   FILTER=regex (benchmarks to run, default all), MIN_TIME=0.1 (seconds per benchmark
#        under callgrind; ~50x slower than native, so each final run still has thousands of
#        iterations).
#
# How: Google Benchmark runs a benchmark's timed loop several times with growing iteration
# counts and reports the last run. Callgrind dumps its counters when each run's loop starts
# (State::StartKeepRunning) and ends (State::FinishKeepRunning); the last "end" dump holds
# exactly the reported run's loop, so its instruction count divided by the reported
# iterations is the cost of one operation, with set-up (route tables, pools) left out.
# Benchmarks with /threads:N>1 are skipped: callgrind serializes threads.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/build/bin/ringway_micro_bench}
OUT=${2:-$ROOT/bench/results/micro-callgrind-$(date -u +%Y%m%d).tsv}
FILTER=${FILTER:-.}
MIN_TIME=${MIN_TIME:-0.1}
[[ -x $BIN ]] || { echo "callgrind.sh: $BIN missing (build target ringway_micro_bench)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind missing (deploy/setup.sh --bench)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/ringway-callgrind.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

mapfile -t names < <("$BIN" --benchmark_list_tests --benchmark_filter="$FILTER" | grep -v '/threads:[2-9]')
mkdir -p "$(dirname "$OUT")"
printf 'benchmark\tinstructions_per_op\titerations\n' >"$OUT"
for name in "${names[@]}"; do
  rm -f "$WORK"/cg.out*
  # Anchor the name: BM_X/10 must not also run BM_X/100. Regex metacharacters in names
  # (only '/' and ':' occur) need no escaping.
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
    --dump-before='benchmark::State::StartKeepRunning*' --dump-before='benchmark::State::FinishKeepRunning*' \
    "$BIN" --benchmark_filter="^${name}\$" --benchmark_min_time="$MIN_TIME" --benchmark_format=json \
    >"$WORK/out.json" 2>"$WORK/valgrind.log" || { echo "callgrind.sh: $name failed" >&2; continue; }
  iters=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["benchmarks"][-1]["iterations"])' "$WORK/out.json")
  # The last dump taken at FinishKeepRunning: the highest-numbered such file.
  last=$(grep -l 'Trigger: --dump-before=benchmark::State::FinishKeepRunning' "$WORK"/cg.out.* |
         sed 's/.*\.//' | sort -n | tail -1)
  if [[ -z $last ]]; then
    echo "callgrind.sh: $name: no loop dump (benchmark library without StartKeepRunning?)" >&2
    continue
  fi
  ir=$(awk '/^totals:/ { print $2 }' "$WORK/cg.out.$last")
  per=$(awk -v i="$ir" -v n="$iters" 'BEGIN { printf "%.1f", i / n }')
  printf '%s\t%s\t%s\n' "$name" "$per" "$iters" >>"$OUT"
  printf '%-48s %12s instructions/op  (%s iterations)\n' "$name" "$per" "$iters" >&2
done
echo "callgrind.sh: wrote $OUT" >&2
