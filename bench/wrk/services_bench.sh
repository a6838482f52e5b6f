#!/usr/bin/env bash
# Origin-server benchmark: service1's /ping (io_uring, epoll) against nginx answering the same
# bytes from its config, one worker each, measured one after another with wrk on loopback.
#
# Usage: bench/wrk/services_bench.sh BUILD_DIR
# Env:   CONNS=64 DURATION=10s WARMUP=2s      wrk connections and run lengths
#        ONLY="service1 service1-epoll nginx" rows to run, in order
#        SERVER_CPU=1 LOAD_CPU=0              the server gets SERVER_CPU alone, wrk LOAD_CPU
#        BASE_PORT=18500                      ports BASE_PORT..BASE_PORT+2 on 127.0.0.1
#        OUT=bench/results/services-YYYYMMDD.md   KEEP_WORK=1 keeps the temp dir with all logs
#
# Per row: start the server pinned to SERVER_CPU, check it answers the pong, 2 s warm-up, then
# `wrk -t1 -cCONNS -dDURATION --latency` pinned to LOAD_CPU, while the server's CPU time
# (utime+stime of its processes, all threads, from /proc/PID/stat) is read before and after.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ONLY=${ONLY:-service1 service1-epoll nginx}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
BASE_PORT=${BASE_PORT:-18500}
OUT=${OUT:-$ROOT/bench/results/services-$(date +%Y%m%d).md}
CLK_TCK=$(getconf CLK_TCK)
PONG='{"service":"service1","message":"pong"}'

WORK=$(mktemp -d /tmp/services-bench.XXXXXX)
declare -a PIDS=()
declare -A ROW=()   # ROW[name.field]
ROWS=()

log() { printf '[services_bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes ---------------------------------------------------------------------------

# The given pids and all their descendants (nginx master + worker).
tree_pids() {
  local p kids
  for p in "$@"; do
    [[ -d /proc/$p ]] || continue
    echo "$p"
    kids=$(pgrep -P "$p" || true)
    # shellcheck disable=SC2086  # a list of pids: splitting is the point
    tree_pids $kids
  done
}

# SIGTERM, up to 5 s for a clean exit, then SIGKILL whatever of its tree is left.
stop_pid() {
  local pid=$1 i rest
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rest=$(tree_pids "$pid")
  # shellcheck disable=SC2086
  [[ -n $rest ]] && kill -KILL $rest 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ ${KEEP_WORK:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# Waits until 127.0.0.1:$1 accepts connections (5 s at most) while pid $2 is alive.
wait_port() {
  local port=$1 pid=$2 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# --- measurement -------------------------------------------------------------------------

# Sum of utime+stime clock ticks of the given processes (a process's line covers its threads).
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    # After "(comm) ": state is field 1, utime 12, stime 13 (proc(5) fields 14 and 15).
    f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# "busy total" jiffies of one CPU from /proc/stat (busy = all but idle and iowait).
cpu_line() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# Busy percentage of a CPU between two cpu_line samples.
busy_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2] + 1e-9) }'
}

# wrk latency ("812.00us", "1.26ms", "1.02s") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    u = v; sub(/^[0-9.]+/, "", u); n = v + 0
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

# Waits (QUIET_WAIT s at most, default 60) until neither CPU is more than 10% busy: a build or
# test running beside the bench skews every number.
wait_quiet() {
  local deadline=$((SECONDS + ${QUIET_WAIT:-60})) a b c d busy
  while :; do
    a=$(cpu_line "$SERVER_CPU"); c=$(cpu_line "$LOAD_CPU")
    sleep 1
    b=$(cpu_line "$SERVER_CPU"); d=$(cpu_line "$LOAD_CPU")
    busy=$(( $(busy_pct "$a" "$b") > $(busy_pct "$c" "$d") ? $(busy_pct "$a" "$b") : $(busy_pct "$c" "$d") ))
    ((busy <= 10)) && return 0
    if ((SECONDS >= deadline)); then
      log "warning: CPUs still ${busy}% busy with other work; measuring anyway"
      return 0
    fi
  done
}

run_wrk() {  # url duration output-file
  taskset -c "$LOAD_CPU" timeout 120 wrk -t1 -c"$CONNS" -d"$2" --latency "$1" >"$3" 2>&1
}

# Measures the server running as $3 (with its children) at URL $2.
measure() {
  local name=$1 url=$2 pid=$3 body
  wait_quiet
  body=$(curl -s --max-time 2 "$url" || true)
  if [[ $body != "$PONG" ]]; then
    log "$name: $url answered '$body', not the pong; skipping"
    return 1
  fi
  run_wrk "$url" "$WARMUP" /dev/null || true
  local procs=() t0 t1 s0 s1 l0 l1
  mapfile -t procs < <(tree_pids "$pid")
  t0=$(cpu_ticks "${procs[@]}"); s0=$(cpu_line "$SERVER_CPU"); l0=$(cpu_line "$LOAD_CPU")
  run_wrk "$url" "$DURATION" "$WORK/$name.wrk" || log "$name: wrk exited non-zero"
  t1=$(cpu_ticks "${procs[@]}"); s1=$(cpu_line "$SERVER_CPU"); l1=$(cpu_line "$LOAD_CPU")

  local w=$WORK/$name.wrk reqs
  reqs=$(awk '/requests in/ { print $1 }' "$w")
  [[ -n $reqs && $reqs -gt 0 ]] || { log "$name: wrk produced no requests"; cat "$w" >&2; return 1; }
  ROW[$name.reqs]=$reqs
  ROW[$name.rps]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$w")
  ROW[$name.p50]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$w")")
  ROW[$name.p99]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$w")")
  ROW[$name.errs]=$(awk '/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
                         /Non-2xx/ { e += $NF } END { print e + 0 }' "$w")
  ROW[$name.cpu]=$(awk -v d=$((t1 - t0)) -v r="$reqs" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.2f", d * 1e6 / hz / r }')
  ROW[$name.scpu]=$(busy_pct "$s0" "$s1")
  ROW[$name.lcpu]=$(busy_pct "$l0" "$l1")
  # Busy time on the server's CPU that was not the server: other tenants of the machine.
  ROW[$name.other]=$(awk -v a="$s0" -v b="$s1" -v d=$((t1 - t0)) 'BEGIN { split(a, x, " ");
    split(b, y, " "); o = 100 * (y[1] - x[1] - d) / (y[2] - x[2] + 1e-9); printf "%.0f", o < 0 ? 0 : o }')
  if ((ROW[$name.other] > 10)); then
    log "$name: warning: ${ROW[$name.other]}% of CPU $SERVER_CPU went to other processes: row is suspect"
  fi
  ROWS+=("$name")
  log "$name: ${ROW[$name.rps]} req/s, p50 ${ROW[$name.p50]} ms, p99 ${ROW[$name.p99]} ms," \
      "${ROW[$name.cpu]} us CPU/req (server CPU ${ROW[$name.scpu]}%, load CPU ${ROW[$name.lcpu]}%)"
}

# run_row NAME PORT CMD... : starts CMD pinned to the server CPU, measures, stops it.
run_row() {
  local name=$1 port=$2 pid
  shift 2
  taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if wait_port "$port" "$pid"; then
    sleep 0.3  # nginx: let the master start its worker
    measure "$name" "http://127.0.0.1:$port/ping" "$pid" || true
  else
    log "$name: did not start listening on $port; log:"
    tail -5 "$WORK/$name.log" >&2
  fi
  stop_pid "$pid"
}

write_nginx_conf() {  # port
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx.conf" <<EOF
# Generated by bench/wrk/services_bench.sh: nginx answering service1's /ping from config.
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$1 backlog=1024;
    location = /ping {
      default_type application/json;
      return 200 '$PONG';
    }
    location / { return 404; }
  }
}
EOF
}

# --- the rows ----------------------------------------------------------------------------

SERVICE1=$BUILD/bin/service1
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $SERVICE1 ]] || die "$SERVICE1 missing: build it (make -C $BUILD service1)"
command -v wrk >/dev/null || die "wrk not installed"
command -v taskset >/dev/null || die "taskset not installed (util-linux)"
(($(nproc) >= 2)) || log "warning: fewer than 2 CPUs: pinning cannot separate server and load"
for ((p = BASE_PORT; p < BASE_PORT + 3; p++)); do port_free "$p" || die "port $p is in use (set BASE_PORT)"; done

for row in $ONLY; do
  case $row in
    service1)
      run_row service1 "$BASE_PORT" \
        "$SERVICE1" --listen "127.0.0.1:$BASE_PORT" --workers 1 --io io_uring ;;
    service1-epoll)
      run_row service1-epoll $((BASE_PORT + 1)) \
        "$SERVICE1" --listen "127.0.0.1:$((BASE_PORT + 1))" --workers 1 --io epoll ;;
    nginx)
      if [[ -x $NGINX ]]; then
        write_nginx_conf $((BASE_PORT + 2))
        run_row nginx $((BASE_PORT + 2)) "$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"
      else
        log "nginx: skipped: not installed (Debian package nginx-light)"
      fi ;;
    *) log "unknown row '$row' (known: service1 service1-epoll nginx)" ;;
  esac
done

# --- report ------------------------------------------------------------------------------

ratio() {  # a b -> a/b with 2 decimals, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

table() {
  echo "| server | req/s | p50 ms | p99 ms | server CPU µs/req | CPU/req ÷ nginx | req/s ÷ nginx | server CPU % | wrk CPU % | other load % | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local n
  for n in "${ROWS[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "${ROW[$n.rps]}" \
      "${ROW[$n.p50]}" "${ROW[$n.p99]}" "${ROW[$n.cpu]}" \
      "$(ratio "${ROW[$n.cpu]}" "${ROW[nginx.cpu]:-}")" "$(ratio "${ROW[$n.rps]}" "${ROW[nginx.rps]:-}")" \
      "${ROW[$n.scpu]}" "${ROW[$n.lcpu]}" "${ROW[$n.other]}" "${ROW[$n.errs]}"
  done
}

((${#ROWS[@]} > 0)) || die "no row was measured"
mkdir -p "$(dirname "$OUT")"
{
  echo "# Origin-server benchmark, $(date -u +'%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`CONNS=$CONNS DURATION=$DURATION WARMUP=$WARMUP bench/wrk/services_bench.sh ${1}\`"
  echo "(rows: $ONLY; each: \`wrk -t1 -c$CONNS -d$DURATION --latency http://127.0.0.1:PORT/ping\` after a $WARMUP warm-up)."
  echo
  echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)."
  echo "Versions: $("$NGINX" -v 2>&1 | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $("$SERVICE1" --version 2>&1 | head -1)."
  echo
  echo "Set-up: loopback only. The server runs alone on CPU $SERVER_CPU (taskset, inherited by its"
  echo "threads and nginx's worker), wrk (1 thread) alone on CPU $LOAD_CPU. service1: 1 worker,"
  echo "\`--io io_uring\` or \`--io epoll\`, every request counted in its metrics. nginx (1 worker,"
  echo "access_log off, keepalive_requests 100000) returns the same JSON body from its config with"
  echo "\`location = /ping { default_type application/json; return 200 '...'; }\`."
  echo
  table
  echo
  echo "Columns: server CPU µs/req = utime+stime of the server's processes (all threads;"
  echo "/proc/PID/stat) over the measured run ÷ requests. server CPU % and wrk CPU % are the busy"
  echo "share of CPU $SERVER_CPU and CPU $LOAD_CPU (/proc/stat) during the run: a server well below"
  echo "100% was not the bottleneck, wrk was. other load % = busy time of CPU $SERVER_CPU not spent"
  echo "by the server (other tenants; above ~5% the row is suspect). errors = wrk socket errors +"
  echo "non-2xx responses. Before each row the script waits (up to QUIET_WAIT s) for idle CPUs."
  echo
  echo "<details><summary>wrk output per row</summary>"
  echo
  for n in "${ROWS[@]}"; do
    echo "#### $n"
    echo '```'
    cat "$WORK/$n.wrk"
    echo '```'
  done
  echo "</details>"
} >"$OUT"
echo
table
echo
log "report written to $OUT"
