#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind over the whole request path (accept
# aside): the figure to compare two ringway builds on a noisy machine, where CPU time is not.
#
# Usage: bench/wrk/callgrind_proxy.sh [RINGWAY_BIN...]   (default: build/bin/ringway)
# Env:   REQUESTS=20000 CONNECTIONS=16 IO=epoll|io_uring (default epoll) SIZE=100 (body bytes)
#        BACKEND=build/bin/ringway_sized_backend
#        ACCESS_LOG=1: also run every binary with the access log on (to a file), one row each
#
# How: the backend runs natively; ringway runs under callgrind uninstrumented. Once
# every keep-alive connection has sent requests, instrumentation goes on, REQUESTS more
# go through (h2load, closed loop), and the counters are dumped: the total divided by
# REQUESTS is the cost of one request through parse, route, rewrite, pick, forward, response
# rewrite and metrics. Loopback only; bounded by REQUESTS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_NAME=callgrind_proxy
WORK=$(mktemp -d /tmp/ringway-cgproxy.XXXXXX)
# shellcheck source=bench/lib/bench_lib.sh
source "$ROOT/bench/lib/bench_lib.sh"
trap 'for p in "${PIDS[@]}"; do stop_pid "$p"; done; [[ -n ${KEEP:-} ]] || rm -rf "$WORK"' EXIT

REQUESTS=${REQUESTS:-20000}
CONNECTIONS=${CONNECTIONS:-16}
IO=${IO:-epoll}
SIZE=${SIZE:-100}
BACKEND=${BACKEND:-$ROOT/build/bin/ringway_sized_backend}
bins=("$@")
[[ ${#bins[@]} -gt 0 ]] || bins=("$ROOT/build/bin/ringway")
for tool in valgrind callgrind_control h2load; do
  command -v "$tool" >/dev/null || die "$tool missing (deploy/setup.sh --bench)"
done
[[ -x $BACKEND ]] || die "$BACKEND missing (build target ringway_sized_backend)"

read -r p_backend p_proxy p_admin < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
ports = [x.getsockname()[1] for x in s]
for x in s: x.close()  # before printing: read returns, and the backend binds, at once
print(" ".join(map(str, ports)), flush=True)')

"$BACKEND" --listen "127.0.0.1:$p_backend" >"$WORK/backend.log" 2>&1 &
PIDS+=("$!")
# The ports were free a moment ago; another process may have taken one since.
for _ in $(seq 50); do
  curl -fs --noproxy '*' -o /dev/null "http://127.0.0.1:$p_backend/size/1" && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/backend.log" >&2; die "the backend did not start"; }
  sleep 0.1
done
write_config() {  # write_config FILE [access_log_line]
  cat >"$1" <<YAML
listen: ["127.0.0.1:$p_proxy"]
admin: { listen: "127.0.0.1:$p_admin" }
workers: 1
upstreams:
  backend: { servers: ["127.0.0.1:$p_backend"], keepalive: 1024, health_check: { enabled: false } }
routes:
  - { prefix: /, upstream: backend, strip_prefix: false }
${2:-}
YAML
}
write_config "$WORK/ringway.yaml"
write_config "$WORK/ringway-log.yaml" "access_log: { path: \"$WORK/access.log\", buffer: 64KiB, flush: 1s }"

url="http://127.0.0.1:$p_proxy/size/$SIZE"
printf 'binary\tio\taccess_log\trequests\tinstructions_per_request\n'
runs=()
for bin in "${bins[@]}"; do
  runs+=("$bin off")
  [[ -z ${ACCESS_LOG:-} ]] || runs+=("$bin on")
done
for run in "${runs[@]}"; do
  bin=${run% *} log=${run##* }
  config=$WORK/ringway.yaml
  [[ $log == on ]] && config=$WORK/ringway-log.yaml
  rm -f "$WORK"/cg.out*
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out" \
    "$bin" --config "$config" --io "$IO" >"$WORK/ringway.log" 2>&1 &
  vg=$!
  PIDS+=("$vg")
  ready=0
  for _ in $(seq 300); do
    curl -fs --noproxy '*' -o /dev/null "http://127.0.0.1:$p_admin/readyz" && { ready=1; break; }
    sleep 0.2
  done
  [[ $ready == 1 ]] || { cat "$WORK/ringway.log" >&2; die "$bin did not become ready under valgrind"; }
  # Warm-up: every connection, pool entry and lazily created counter exists afterwards.
  h2load --h1 -n "$((CONNECTIONS * 20))" -c "$CONNECTIONS" "$url" >"$WORK/warm.log" 2>&1
  callgrind_control -i on "$vg" >/dev/null
  h2load --h1 -n "$REQUESTS" -c "$CONNECTIONS" "$url" >"$WORK/load.log" 2>&1
  ok=$(sed -n "s/.*requests: .* \([0-9]*\) succeeded.*/\1/p" "$WORK/load.log")
  [[ ${ok:-0} == "$REQUESTS" ]] || cat "$WORK/load.log" "$WORK/ringway.log" >&2
  callgrind_control -d "$vg" >/dev/null
  callgrind_control -i off "$vg" >/dev/null
  stop_pid "$vg"
  ir=$(awk '/^totals:/ { s += $2 } END { print s }' "$WORK"/cg.out*)
  [[ ${ok:-0} == "$REQUESTS" ]] || die "$bin: only ${ok:-0} of $REQUESTS requests succeeded"
  printf '%s\t%s\t%s\t%s\t%s\n' "$bin" "$IO" "$log" "$REQUESTS" "$(awk -v i="$ir" -v n="$REQUESTS" 'BEGIN { printf "%.0f", i / n }')"
done
