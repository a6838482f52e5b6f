# shellcheck shell=bash
# The parts of bench/run.sh: starting the proxies under test, measuring one cell, and the
# matrix, open-loop, memory and access-log runs. Sourced after bench_lib.sh by bench/run.sh.

RAW_COLUMNS=(round mode workers conns size proxy rps p50_ms p99_ms p999_ms cpu_us_req cpu_us_mb
             user_pct syscalls_req rss_kib proxy_cpu_pct load_cpu_pct other_pct errors requests
             bytes backend_us_req)

fmt_secs() {
  local s=$1
  if ((s >= 3600)); then printf '%dh%02dm' $((s / 3600)) $((s % 3600 / 60)); else printf '%dm%02ds' $((s / 60)) $((s % 60)); fi
}

size_label() {
  case $1 in
    *[!0-9]*) echo "$1" ;;
    *) if (($1 >= 1048576 && $1 % 1048576 == 0)); then echo "$(($1 / 1048576))MiB"
       elif (($1 >= 1024 && $1 % 1024 == 0)); then echo "$(($1 / 1024))KiB"
       else echo "${1}B"; fi ;;
  esac
}

versions_line() {
  local v=()
  v+=("$(nginx -v 2>&1 | head -1 | sed 's/^nginx version: //')")
  v+=("$(haproxy -v 2>&1 | head -1 | cut -d' ' -f1-3)")
  v+=("$(h2o --version 2>&1 | head -1)")
  v+=("$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)")
  v+=("h2load $(h2load --version 2>&1 | head -1 | sed 's/.*nghttp2\///')")
  v+=("$("$BIN/ringway" --version 2>&1 | head -1)")
  local IFS=';'
  echo "${v[*]}" | sed 's/;/; /g'
}

# --- ports and processes -------------------------------------------------------------------

BACKEND_PORT=$BASE_PORT
declare -A PORT=([direct]=$BASE_PORT [relay]=$((BASE_PORT + 2)) [relay-epoll]=$((BASE_PORT + 3))
                 [ringway]=$((BASE_PORT + 4)) [ringway-epoll]=$((BASE_PORT + 6)) [nginx]=$((BASE_PORT + 8))
                 [haproxy]=$((BASE_PORT + 9)) [h2o]=$((BASE_PORT + 10)) [ringway-log]=$((BASE_PORT + 11))
                 [ringway-base]=$((BASE_PORT + 12)) [ringway-bigread]=$((BASE_PORT + 13))
                 [ringway-copy]=$((BASE_PORT + 16)) [relay-zc]=$((BASE_PORT + 18)))
declare -A PROXY_PID=()

# Path of a response of $2 bytes through proxy $1: proxies route /service1/ to the backend and
# strip the prefix; the relay and "direct" forward bytes unchanged.
url_of() {
  case $1 in
    direct | relay*) echo "http://127.0.0.1:${PORT[$1]}/size/$2" ;;
    *) echo "http://127.0.0.1:${PORT[$1]}/service1/size/$2" ;;
  esac
}

# The ringway variants: a limits key on top of the defaults (empty for the others).
limits_extra() {
  case $1 in
    ringway-bigread) echo ', recv_buffer: 64KiB' ;;
    ringway-copy) echo ', splice_min: 0' ;;
  esac
}

# render TEMPLATE NAME WORKERS MAXCONN [ACCESS_LOG_LINE]: a config for proxy NAME.
render() {
  local io=io_uring admin=$((${PORT[$2]} + 1))
  [[ $2 == *epoll* ]] && io=epoll
  sed -e "s#@WORK@#$WORK#g" -e "s#@PORT@#${PORT[$2]}#g" -e "s#@BACKEND_PORT@#$BACKEND_PORT#g" \
      -e "s#@ADMIN_PORT@#$admin#g" -e "s#@IO@#$io#g" -e "s#@USER@#$(id -un)#g" \
      -e "s#@WORKERS@#$3#g" -e "s#@MAXCONN@#$4#g" -e "s#@ACCESS_LOG@#${5:-}#g" \
      -e "s#@LIMITS_EXTRA@#$(limits_extra "$2")#g" "$1" |
    limit_upstream "$1"
}

# With UPSTREAM_LIMIT=N (the burst row), each proxy's own cap on connections to the backend
# server: ringway max_connections + queue, nginx max_conns (no queue in nginx OSS), HAProxy
# maxconn (queues); h2o 2.2 has none, its config passes unchanged.
limit_upstream() {
  local n=${UPSTREAM_LIMIT:-}
  if [[ -z $n ]]; then cat; return; fi
  case $1 in
    *ringway.yaml.in) sed -e "/servers: \[\"127.0.0.1:/a\\    max_connections: $n\n    queue: { size: 4000, timeout: 20s }" ;;
    *nginx.conf.in) sed -e "s#^\( *server 127.0.0.1:[0-9]*\);#\1 max_conns=$n;#" ;;
    *haproxy.cfg.in) sed -e "s#^\(  server s1 127.0.0.1:[0-9]*\)\$#\1 maxconn $n#" ;;
    *) cat ;;
  esac
}

BACKEND_PID=
BACKEND_CPUS=none
# (Re)starts the backend on CPU list $1 when it is not running there: a cell must never
# measure a dead backend.
ensure_backend() {
  local cpus=$1
  if [[ -n $BACKEND_PID ]] && kill -0 "$BACKEND_PID" 2>/dev/null && [[ $BACKEND_CPUS == "$cpus" ]]; then
    return 0
  fi
  if [[ -n $BACKEND_PID ]]; then
    kill -0 "$BACKEND_PID" 2>/dev/null || log "warning: backend (pid $BACKEND_PID) died; restarting it"
    stop_pid "$BACKEND_PID"
  fi
  start_on "$cpus" backend "$BIN/ringway_sized_backend" --listen "127.0.0.1:$BACKEND_PORT" \
    --workers "$BACKEND_WORKERS" --io auto
  BACKEND_PID=$LAST_PID BACKEND_CPUS=$cpus
  wait_port "$BACKEND_PORT" "$BACKEND_PID" || die "backend did not start: $(cat "$WORK/backend.log")"
}

# start_proxy NAME CPUS WORKERS MAXCONN [ACCESS_LOG_LINE]: starts it and waits for its port.
# Returns: 1 (with a log line) when it does not come up.
start_proxy() {
  local name=$1 cpus=$2 workers=$3 maxconn=$4 cfg=$WORK/$1.conf
  local -a cmd
  case $name in
    direct) PROXY_PID[$name]=""; return 0 ;;
    relay | relay-epoll | relay-zc)
      local io=io_uring
      [[ $name == relay-epoll ]] && io=epoll
      cmd=("$BIN/ringway_relay" --listen "127.0.0.1:${PORT[$name]}" --upstream "127.0.0.1:$BACKEND_PORT"
           --io "$io" --workers "$workers")
      [[ $name == relay-zc ]] && cmd+=(--send-zc) ;;
    ringway | ringway-epoll | ringway-log | ringway-base | ringway-bigread | ringway-copy)
      # ringway-base: another build of ringway ($RINGWAY_BASE), for before/after rows.
      local bin=$BIN/ringway
      if [[ $name == ringway-base ]]; then
        bin=${RINGWAY_BASE:-}
        [[ -x $bin ]] || { log "ringway-base: set RINGWAY_BASE to a ringway binary"; return 1; }
      fi
      render "$ROOT/bench/wrk/configs/ringway.yaml.in" "$name" "$workers" "$maxconn" "${5:-}" >"$cfg"
      if ! "$bin" --check-config "$cfg" >"$WORK/$name.check" 2>&1; then
        log "$name: ringway rejected the config: $(cat "$WORK/$name.check")"
        return 1
      fi
      cmd=("$bin" --config "$cfg") ;;
    nginx)
      render "$ROOT/bench/wrk/configs/nginx.conf.in" "$name" "$workers" "$maxconn" >"$cfg"
      cmd=(nginx -c "$cfg" -e "$WORK/nginx-error.log") ;;
    haproxy)
      # HAProxy reserves two descriptors per connection and refuses to start when maxconn
      # needs more than the hard RLIMIT_NOFILE: cap it there.
      local cap=$((($(ulimit -Hn) - 100) / 2))
      ((maxconn > cap)) && maxconn=$cap
      render "$ROOT/bench/wrk/configs/haproxy.cfg.in" "$name" "$workers" "$maxconn" >"$cfg"
      cmd=(haproxy -db -f "$cfg") ;;
    h2o)
      render "$ROOT/bench/wrk/configs/h2o.conf.in" "$name" "$workers" "$maxconn" >"$cfg"
      cmd=(h2o -c "$cfg") ;;
    *) log "unknown proxy '$name'"; return 1 ;;
  esac
  start_on "$cpus" "$name" "${cmd[@]}"
  PROXY_PID[$name]=$LAST_PID
  if ! wait_port "${PORT[$name]}" "$LAST_PID"; then
    log "$name: did not start listening on ${PORT[$name]}; log: $(tail -3 "$WORK/$name.log")"
    stop_pid "$LAST_PID"
    PROXY_PID[$name]=""
    return 1
  fi
  return 0
}

stop_proxies() {
  local n
  for n in "${!PROXY_PID[@]}"; do
    [[ -n ${PROXY_PID[$n]} ]] && stop_pid "${PROXY_PID[$n]}"
  done
  PROXY_PID=()
}

# CPU lists of a mode: "proxy load" ("all all" unpinned).
mode_cpus() {
  if [[ $1 == pinned ]]; then echo "$PROXY_CPUS $LOAD_CPUS"; else echo "all all"; fi
}

# --- one measurement -----------------------------------------------------------------------

run_wrk() {  # cpus conns seconds url output
  local TIMEFORMAT='%U %S' threads=$WRK_THREADS
  ((threads > $2)) && threads=$2
  # shellcheck disable=SC2046  # on_cpus expands to a command prefix or nothing
  { time $(on_cpus "$1") timeout $(($3 + 30)) wrk -t"$threads" -c"$2" -d"$3"s --timeout 10s --latency \
      -s "$WRK_STATS_LUA" "$4" >"$5" 2>&1; } 2>"$5.time" || return 1
}

# Seconds one measured run of a cell lasts: DURATION, or longer where the cell moves so many
# bytes that a connection would finish only a response or two in DURATION (1,024 connections
# of 1 MiB are a GiB per turn of every connection). Then requests/s counts how many streams
# happened to end inside the window, not throughput: a proxy that shares its bandwidth
# evenly finishes almost none. The run lasts long enough for each connection to receive three
# responses at 256 MiB/s, below what every proxy moves on this machine.
cell_duration() {  # conns size
  local need=$((($1 * $2 * 3 + 268435455) / 268435456))
  echo $((need > DURATION ? need : DURATION))
}

# measure_into TSV ROUND MODE WORKERS CONNS SIZE NAME: one wrk run of proxy NAME (already
# running) with CPU, RSS and (round 1) syscall sampling; appends a RAW_COLUMNS row to TSV.
# Returns: 1 when the proxy did not answer correctly (no row).
measure_into() {
  local tsv=$1 round=$2 mode=$3 workers=$4 conns=$5 size=$6 name=$7
  local pid=${PROXY_PID[$name]:-} url cpus pcpus lcpus
  url=$(url_of "$name" "$size")
  read -r pcpus lcpus <<<"$(mode_cpus "$mode")"
  if [[ $mode == pinned ]]; then wait_quiet "$pcpus" "$lcpus"; else wait_quiet all; fi

  # The response must be the right size and, through a proxy, carry its injected header.
  local check
  check=$(curl -s -D "$WORK/check.head" -o /dev/null -w '%{http_code} %{size_download}' --max-time 5 "$url" || true)
  if [[ $check != "200 $size" ]]; then
    log "$name: $url answered '$check', not '200 $size'; skipping the cell"
    return 1
  fi
  if [[ $name != direct && $name != relay* ]] && ! grep -qi '^x-frame-options: DENY' "$WORK/check.head"; then
    log "$name: warning: the response lacks the injected X-Frame-Options header"
  fi

  run_wrk "$lcpus" "$conns" "$WARMUP" "$url" "$WORK/warmup.wrk" || true
  local procs=() bprocs=() t0 t1 u0 u1 b0 b1 p0 p1 l0 l1 a0 a1
  [[ -n $pid ]] && mapfile -t procs < <(tree_pids "$pid")
  mapfile -t bprocs < <(tree_pids "$BACKEND_PID")
  t0=$(cpu_ticks "${procs[@]}"); u0=$(FIELD=user cpu_ticks "${procs[@]}"); b0=$(cpu_ticks "${bprocs[@]}")
  p0=$(cpu_line "$pcpus"); l0=$(cpu_line "$lcpus"); a0=$(cpu_line all)
  local w=$WORK/cell.wrk secs
  secs=$(cell_duration "$conns" "$size")
  run_wrk "$lcpus" "$conns" "$secs" "$url" "$w" || log "$name: wrk exited non-zero"
  t1=$(cpu_ticks "${procs[@]}"); u1=$(FIELD=user cpu_ticks "${procs[@]}"); b1=$(cpu_ticks "${bprocs[@]}")
  p1=$(cpu_line "$pcpus"); l1=$(cpu_line "$lcpus"); a1=$(cpu_line all)
  local rss=-
  ((${#procs[@]})) && rss=$(rss_kib "${procs[@]}")
  cat "$w" >>"$OUT/wrk.log"

  local reqs bytes
  reqs=$(wrk_field "$w" reqs) bytes=$(wrk_field "$w" bytes)
  if [[ -z $reqs || $reqs == 0 ]]; then
    log "$name: wrk produced no requests: $(head -c 300 "$w")"
    return 1
  fi
  local d=$((t1 - t0)) wrk_ticks other
  wrk_ticks=$(awk -v hz="$CLK_TCK" '{ printf "%.0f", ($1 + $2) * hz }' "$w.time")
  # Busy time that was none of ours (other tenants of the machine): on the proxy's CPUs
  # not spent by the proxy and on the load CPUs not spent by wrk and the backend (pinned),
  # or on all CPUs not spent by the three (unpinned). Above ~5% a row is suspect.
  if [[ $mode == pinned ]]; then
    local o1 o2
    o1=$(other_pct "$p0" "$p1" "$d") o2=$(other_pct "$l0" "$l1" $((b1 - b0 + wrk_ticks)))
    other=$((o1 > o2 ? o1 : o2))
  else
    other=$(other_pct "$a0" "$a1" $((d + b1 - b0 + wrk_ticks)))
  fi
  local cpu_req=- cpu_mb=- user=- pcpu=-
  if [[ -n $pid ]]; then
    cpu_req=$(awk -v d="$d" -v r="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d * 1e6 / hz / r }')
    cpu_mb=$(awk -v d="$d" -v b="$bytes" -v hz="$CLK_TCK" 'BEGIN { if (b > 0) printf "%.1f", d * 1e6 / hz / (b / 1e6); else print "-" }')
    user=$(awk -v u=$((u1 - u0)) -v d="$d" 'BEGIN { if (d > 0) printf "%.0f", 100 * u / d; else print "-" }')
    # The proxy's CPU use in percent of one CPU (100 = one core saturated).
    pcpu=$(awk -v d="$d" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.0f", 100 * d / hz / s }')
  fi
  local bcpu
  bcpu=$(awk -v d=$((b1 - b0)) -v r="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d * 1e6 / hz / r }')

  # Syscalls: strace stops the tracee at every call, so this separate run is much slower and
  # only its counts are used; once per cell (round 1) keeps the matrix short.
  local sys=-
  if [[ -n $pid && $round == 1 && $STRACE_SECS != 0 ]]; then
    local args=() p sp st=$WORK/cell.strace
    for p in $(tree_pids "$pid"); do args+=(-p "$p"); done
    # shellcheck disable=SC2046
    $(on_cpus "$lcpus") strace -c -f -qq -o "$st" "${args[@]}" 2>/dev/null &
    sp=$!
    sleep 0.5
    run_wrk "$lcpus" "$conns" "$STRACE_SECS" "$url" "$st.wrk" || true
    kill -INT "$sp" 2>/dev/null || true
    wait "$sp" 2>/dev/null || true
    local calls sreqs
    calls=$(awk '$NF == "total" { print $4 }' "$st" 2>/dev/null || true)
    sreqs=$(wrk_field "$st.wrk" reqs)
    if [[ -n $calls && -n $sreqs && $sreqs -gt 0 ]]; then
      sys=$(awk -v c="$calls" -v r="$sreqs" 'BEGIN { printf "%.2f", c / r }')
    fi
  fi

  local rps p50 p99 p999 errs
  rps=$(printf '%.0f' "$(wrk_field "$w" rps)")
  p50=$(wrk_field "$w" p50) p99=$(wrk_field "$w" p99) p999=$(wrk_field "$w" p999) errs=$(wrk_field "$w" errors)
  printf '%s\t' "$round" "$mode" "$workers" "$conns" "$size" "$name" "$rps" "$p50" "$p99" "$p999" \
    "$cpu_req" "$cpu_mb" "$user" "$sys" "$rss" "$pcpu" "$(busy_pct "$l0" "$l1")" "$other" "$errs" \
    "$reqs" "$bytes" >>"$tsv"
  printf '%s\n' "$bcpu" >>"$tsv"
  LAST_SUMMARY="$rps req/s, p99 $p99 ms, $cpu_req µs/req, $sys sys/req, other load $other%"
  return 0
}

# Prints the progress line of one finished measurement with the estimated time left.
progress() {  # what
  DONE=$((DONE + 1))
  local spent=$((SECONDS - PART_START)) left
  left=$(((spent * (TOTAL - DONE)) / DONE + LATER_SECS))
  log "[$DONE/$TOTAL] $1 | $(fmt_secs $((SECONDS - START))) elapsed, ~$(fmt_secs "$left") left"
}

# Seconds the parts after the matrix take (for the time-left estimate), roughly.
later_secs() {
  local n=0 k
  k=$(wc -w <<<"$PROXIES")
  has_part openloop && n=$((n + k * 2 * (OPENLOOP_SECS + 3) + 10))
  has_part memory && n=$((n + k * 12))
  has_part accesslog && n=$((n + ROUNDS * 2 * (WARMUP + DURATION + 4)))
  has_part micro && n=$((n + (QUICK ? 30 : 90)))
  echo "$n"
}

# --- the parts -----------------------------------------------------------------------------

run_matrix() {
  local per_cell=$((WARMUP + DURATION + 3)) nc
  nc=$(($(wc -w <<<"$MODES") * $(wc -w <<<"$WORKERS_LIST") * $(wc -w <<<"$CONNS_LIST") * $(wc -w <<<"$SIZES")))
  TOTAL=$((ROUNDS * nc * $(wc -w <<<"$PROXIES"))) DONE=0 PART_START=$SECONDS LATER_SECS=$(later_secs)
  log "matrix: $nc cells x $(wc -w <<<"$PROXIES") proxies x $ROUNDS round(s) = $TOTAL runs," \
      "about $(fmt_secs $((TOTAL * per_cell + ROUNDS * nc * 2 + nc * $(wc -w <<<"$PROXIES") * (STRACE_SECS + 1))))" \
      "(+ $(fmt_secs "$LATER_SECS") for the other parts)"
  local round mode workers conns size name pcpus lcpus order i k what
  for ((round = 1; round <= ROUNDS; round++)); do
    for mode in $MODES; do
      read -r pcpus lcpus <<<"$(mode_cpus "$mode")"
      ensure_backend "$lcpus"
      for workers in $WORKERS_LIST; do
        for conns in $CONNS_LIST; do
          for size in $SIZES; do
            # Every proxy starts fresh for each cell (its RSS is this cell's), and the order
            # rotates by round so that drift on the machine does not favour one proxy.
            read -ra order <<<"$PROXIES"
            k=${#order[@]}
            for ((i = 0; i < k; i++)); do
              name=${order[(i + round - 1) % k]}
              ensure_backend "$lcpus"
              what="r$round $mode w$workers c$conns $(size_label "$size") $name"
              if start_proxy "$name" "$pcpus" "$workers" 4096 &&
                 measure_into "$RAW" "$round" "$mode" "$workers" "$conns" "$size" "$name"; then
                progress "$what: $LAST_SUMMARY"
              else
                progress "$what: no result"
              fi
              stop_proxies
            done
          done
        done
      done
    done
  done
}

# Open-loop latency: h2load paces requests at a fixed rate (--rps per connection), so a slow
# response does not hold back the next request's send time the way a closed loop does.
run_openloop() {
  local mode=${MODES%% *} workers=${WORKERS_LIST%% *} conns=${OPENLOOP_CONNS:-64} size=${OPENLOOP_SIZE:-100}
  local pcpus lcpus peak name pct rate
  read -r pcpus lcpus <<<"$(mode_cpus "$mode")"
  ensure_backend "$lcpus"
  peak=$(awk -F'\t' -v m="$mode" -v w="$workers" -v c="$conns" -v s="$size" \
    '$2 == m && $3 == w && $4 == c && $5 == s && $6 == "nginx" { print $7 }' "$RAW" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
  if [[ -z $peak ]]; then
    log "open-loop: measuring nginx's peak at $conns connections, $(size_label "$size")"
    start_proxy nginx "$pcpus" "$workers" 4096 || { log "open-loop: skipped (nginx did not start)"; return; }
    measure_into "$WORK/peak.tsv" 0 "$mode" "$workers" "$conns" "$size" nginx || true
    stop_proxies
    peak=$(awk -F'\t' '{ print $7 }' "$WORK/peak.tsv" 2>/dev/null | head -1)
    [[ -n $peak ]] || { log "open-loop: skipped (no nginx peak)"; return; }
  fi
  local tsv=$OUT/openloop.tsv
  printf 'mode\tworkers\tconns\tsize\tproxy\tpct_of_nginx_peak\ttarget_rps\tachieved_rps\tp50_ms\tp99_ms\tp999_ms\tmax_ms\terrors\tcpu_us_req\n' >"$tsv"
  TOTAL=$(($(wc -w <<<"$PROXIES") * 2)) DONE=0 PART_START=$SECONDS
  LATER_SECS=$(( $(later_secs) - $(wc -w <<<"$PROXIES") * 2 * (OPENLOOP_SECS + 3) - 10 ))
  log "open-loop: nginx peak $peak req/s; h2load at 50% and 90% of it, $conns connections, ${OPENLOOP_SECS}s each"
  for name in $PROXIES; do
    start_proxy "$name" "$pcpus" "$workers" 4096 || { DONE=$((DONE + 2)); continue; }
    for pct in 50 90; do
      rate=$((peak * pct / 100))
      openloop_one "$tsv" "$mode" "$workers" "$conns" "$size" "$name" "$pct" "$rate" "$lcpus"
    done
    stop_proxies
  done
}

openloop_one() {  # tsv mode workers conns size name pct rate load_cpus
  local tsv=$1 mode=$2 workers=$3 conns=$4 size=$5 name=$6 pct=$7 rate=$8 lcpus=$9
  local per=$(((rate + conns - 1) / conns)) url log=$WORK/h2load.log pid=${PROXY_PID[$name]:-}
  url=$(url_of "$name" "$size")
  if [[ $mode == pinned ]]; then wait_quiet "$PROXY_CPUS" "$lcpus"; else wait_quiet all; fi
  local procs=() t0 t1
  [[ -n $pid ]] && mapfile -t procs < <(tree_pids "$pid")
  rm -f "$log"
  t0=$(cpu_ticks "${procs[@]}")
  # shellcheck disable=SC2046
  $(on_cpus "$lcpus") timeout $((OPENLOOP_SECS + 30)) h2load --h1 -t1 -c"$conns" --rps="$per" \
    -D "$OPENLOOP_SECS" --warm-up-time=1 --log-file="$log" "$url" >"$WORK/h2load.out" 2>&1 || true
  t1=$(cpu_ticks "${procs[@]}")
  cat "$WORK/h2load.out" >>"$OUT/h2load.log"
  if [[ ! -s $log ]]; then
    log "open-loop $name $pct%: h2load logged nothing: $(tail -2 "$WORK/h2load.out")"
    progress "open-loop $name at $pct% of nginx's peak: no result"
    return
  fi
  # The log has one line per request: start µs since the epoch, status, µs to the response end.
  local row
  row=$(awk -F'\t' -v s="$OPENLOOP_SECS" '{ n++; if ($2 != 200) e++; print $3 > "/dev/stderr" }
           END { printf "%.0f %d %d", n / s, e + 0, n }' "$log" 2>"$WORK/lat.txt")
  local achieved errs n
  read -r achieved errs n <<<"$row"
  local pcts
  pcts=$(sort -n "$WORK/lat.txt" | awk '{ v[NR] = $1 } END {
    q(0.50); q(0.99); q(0.999); printf "%.2f\n", v[NR] / 1000 }
    function q(p,  i) { i = int(p * NR + 0.5); if (i < 1) i = 1; printf "%.2f ", v[i] / 1000 }')
  local cpu=-
  [[ -n $pid ]] && cpu=$(awk -v d=$((t1 - t0)) -v r="$n" -v hz="$CLK_TCK" 'BEGIN { if (r) printf "%.2f", d * 1e6 / hz / r; else print "-" }')
  # shellcheck disable=SC2086  # four numbers
  printf '%s\t' "$mode" "$workers" "$conns" "$size" "$name" "$pct" "$rate" "$achieved" $pcts "$errs" >>"$tsv"
  printf '%s\n' "$cpu" >>"$tsv"
  progress "open-loop $name at $pct% of nginx's peak ($rate req/s): achieved $achieved, p50/p99/p99.9 $(cut -d' ' -f1-3 <<<"$pcts") ms"
}

# Memory rows: RSS growth per idle keep-alive connection (MEMORY_CONNS after one request each)
# and per slow-reading stream (SLOW_STREAMS clients reading a 4 MiB response at ~10 KiB/s).
run_memory() {
  local mode=${MODES%% *} pcpus lcpus name tsv=$OUT/memory.tsv
  read -r pcpus lcpus <<<"$(mode_cpus "$mode")"
  ensure_backend "$lcpus"
  printf 'proxy\trow\tclients\tbase_kib\tloaded_kib\tbytes_per_client\n' >"$tsv"
  local names=()
  for name in $PROXIES; do
    # The relay holds an upstream connection per client (two descriptors each), and
    # "direct" has no proxy: neither is a proxy's memory figure.
    [[ $name == direct || $name == relay* ]] || names+=("$name")
  done
  TOTAL=$((${#names[@]} * 2)) DONE=0 PART_START=$SECONDS
  LATER_SECS=$(( $(later_secs) - $(wc -w <<<"$PROXIES") * 12 ))
  (( LATER_SECS < 0 )) && LATER_SECS=0
  for name in "${names[@]}"; do
    memory_one "$tsv" "$name" idle "$MEMORY_CONNS" "$pcpus" "$lcpus"
    memory_one "$tsv" "$name" slow "$SLOW_STREAMS" "$pcpus" "$lcpus"
  done
}

memory_one() {  # tsv name idle|slow clients proxy_cpus load_cpus
  local tsv=$1 name=$2 kind=$3 clients=$4 pcpus=$5 lcpus=$6
  if [[ $name == haproxy && $kind == idle ]]; then
    # See start_proxy: HAProxy cannot take more connections than half the descriptor limit.
    local cap=$((($(ulimit -Hn) - 100) / 2 - 50))
    ((clients > cap)) && clients=$cap
  fi
  if ! start_proxy "$name" "$pcpus" 1 $((clients + 2000)); then
    progress "memory $name $kind: no result"
    return
  fi
  local pid=${PROXY_PID[$name]} size=100 procs=() base loaded ready=$WORK/ready
  [[ $kind == slow ]] && size=4194304
  curl -s -o /dev/null --max-time 5 "$(url_of "$name" 100)" || true
  sleep 0.5
  mapfile -t procs < <(tree_pids "$pid")
  base=$(rss_kib "${procs[@]}")
  rm -f "$ready"
  local args=(--port "${PORT[$name]}" --path "/service1/size/$size" --conns "$clients" --hold 3
              --timeout 60 --ready-file "$ready")
  [[ $kind == slow ]] && args+=(--mode slow --settle 2)
  # shellcheck disable=SC2046
  $(on_cpus "$lcpus") python3 "$ROOT/bench/tools/conn_hold.py" "${args[@]}" >"$WORK/hold.log" 2>&1 &
  local hp=$! i
  for ((i = 0; i < 600; i++)); do
    [[ -s $ready ]] && break
    kill -0 "$hp" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -s $ready ]]; then
    sleep 0.5
    mapfile -t procs < <(tree_pids "$pid")
    loaded=$(rss_kib "${procs[@]}")
    local per
    per=$(awk -v a="$base" -v b="$loaded" -v n="$clients" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$clients" "$base" "$loaded" "$per" >>"$tsv"
    progress "memory $name $kind: $clients clients, RSS $base -> $loaded KiB = $per bytes each"
  else
    progress "memory $name $kind: client failed: $(tail -2 "$WORK/hold.log")"
  fi
  wait "$hp" 2>/dev/null || true
  stop_proxies
}

# Access-log cost: ringway with and without its access log, same cell, interleaved rounds.
run_accesslog() {
  local tsv=$OUT/accesslog.tsv mode=${MODES%% *} workers=${WORKERS_LIST%% *} conns=64 size=100
  local pcpus lcpus line
  read -r pcpus lcpus <<<"$(mode_cpus "$mode")"
  line="access_log: { path: \"$WORK/access.log\", buffer: 64KiB, flush: 1s }"
  render "$ROOT/bench/wrk/configs/ringway.yaml.in" ringway-log 1 4096 "$line" >"$WORK/ringway-log.conf"
  if ! "$BIN/ringway" --check-config "$WORK/ringway-log.conf" >"$WORK/ringway-log.check" 2>&1; then
    log "access-log row: skipped: access_log not supported by this build"
    printf 'skipped: access_log not supported by this build (%s)\n' \
      "$(head -1 "$WORK/ringway-log.check" | sed "s#$WORK/##")" >"$tsv"
    return
  fi
  printf '%s\n' "$(IFS=$'\t'; echo "${RAW_COLUMNS[*]}")" >"$tsv"
  ensure_backend "$lcpus"
  TOTAL=$((ROUNDS * 2)) DONE=0 PART_START=$SECONDS
  LATER_SECS=$(has_part micro && echo $((QUICK ? 30 : 90)) || echo 0)
  local round name
  for ((round = 1; round <= ROUNDS; round++)); do
    for name in ringway ringway-log; do
      if start_proxy "$name" "$pcpus" "$workers" 4096 "$([[ $name == ringway-log ]] && echo "$line")" &&
         measure_into "$tsv" "$round" "$mode" "$workers" "$conns" "$size" "$name"; then
        progress "access log r$round $name: $LAST_SUMMARY"
      else
        progress "access log r$round $name: no result"
      fi
      stop_proxies
    done
  done
  [[ -s $WORK/access.log ]] && log "access log: $(wc -l <"$WORK/access.log") lines written"
}

# Burst row: 2,000 clients at once (one GET each, Connection: close) through each proxy to a
# thread-per-connection upstream (listen backlog 128, 20 ms per request), with the proxy's
# per-server connection cap at 64 where it has one. Reports answered/failed and the upstream's
# peak of open connections.
run_burst() {
  local mode=${MODES%% *} pcpus lcpus name tsv=$OUT/burst.tsv
  read -r pcpus lcpus <<<"$(mode_cpus "$mode")"
  printf 'proxy\tclients\tlimit\tanswered\tfailed\tseconds\tupstream_peak\tupstream_accepted\n' >"$tsv"
  [[ -n $BACKEND_PID ]] && stop_pid "$BACKEND_PID"
  BACKEND_PID=
  local names=()
  for name in $PROXIES; do [[ $name == direct || $name == relay* ]] || names+=("$name"); done
  TOTAL=${#names[@]} DONE=0 PART_START=$SECONDS LATER_SECS=0
  for name in "${names[@]}"; do
    local stats=$WORK/burst-stats limit=64
    [[ $name == h2o ]] && limit=none
    rm -f "$stats"
    python3 "$ROOT/bench/tools/burst.py" upstream --port "$BACKEND_PORT" --backlog 128 \
      --service-ms 20 --stats-file "$stats" --timeout 300 >"$WORK/burst-upstream.log" 2>&1 &
    local up=$!
    sleep 0.5
    if ! UPSTREAM_LIMIT=64 start_proxy "$name" "$pcpus" 1 4096; then
      stop_pid "$up"
      progress "burst $name: no result"
      continue
    fi
    local result
    # shellcheck disable=SC2046
    result=$($(on_cpus "$lcpus") python3 "$ROOT/bench/tools/burst.py" client --port "${PORT[$name]}" \
      --conns 2000 --timeout 60)
    local peak=- accepted=-
    [[ -s $stats ]] && read -r peak accepted <"$stats"
    read -r ok failed secs <<<"$result"
    printf '%s\t2000\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$limit" "$ok" "$failed" "$secs" "$peak" \
      "$accepted" >>"$tsv"
    stop_proxies
    stop_pid "$up"
    progress "burst $name: $ok answered, $failed failed in ${secs}s, upstream peak $peak (limit $limit)"
  done
}
