# shellcheck shell=bash
# Shared shell helpers of the benchmark scripts (bench/run.sh, bench/wrk/*.sh): process trees,
# CPU and memory sampling from /proc, the idle-machine wait and wrk output parsing. Sourced.
#
# The sourcing script sets BENCH_NAME (log prefix) and WORK (its private temp dir) first, and
# may append to PIDS; bench_cleanup (installed as the EXIT trap) stops every process in PIDS.

BENCH_NAME=${BENCH_NAME:-bench}
declare -a PIDS=()
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes ---------------------------------------------------------------------------

# The given pids and all their descendants (nginx workers, h2o helpers, threads excluded:
# a process's /proc line already covers its threads).
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
  # shellcheck disable=SC2086  # a list of pids
  [[ -n $rest ]] && kill -KILL $rest 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    if [[ ${KEEP_WORK:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  fi
}

# Starts "$@" in the background with output in $WORK/$2.log, pinned to the CPU list $1
# (taskset -c syntax; "" or "all" = not pinned). Sets LAST_PID and records it in PIDS.
start_on() {
  local cpus=$1 name=$2
  shift 2
  if [[ -n $cpus && $cpus != all ]]; then
    taskset -c "$cpus" "$@" >"$WORK/$name.log" 2>&1 &
  else
    "$@" >"$WORK/$name.log" 2>&1 &
  fi
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# Prefix for a command that runs on the CPU list $1 ("" or "all": no prefix).
on_cpus() {
  if [[ -n $1 && $1 != all ]]; then echo "taskset -c $1"; fi
}

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

# --- CPU and memory ----------------------------------------------------------------------

# Sum of utime+stime clock ticks of the given processes (a process's line covers its
# threads); with FIELD=user only utime.
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    # After "(comm) ": state is field 1, utime 12, stime 13 (proc(5) fields 14 and 15).
    f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086  # split the stat line into fields
    set -- $f
    if [[ ${FIELD:-} == user ]]; then total=$((total + ${12})); else total=$((total + ${12} + ${13})); fi
  done
  echo "$total"
}

# Sum of VmRSS (KiB) over the given processes.
rss_kib() {
  local total=0 p v
  for p in "$@"; do
    v=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# Expands a taskset CPU list ("0", "1,3", "0-2", "all") into CPU numbers.
cpu_numbers() {
  local spec=$1 part a b i
  if [[ -z $spec || $spec == all ]]; then
    seq 0 $(($(nproc) - 1))
    return
  fi
  for part in ${spec//,/ }; do
    if [[ $part == *-* ]]; then
      a=${part%-*} b=${part#*-}
      for ((i = a; i <= b; i++)); do echo "$i"; done
    else
      echo "$part"
    fi
  done
}

# "busy total" jiffies summed over a CPU list from /proc/stat (busy = all but idle, iowait).
cpu_line() {
  local cpus
  cpus=$(cpu_numbers "$1" | tr '\n' ' ')
  awk -v list="$cpus" 'BEGIN { n = split(list, l, " "); for (i = 1; i <= n; i++) want["cpu" l[i]] = 1 }
    ($1 in want) { t = 0; for (i = 2; i <= NF; i++) t += $i; busy += t - $5 - $6; all += t }
    END { print busy + 0, all + 0 }' /proc/stat
}

# Busy percentage between two cpu_line samples.
busy_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2] + 1e-9) }'
}

# Percentage of a CPU-list sample pair ($1 $2) not explained by $3 ticks of our own work.
other_pct() {
  awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { split(a, x, " "); split(b, y, " ");
    o = 100 * (y[1] - x[1] - d) / (y[2] - x[2] + 1e-9); printf "%.0f", o < 0 ? 0 : o }'
}

# Waits (QUIET_WAIT seconds at most, default 60) until no CPU group given as arguments
# (taskset lists; e.g. the proxy's and the load's) is busier than QUIET_PCT (10) percent:
# a compile or test running beside the bench skews every number. Returns at once with
# QUIET_WAIT=0.
wait_quiet() {
  local deadline=$((SECONDS + ${QUIET_WAIT:-60})) busy g b worst
  local -a before after
  ((${QUIET_WAIT:-60} > 0)) || return 0
  while :; do
    before=() after=()
    for g in "$@"; do before+=("$(cpu_line "$g")"); done
    sleep 1
    for g in "$@"; do after+=("$(cpu_line "$g")"); done
    worst=0
    for ((g = 0; g < $#; g++)); do
      b=$(busy_pct "${before[g]}" "${after[g]}")
      ((b > worst)) && worst=$b
    done
    busy=$worst
    ((busy <= ${QUIET_PCT:-10})) && return 0
    if ((SECONDS >= deadline)); then
      log "warning: CPUs still ${busy}% busy with other work; measuring anyway"
      return 0
    fi
  done
}

# --- wrk ---------------------------------------------------------------------------------

BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The Lua script that makes wrk print p99.9 and the bytes it read (see wrk_stats.lua).
WRK_STATS_LUA=$BENCH_LIB_DIR/wrk_stats.lua

# wrk latency ("812.00us", "1.26ms", "1.02s") in milliseconds, 2 decimals (3 with PREC=3).
to_ms() {
  awk -v v="$1" -v p="${PREC:-2}" 'BEGIN {
    if (v == "") { print "-"; exit }
    u = v; sub(/^[0-9.]+/, "", u); n = v + 0
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.*f", p, n }'
}

# Prints one field of a wrk output file: reqs, rps, p50, p75, p90, p99 (ms from
# --latency), p999 (ms, from wrk_stats.lua), bytes (wrk_stats.lua), errors (socket errors +
# non-2xx responses).
wrk_field() {
  local file=$1 field=$2
  case $field in
    reqs) awk '/requests in/ { print $1 }' "$file" ;;
    rps) awk '/^Requests\/sec:/ { print $2 }' "$file" ;;
    p50 | p75 | p90 | p99) to_ms "$(awk -v q="${field#p}%" '$1 == q { print $2 }' "$file")" ;;
    p999) awk '$1 == "wrk_stats:" { printf "%.*f", '"${PREC:-2}"', $3 / 1000 }' "$file" ;;
    bytes) awk '$1 == "wrk_stats:" { print $2 }' "$file" ;;
    errors) awk '/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
                 /Non-2xx/ { e += $NF } END { print e + 0 }' "$file" ;;
    *) die "wrk_field: unknown field $field" ;;
  esac
}

# wrk_details DIR ROW...: the raw wrk output of each row (DIR/ROW.wrk) as a collapsed
# Markdown section, for the end of a report.
wrk_details() {
  local dir=$1 n; shift
  echo "<details><summary>wrk output per row</summary>"
  echo
  for n in "$@"; do
    echo "#### $n"
    echo '```'
    cat "$dir/$n.wrk"
    echo '```'
  done
  echo "</details>"
}

# print_table_and_report_path: the script's own `table` function on stdout, then where the
# full report ($OUT) went.
print_table_and_report_path() {
  echo
  table
  echo
  log "report written to $OUT"
}
