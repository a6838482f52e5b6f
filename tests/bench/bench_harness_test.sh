#!/usr/bin/env bash
# Checks the benchmark harness's parts without running a benchmark: bench_lib.sh's parsing and
# CPU helpers, the sized backend's bodies, conn_hold.py, burst.py, callgrind.sh and report.py.
#
# Usage: tests/bench/bench_harness_test.sh BIN_DIR     (exit 77 = skipped: a tool is missing)
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/bench-harness-test.XXXXXX)
BENCH_NAME=bench_harness_test
# shellcheck source=../../bench/lib/bench_lib.sh
source "$ROOT/bench/lib/bench_lib.sh"
trap bench_cleanup EXIT
for tool in curl python3; do command -v $tool >/dev/null || { echo "skipped: $tool missing"; exit 77; }; done

FAILS=0
expect() {  # what expected actual
  if [[ $2 == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected '$2', got '$3'"; FAILS=$((FAILS + 1)); fi
}

# --- bench_lib.sh ------------------------------------------------------------------------
expect "to_ms us" 0.81 "$(to_ms 812.00us)"
expect "to_ms ms" 1.26 "$(to_ms 1.26ms)"
expect "to_ms s" 1020.00 "$(to_ms 1.02s)"
expect "to_ms 3 decimals" 0.247 "$(PREC=3 to_ms 247.00us)"
expect "cpu_numbers" "0 1 2 5" "$(cpu_numbers 0-2,5 | tr '\n' ' ' | sed 's/ $//')"
expect "cpu_numbers all" "$(nproc)" "$(cpu_numbers all | wc -l)"
cat >"$WORK/sample.wrk" <<'OUT'
Running 2s test @ http://127.0.0.1:18604/service1/size/100
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   708.78us  276.02us   7.09ms   84.08%
  Latency Distribution
     50%  691.00us
     75%  781.00us
     90%    0.94ms
     99%    1.33ms
  133368 requests in 2.00s, 93.48MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:  66670.13
Transfer/sec:     46.74MB
wrk_stats: 98017280 2210
OUT
expect "wrk reqs" 133368 "$(wrk_field "$WORK/sample.wrk" reqs)"
expect "wrk rps" 66670.13 "$(wrk_field "$WORK/sample.wrk" rps)"
expect "wrk p50" 0.69 "$(wrk_field "$WORK/sample.wrk" p50)"
expect "wrk p99" 1.33 "$(wrk_field "$WORK/sample.wrk" p99)"
expect "wrk p99.9 from wrk_stats.lua" 2.21 "$(wrk_field "$WORK/sample.wrk" p999)"
expect "wrk bytes" 98017280 "$(wrk_field "$WORK/sample.wrk" bytes)"
expect "wrk errors" 9 "$(wrk_field "$WORK/sample.wrk" errors)"
busy=$(busy_pct "50 100" "150 300")
expect "busy_pct" 50 "$busy"
expect "other_pct" 25 "$(other_pct "50 100" "150 300" 50)"

# --- the sized backend -------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_on "" backend "$BIN/ringway_sized_backend" --listen "127.0.0.1:$PORT"
wait_port "$PORT" "$LAST_PID" || { echo "FAIL: backend did not start: $(cat "$WORK/backend.log")"; exit 1; }
for n in 0 100 4096 65536 1048576; do
  expect "backend /size/$n" "200 $n" "$(curl -s -o "$WORK/body" -w '%{http_code} %{size_download}' "http://127.0.0.1:$PORT/size/$n")"
done
expect "backend body bytes" "x" "$(head -c 1 "$WORK/body")"
expect "backend /ping" '{"service":"service1","message":"pong"}' "$(curl -s "http://127.0.0.1:$PORT/ping")"
expect "backend rejects a bad size" 400 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/size/12x")"
expect "backend rejects a huge size" 400 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/size/999999999")"
expect "backend 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/other")"

# --- conn_hold.py ------------------------------------------------------------------------
python3 "$ROOT/bench/tools/conn_hold.py" --port "$PORT" --path /size/100 --conns 300 --hold 0.2 \
  --timeout 20 --ready-file "$WORK/ready.idle"
expect "conn_hold idle" "ready 300" "$(cat "$WORK/ready.idle")"
python3 "$ROOT/bench/tools/conn_hold.py" --port "$PORT" --path /size/4194304 --mode slow --conns 10 \
  --settle 0.5 --hold 0.2 --timeout 20 --ready-file "$WORK/ready.slow"
expect "conn_hold slow" "ready 10" "$(cat "$WORK/ready.slow")"
# A response that fits in the socket buffers is no slow stream: the tool must say so.
if python3 "$ROOT/bench/tools/conn_hold.py" --port "$PORT" --path /size/100 --mode slow --conns 5 \
     --settle 0.3 --hold 0.1 --timeout 10 --ready-file "$WORK/ready.bad" 2>"$WORK/bad.err"; then
  expect "conn_hold slow refuses small responses" "exit 1" "exit 0"
else
  expect "conn_hold slow refuses small responses" 1 "$(grep -c 'too small for the slow-read row' "$WORK/bad.err")"
fi
# An origin slow to start its responses is waited for past --settle, and one that never
# answers is reported as such at --timeout: a listener that accepts three connections and,
# after DELAY seconds (never, if negative), starts a 4 MiB response on each.
late_origin() {  # DELAY PORT_FILE
  python3 -c '
import socket, sys, time
delay = float(sys.argv[1])
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
held = [s.accept()[0] for _ in range(3)]
if delay >= 0:
    time.sleep(delay)
    for c in held:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n" + b"x" * 16384)
time.sleep(10)' "$1" "$2" &
  ORIGIN_PID=$!
  for _ in $(seq 50); do [[ -s $2 ]] && break; sleep 0.1; done
}
late_origin 1 "$WORK/late.port"
python3 "$ROOT/bench/tools/conn_hold.py" --port "$(cat "$WORK/late.port")" --path /size/4194304 \
  --mode slow --conns 3 --settle 0.2 --hold 0.1 --timeout 8 --ready-file "$WORK/ready.late" \
  2>"$WORK/late.err" || true
expect "conn_hold slow waits past --settle for a late origin" "ready 3" \
  "$(cat "$WORK/ready.late" 2>/dev/null || cat "$WORK/late.err")"
kill "$ORIGIN_PID" 2>/dev/null || true
wait "$ORIGIN_PID" 2>/dev/null || true
late_origin -1 "$WORK/silent.port"
if python3 "$ROOT/bench/tools/conn_hold.py" --port "$(cat "$WORK/silent.port")" --path /size/4194304 \
     --mode slow --conns 3 --settle 0.2 --hold 0.1 --timeout 2 --ready-file "$WORK/ready.silent" \
     2>"$WORK/silent.err"; then
  expect "conn_hold slow waits for a silent origin, then times out" "exit 1" "exit 0"
else
  expect "conn_hold slow waits for a silent origin, then times out" 1 \
    "$(grep -c 'timeout with 3 of 3 streams still waiting for their first byte' "$WORK/silent.err")"
fi
kill "$ORIGIN_PID" 2>/dev/null || true
wait "$ORIGIN_PID" 2>/dev/null || true
stop_pid "$LAST_PID"

# --- callgrind.sh ------------------------------------------------------------------------
if command -v valgrind >/dev/null && [[ -x $BIN/ringway_micro_bench ]]; then
  FILTER='^BM_PickRoundRobin/2$' bash "$ROOT/bench/micro/callgrind.sh" "$BIN/ringway_micro_bench" \
    "$WORK/micro.tsv" 2>"$WORK/callgrind.err" || true
  ir=$(awk -F'\t' '$1 == "BM_PickRoundRobin/2" { print $2 }' "$WORK/micro.tsv")
  # A round-robin pick over two servers is a few dozen to a few hundred instructions.
  expect "callgrind instructions/op in range" yes "$(awk -v i="${ir:-0}" 'BEGIN { print (i > 10 && i < 2000) ? "yes" : "no" }')"
else
  echo "note: valgrind or ringway_micro_bench missing: callgrind.sh not checked"
fi

# --- report.py ---------------------------------------------------------------------------
mkdir -p "$WORK/out"
{
  printf 'round\tmode\tworkers\tconns\tsize\tproxy\trps\tp50_ms\tp99_ms\tp999_ms\tcpu_us_req\tcpu_us_mb\tuser_pct\tsyscalls_req\trss_kib\tproxy_cpu_pct\tload_cpu_pct\tother_pct\terrors\trequests\tbytes\tbackend_us_req\n'
  for r in 1 2 3; do
    for p in relay ringway nginx; do
      case $p$r in
        ringway1) rps=1000 cpu=10 ;; ringway2) rps=2000 cpu=20 ;; ringway3) rps=9000 cpu=90 ;;
        relay*) rps=2500 cpu=10 ;; *) rps=1000 cpu=40 ;;
      esac
      printf '%s\tpinned\t1\t64\t100\t%s\t%s\t0.5\t1.0\t2.0\t%s\t5\t10\t-\t2048\t90\t99\t1\t0\t10000\t2000000\t7\n' "$r" "$p" "$rps" "$cpu"
    done
  done
} >"$WORK/out/raw.tsv"
printf 'date\ttoday\ncommand\tbench/run.sh --test\n' >"$WORK/out/meta.tsv"
python3 "$ROOT/bench/lib/report.py" "$WORK/out" >/dev/null
expect "report median req/s" 2000 "$(awk -F'\t' '$5 == "ringway" { print $7 }' "$WORK/out/summary.tsv")"
expect "report CPU ratio to the floor" 1 "$(grep -c '^| 64 | 100 B | 2000 | 1.00 | 20.00 | 2.00 | 2.00 |' "$WORK/out/report.md")"
expect "report counts the lead target" 1 "$(grep -c '^| pinned | 1 | req/s ≥ 1.2× every peer | 1 of 1 cells; short: none | 1/1 |' "$WORK/out/report.md")"
expect "report counts the CPU target" 1 "$(grep -c '^| pinned | 1 | CPU/request ≤ 1.10× relay, 64 conns | 100 B 2.00 | 0/1 |' "$WORK/out/report.md")"
expect "report counts the p99 target" 1 "$(grep -c '^| pinned | 1 | p99 ≤ 0.7× nginx | 0 of 1 cells; over: 64×100 B 1.00 | 0/1 |' "$WORK/out/report.md")"
if command -v gnuplot >/dev/null; then
  expect "plot written" yes "$([[ -s $WORK/out/rps-pinned-w1.png ]] && echo yes || echo no)"
fi

# --- burst.py ----------------------------------------------------------------------------
BURST_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$ROOT/bench/tools/burst.py" upstream --port "$BURST_PORT" --service-ms 0 \
  --stats-file "$WORK/burst-stats" --timeout 30 &
BURST_PID=$!
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $BURST_PORT), 0.2)" 2>/dev/null && break
  sleep 0.1
done
expect "burst client answered and failed" "40 0" \
  "$(python3 "$ROOT/bench/tools/burst.py" client --port "$BURST_PORT" --path /x --conns 40 --timeout 20 | cut -d' ' -f1-2)"
read -r burst_peak _ <"$WORK/burst-stats"
expect "burst upstream counted a peak" yes "$( ((burst_peak >= 1 && burst_peak <= 41)) && echo yes || echo no)"
kill "$BURST_PID" 2>/dev/null || true
wait "$BURST_PID" 2>/dev/null || true
printf 'proxy\tclients\tlimit\tanswered\tfailed\tseconds\tupstream_peak\tupstream_accepted\n' >"$WORK/out/burst.tsv"
printf 'ringway\t2000\t64\t2000\t0\t1.20\t64\t90\n' >>"$WORK/out/burst.tsv"
python3 "$ROOT/bench/lib/report.py" "$WORK/out" >/dev/null
expect "report burst row" 1 "$(grep -c '^| ringway | 64 | 2000 | 0 | 1.20 | 64 | 90 |' "$WORK/out/report.md")"

# --- run.sh ------------------------------------------------------------------------------
# Its usage text is a heredoc under `set -u`: a stray $NAME in it would abort --help.
expect "run.sh --help exits 0 and names every option" "0 yes" \
  "$(out=$(bash "$ROOT/bench/run.sh" --help 2>&1); rc=$?; [[ $out == *--no-build* && $out == *RINGWAY_BASE* ]] && echo "$rc yes" || echo "$rc no")"

((FAILS == 0)) || { echo "$FAILS check(s) failed"; exit 1; }
echo "all bench harness checks passed"
