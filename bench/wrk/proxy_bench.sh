#!/usr/bin/env bash
# Reverse-proxy benchmark: the byte relay floor, ringway (io_uring, epoll), nginx, HAProxy and
# h2o, one worker each, in front of the same service1, measured one after another on loopback.
#
# Usage: bench/wrk/proxy_bench.sh BUILD_DIR
# Env:   CONNS=64 DURATION=10s WARMUP=2s STRACE_SECS=3   wrk connections and run lengths
#        ROUNDS=1                 run every row this many times (interleaved); each row reports
#                                 its median undisturbed round (see pick_rounds)
#        ONLY="direct relay relay-epoll ringway ringway-epoll nginx haproxy h2o"   rows to run, in order
#        PROXY_CPU=1 LOAD_CPU=0   the proxy gets PROXY_CPU alone; wrk and the backend share LOAD_CPU
#        BASE_PORT=18400          ports BASE_PORT..BASE_PORT+9 on 127.0.0.1 must be free
#        OUT=bench/results/proxy-YYYYMMDD.md   KEEP_WORK=1 keeps the temp dir with all logs
#
# Per row: 2 s warm-up, then a wrk run whose requests/s and p50/p99 are reported, while the
# proxy's CPU time (utime+stime of every process in its tree, /proc/PID/stat) is sampled
# before and after; then a shorter run under `strace -c -f` only to count syscalls. A row
# takes about WARMUP + DURATION + STRACE_SECS + 3 s (plus up to QUIET_WAIT=60 s waiting for
# idle CPUs); the default 8 rows x 1 round take ~2.5 minutes.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONFIGS=$ROOT/bench/wrk/configs
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
STRACE_SECS=${STRACE_SECS:-3}
ROUNDS=${ROUNDS:-1}
ONLY=${ONLY:-direct relay relay-epoll ringway ringway-epoll nginx haproxy h2o}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
BASE_PORT=${BASE_PORT:-18400}
OUT=${OUT:-$ROOT/bench/results/proxy-$(date +%Y%m%d).md}

BACKEND_PORT=$BASE_PORT
ADMIN_PORT=$((BASE_PORT + 1))
WORK=$(mktemp -d /tmp/proxy-bench.XXXXXX)
BENCH_NAME=proxy_bench
# shellcheck source=../lib/bench_lib.sh
source "$ROOT/bench/lib/bench_lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
declare -A R=()     # R[name.round.field]: every measured round
declare -A ROW=()   # ROW[name.field]: the round reported for each row (pick_rounds)
ROWS=()

# Fills @NAME@ placeholders of a config template.
render() {
  sed -e "s#@WORK@#$WORK#g" -e "s#@PORT@#$2#g" -e "s#@BACKEND_PORT@#$BACKEND_PORT#g" \
      -e "s#@ADMIN_PORT@#$ADMIN_PORT#g" -e "s#@IO@#${3:-}#g" -e "s#@USER@#$(id -un)#g" \
      -e "s#@WORKERS@#1#g" -e "s#@MAXCONN@#4096#g" -e "s#@ACCESS_LOG@##g" -e "s#@LIMITS_EXTRA@##g" "$1"
}

# --- measurement -------------------------------------------------------------------------

# Runs wrk pinned to the load CPU; its user+sys seconds go to $3.time.
run_wrk() {  # url duration output-file
  local TIMEFORMAT='%U %S'
  { time taskset -c "$LOAD_CPU" timeout 120 wrk -t1 -c"$CONNS" -d"$2" --latency "$1" >"$3" 2>&1; } 2>"$WORK/wrk.time"
  [[ $3 == /dev/null ]] || cp "$WORK/wrk.time" "$3.time"
}

# Measures one row whose proxy runs as $pid (empty for "direct") at $url.
measure() {
  local name=$1 url=$2 pid=$3
  local check
  wait_quiet "$PROXY_CPU" "$LOAD_CPU"
  check=$(curl -s -i --max-time 2 "$url" || true)
  if ! grep -q 'pong' <<<"$check"; then
    log "$name: $url did not answer the pong; skipping (see $WORK/$name.log)"
    return 1
  fi
  if [[ $name != direct && $name != relay* ]] && ! grep -qi '^x-frame-options: DENY' <<<"$check"; then
    log "$name: warning: response lacks the injected X-Frame-Options header"
  fi
  printf '%s\n' "$check" >"$WORK/$name.check"

  run_wrk "$url" "$WARMUP" /dev/null || true
  local procs=() bprocs=()
  [[ -n $pid ]] && mapfile -t procs < <(tree_pids "$pid")
  mapfile -t bprocs < <(tree_pids "$BACKEND_PID")
  local t0 b0 l0 p0 t1 b1 l1 p1 u0 u1
  t0=$(cpu_ticks "${procs[@]}"); b0=$(cpu_ticks "${bprocs[@]}"); u0=$(FIELD=user cpu_ticks "${procs[@]}")
  l0=$(cpu_line "$LOAD_CPU"); p0=$(cpu_line "$PROXY_CPU")
  local w=$WORK/$name.r$ROUND.wrk
  run_wrk "$url" "$DURATION" "$w" || log "$name: wrk exited non-zero"
  t1=$(cpu_ticks "${procs[@]}"); b1=$(cpu_ticks "${bprocs[@]}"); u1=$(FIELD=user cpu_ticks "${procs[@]}")
  l1=$(cpu_line "$LOAD_CPU"); p1=$(cpu_line "$PROXY_CPU")

  local reqs rps p50 p99 errs other
  reqs=$(wrk_field "$w" reqs) rps=$(wrk_field "$w" rps) errs=$(wrk_field "$w" errors)
  p50=$(wrk_field "$w" p50) p99=$(wrk_field "$w" p99)
  [[ -n $reqs && $reqs -gt 0 ]] || { log "$name: wrk produced no requests"; cat "$w" >&2; return 1; }
  # Busy time on the proxy's CPU that was not the proxy: other tenants of the machine (for
  # "direct", where nothing of ours runs there, all of that CPU's busy time).
  other=$(awk -v a="$p0" -v b="$p1" -v d=$((t1 - t0)) 'BEGIN { split(a, x, " "); split(b, y, " ");
    o = 100 * (y[1] - x[1] - d) / (y[2] - x[2]); printf "%.0f", o < 0 ? 0 : o }')
  # The same on the load CPU: busy time that was neither the backend nor wrk.
  local other_load
  other_load=$(awk -v a="$l0" -v b="$l1" -v d=$((b1 - b0)) -v hz="$CLK_TCK" -v w="$(cat "$w.time")" '
    BEGIN { split(a, x, " "); split(b, y, " "); split(w, t, " ");
      o = 100 * (y[1] - x[1] - d - (t[1] + t[2]) * hz) / (y[2] - x[2]); printf "%.0f", o < 0 ? 0 : o }')
  log "$name (round $ROUND): ${rps} req/s, p50 ${p50} ms, p99 ${p99} ms, other load ${other}% / ${other_load}%"
  local k=$name.$ROUND
  # A round counts as disturbed by its worse CPU.
  R[$k.other]=$((other > other_load ? other : other_load)) R[$k.rps]=$rps R[$k.p50]=$p50 R[$k.p99]=$p99 R[$k.errs]=$errs
  R[$k.cpu]=$(awk -v d=$((t1 - t0)) -v r="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d * 1e6 / hz / r }')
  R[$k.user]=$(awk -v u=$((u1 - u0)) -v d=$((t1 - t0)) 'BEGIN { if (d > 0) printf "%.0f", 100 * u / d; else print "-" }')
  R[$k.bcpu]=$(awk -v d=$((b1 - b0)) -v r="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d * 1e6 / hz / r }')
  R[$k.load]=$(awk -v a="$l0" -v b="$l1" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')
  R[$k.pcpu]=$(awk -v a="$p0" -v b="$p1" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')

  # Syscall count: strace stops the tracee at every call, so this run is far slower and
  # only its counts are used.
  R[$k.sys]=n/a
  if [[ -n $pid ]] && command -v strace >/dev/null; then
    local args=() p sp st=$WORK/$name.r$ROUND.strace
    for p in $(tree_pids "$pid"); do args+=(-p "$p"); done
    taskset -c "$LOAD_CPU" strace -c -f -qq -o "$st" "${args[@]}" 2>/dev/null &
    sp=$!
    sleep 0.5
    run_wrk "$url" "${STRACE_SECS}s" "$st-wrk" || true
    kill -INT "$sp" 2>/dev/null || true
    wait "$sp" 2>/dev/null || true
    local calls sreqs
    calls=$(awk '$NF == "total" { print $4 }' "$st" 2>/dev/null || true)
    sreqs=$(wrk_field "$st-wrk" reqs)
    if [[ -n $calls && -n $sreqs && $sreqs -gt 0 ]]; then
      R[$k.sys]=$(awk -v c="$calls" -v r="$sreqs" 'BEGIN { printf "%.2f", c / r }')
    fi
  fi
  R[$name.rounds]="${R[$name.rounds]:-} $ROUND"
  [[ " ${ROWS[*]} " == *" $name "* ]] || ROWS+=("$name")
}

# Chooses each row's reported round: among the rounds whose foreign load is within 5 points
# of the row's least disturbed one, the median by CPU per request (a run that another tenant
# disturbed is dropped; a lucky or unlucky clean one does not decide the row).
pick_rounds() {
  local n r best chosen f
  for n in "${ROWS[@]}"; do
    best=999
    for r in ${R[$n.rounds]}; do
      if ((R[$n.$r.other] < best)); then best=${R[$n.$r.other]}; fi
    done
    chosen=$(for r in ${R[$n.rounds]}; do
               if ((R[$n.$r.other] <= best + 5)); then echo "${R[$n.$r.cpu]} $r"; fi
             done | sort -n | awk '{ c[NR] = $1; r[NR] = $2 }
               END { printf "%s %d %s-%s", r[int((NR + 1) / 2)], NR, c[1], c[NR] }')
    read -r r "ROW[$n.clean]" "ROW[$n.range]" <<<"$chosen"
    for f in other rps p50 p99 errs cpu user bcpu load pcpu sys; do ROW[$n.$f]=${R[$n.$r.$f]}; done
    ROW[$n.round]=$r
    cp "$WORK/$n.r$r.wrk" "$WORK/$n.wrk"
  done
}

# --- the rows ----------------------------------------------------------------------------

SERVICE1=$BUILD/bin/service1
RELAY=$BUILD/bin/ringway_relay
RINGWAY=$BUILD/bin/ringway
[[ -x $SERVICE1 ]] || die "$SERVICE1 missing: build it (make -C $BUILD service1)"
command -v wrk >/dev/null || die "wrk not installed"
(( $(nproc) >= 2 )) || log "warning: fewer than 2 CPUs: pinning cannot separate proxy and load"
for ((p = BASE_PORT; p < BASE_PORT + 10; p++)); do port_free "$p" || die "port $p is in use (set BASE_PORT)"; done

BACKEND_PID=
BACKEND_STARTS=0
# (Re)starts the backend when it is not running: a row must never measure a dead backend.
ensure_backend() {
  if [[ -n $BACKEND_PID ]] && kill -0 "$BACKEND_PID" 2>/dev/null; then return 0; fi
  if [[ -n $BACKEND_PID ]]; then
    log "warning: service1 (pid $BACKEND_PID) died; restarting it. Its log ends:"
    tail -3 "$WORK/backend.$BACKEND_STARTS.log" >&2
    wait "$BACKEND_PID" 2>/dev/null || log "service1 exit status $?"
  fi
  BACKEND_STARTS=$((BACKEND_STARTS + 1))
  start_on "$LOAD_CPU" "backend.$BACKEND_STARTS" \
    "$SERVICE1" --listen "127.0.0.1:$BACKEND_PORT" --workers 1 --io auto
  BACKEND_PID=$LAST_PID
  wait_port "$BACKEND_PORT" "$BACKEND_PID" || die "service1 did not start: $(cat "$WORK/backend.$BACKEND_STARTS.log")"
}
ensure_backend

# run_row NAME PORT PATH CMD... : starts CMD pinned to the proxy CPU, measures, stops it.
run_row() {
  local name=$1 port=$2 path=$3
  shift 3
  start_on "$PROXY_CPU" "$name" "$@"
  local pid=$LAST_PID
  if wait_port "$port" "$pid"; then
    sleep 0.3  # let multi-process servers finish starting their workers
    measure "$name" "http://127.0.0.1:$port$path" "$pid" || true
  else
    log "$name: did not start listening on $port; log:"
    tail -5 "$WORK/$name.log" >&2
  fi
  stop_pid "$pid"
}

ringway_row() {  # name io port
  if [[ ! -x $RINGWAY ]]; then
    log "$1: skipped: $RINGWAY does not exist yet (build target ringway)"
    return
  fi
  render "$CONFIGS/ringway.yaml.in" "$3" "$2" >"$WORK/$1.yaml"
  if ! "$RINGWAY" --check-config "$WORK/$1.yaml" >"$WORK/$1.check-config" 2>&1; then
    log "$1: skipped: ringway rejected the config: $(cat "$WORK/$1.check-config")"
    return
  fi
  run_row "$1" "$3" /service1/ping "$RINGWAY" --config "$WORK/$1.yaml"
}

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
for row in $ONLY; do
  ensure_backend
  case $row in
    direct)
      measure direct "http://127.0.0.1:$BACKEND_PORT/ping" "" || true ;;
    relay | relay-epoll)
      if [[ -x $RELAY ]]; then
        io=io_uring port=$((BASE_PORT + 2))
        [[ $row == relay-epoll ]] && io=epoll port=$((BASE_PORT + 8))
        # The relay forwards bytes unchanged, so it gets the path the backend serves.
        run_row "$row" "$port" /ping \
          "$RELAY" --listen "127.0.0.1:$port" --upstream "127.0.0.1:$BACKEND_PORT" --io "$io"
      else
        log "$row: skipped: $RELAY missing (build target ringway_relay)"
      fi ;;
    ringway) ringway_row ringway io_uring $((BASE_PORT + 3)) ;;
    ringway-epoll) ringway_row ringway-epoll epoll $((BASE_PORT + 4)) ;;
    nginx)
      render "$CONFIGS/nginx.conf.in" $((BASE_PORT + 5)) >"$WORK/nginx.conf"
      run_row nginx $((BASE_PORT + 5)) /service1/ping nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" ;;
    haproxy)
      render "$CONFIGS/haproxy.cfg.in" $((BASE_PORT + 6)) >"$WORK/haproxy.cfg"
      run_row haproxy $((BASE_PORT + 6)) /service1/ping haproxy -db -f "$WORK/haproxy.cfg" ;;
    h2o)
      render "$CONFIGS/h2o.conf.in" $((BASE_PORT + 7)) >"$WORK/h2o.conf"
      run_row h2o $((BASE_PORT + 7)) /service1/ping h2o -c "$WORK/h2o.conf" ;;
    *) log "unknown row '$row' (known: direct relay relay-epoll ringway ringway-epoll nginx haproxy h2o)" ;;
  esac
done
done

# --- report ------------------------------------------------------------------------------

ratio() {  # a b -> a/b with 2 decimals, or "-" when either is missing
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

version_of() { "$@" 2>&1 | head -1 || true; }
table() {
  echo "| row | req/s | p50 ms | p99 ms | proxy CPU µs/req | user % | CPU/req ÷ relay | CPU/req ÷ nginx | req/s ÷ relay | req/s ÷ nginx | syscalls/req | proxy CPU% | load CPU% | other load % | backend CPU µs/req | errors | round | CPU µs/req over clean rounds |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local n cpu
  for n in "${ROWS[@]}"; do
    cpu=${ROW[$n.cpu]}
    [[ $n == direct ]] && cpu=""
    printf '| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "$n" "${ROW[$n.rps]}" "${ROW[$n.p50]}" "${ROW[$n.p99]}" "${cpu:--}" "${ROW[$n.user]}" \
      "$(ratio "$cpu" "${ROW[relay.cpu]:-}")" "$(ratio "$cpu" "${ROW[nginx.cpu]:-}")" \
      "$(ratio "${ROW[$n.rps]}" "${ROW[relay.rps]:-}")" "$(ratio "${ROW[$n.rps]}" "${ROW[nginx.rps]:-}")" \
      "${ROW[$n.sys]}" "${ROW[$n.pcpu]}" "${ROW[$n.load]}" "${ROW[$n.other]}" "${ROW[$n.bcpu]}" "${ROW[$n.errs]}" "${ROW[$n.round]}/$ROUNDS" \
      "$([[ $n == direct ]] && echo - || echo "${ROW[$n.range]} (${ROW[$n.clean]})")"
  done
}

((${#ROWS[@]} > 0)) || die "no row was measured"
pick_rounds
mkdir -p "$(dirname "$OUT")"
{
  echo "# Reverse-proxy benchmark, $(date -u +'%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`CONNS=$CONNS DURATION=$DURATION WARMUP=$WARMUP STRACE_SECS=$STRACE_SECS ROUNDS=$ROUNDS bench/wrk/proxy_bench.sh ${1}\`"
  echo "(rows: $ONLY; each: \`wrk -t1 -c$CONNS -d$DURATION --latency\` after a $WARMUP warm-up)."
  echo
  echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)."
  echo "Versions: $(version_of nginx -v); $(version_of haproxy -v); $(version_of h2o --version); $(version_of wrk -v | cut -d' ' -f1-2)$([[ -x $RINGWAY ]] && echo "; $(version_of "$RINGWAY" --version)")."
  echo
  echo "Set-up: everything on 127.0.0.1. The proxy under test runs alone on CPU $PROXY_CPU (taskset,"
  echo "inherited by its workers/threads); wrk (1 thread) and the backend (service1, 1 worker, io auto)"
  echo "share CPU $LOAD_CPU. Every proxy has one worker, routes /service1/ to the backend with the prefix"
  echo "stripped over a keep-alive upstream pool, injects X-Forwarded-For, X-Real-IP, X-Forwarded-Proto"
  echo "and X-Request-Id, adds the four security response headers, and logs no access (configs in"
  echo "bench/wrk/configs/; h2o 2.2 can only set constant request headers, see h2o.conf.in)."
  echo "\`relay\` is ringway_relay (bench/relay/relay.cc), a 1:1 TCP byte relay on net/loop.h with"
  echo "no HTTP work: the cost floor (\`relay-epoll\`: the same on the epoll backend). It forwards"
  echo "bytes unchanged, so wrk asks it for /ping; ratios are against the io_uring relay."
  echo "\`direct\` is wrk straight to the backend: the most the load CPU can drive with no proxy."
  if ((BACKEND_STARTS > 1)); then
    echo "Note: service1 died during this run and was restarted $((BACKEND_STARTS - 1)) time(s)."
  fi
  echo
  table
  echo
  echo "Columns: proxy CPU µs/req = utime+stime of all the proxy's processes and threads"
  echo "(/proc/PID/stat) over the measured run ÷ requests. Ratios divide this row by the relay"
  echo "or nginx row; user % is the utime share of that CPU time (the rest is kernel: TCP on"
  echo "loopback, which also runs the receiving side's stack inline). syscalls/req = total calls of \`strace -c -f -p PID…\` over a separate"
  echo "${STRACE_SECS} s wrk run ÷ its requests (strace slows that run; its counts are all it is"
  echo "used for, and they rise when a slower run batches less). proxy CPU% and load CPU% are"
  echo "the busy share of CPU $PROXY_CPU and CPU $LOAD_CPU (/proc/stat) during the measured run: a"
  echo "proxy below ~100% was not the bottleneck (the load CPU was). other load = busy time of"
  echo "CPU $PROXY_CPU not spent by the proxy, or of CPU $LOAD_CPU not spent by wrk and the backend,"
  echo "whichever is larger (other tenants of the machine; above ~5% the row is suspect)."
  echo "backend CPU µs/req = the same measure for service1. Before each row the script waits (up to"
  echo "QUIET_WAIT s) for both CPUs to be idle. With ROUNDS > 1 every row runs ROUNDS times,"
  echo "interleaved; rounds whose other load exceeds the row's least disturbed round by more than 5"
  echo "points are dropped, and the row shows the remaining round with the median CPU µs/req (round"
  echo "column; last column: min-max of CPU µs/req over those clean rounds and their count)."
  echo
  wrk_details "$WORK" "${ROWS[@]}"
} >"$OUT"
print_table_and_report_path
