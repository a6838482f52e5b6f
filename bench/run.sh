#!/usr/bin/env bash
# One-command proxy benchmark: installs the tools, builds Release, and measures ringway (io_uring,
# epoll), nginx, HAProxy, h2o and the byte-relay floor over a matrix, then reports and plots.
#
# Usage: bench/run.sh [--quick] [options]      (bench/run.sh --help lists them)
# Everything runs on 127.0.0.1 with bounded durations; results go to bench/results/run-DATE/.
# The parts (matrix, open-loop latency, memory rows, access-log row, micro-benchmarks) are
# described in README.md, "Benchmarks: bench/run.sh".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_NAME=run
# shellcheck source=lib/bench_lib.sh
source "$ROOT/bench/lib/bench_lib.sh"

usage() {
  cat <<EOF
Usage: bench/run.sh [--quick] [options]
  --quick              a ~5-minute subset (1 round of 2 s runs, connections 16 and 256, sizes
                       100 B and 64 KiB, 1 worker, pinned; open-loop, memory and access-log
                       rows as usual; 9 micro-benchmarks): checks the harness, not for publishing
  --rounds N           interleaved rounds; cells report the median (default 3)
  --duration S         seconds of each measured wrk run (default 5)
  --warmup S           seconds of warm-up before it (default 1)
  --proxies "LIST"     of: direct relay relay-epoll ringway ringway-epoll nginx haproxy h2o
                       ringway-base (the ringway binary in \$RINGWAY_BASE: before/after rows)
                       ringway-bigread (ringway with limits.recv_buffer: 64KiB instead of 16KiB)
                       ringway-copy (ringway with limits.splice_min: 0: every body through user space)
                       relay-zc (the relay sending with IORING_OP_SENDMSG_ZC)
                       (default: relay ringway ringway-epoll nginx haproxy h2o)
  --conns "LIST"       client connections (default: 1 16 64 256 1024)
  --sizes "LIST"       response body bytes (default: 100 4096 65536 1048576)
  --workers "LIST"     proxy workers/threads/processes (default: 1 2)
  --modes "LIST"       pinned (proxy alone on PROXY_CPUS) and/or unpinned (default: both)
  --parts "LIST"       of: matrix openloop memory accesslog burst micro (default: all)
  --out DIR            results directory (default: bench/results/run-YYYYMMDD-HHMM)
  --build DIR          build directory (default: build, or build-release if build is not Release)
  --no-setup           do not run deploy/setup.sh --bench (it needs root)
  --no-build           use the binaries already in the build directory
Env: PROXY_CPUS=<last CPU> LOAD_CPUS=<the others> (taskset lists, pinned mode),
     BASE_PORT=18600 (ports BASE_PORT..+19 on 127.0.0.1), QUIET_WAIT=20 (s to wait for idle
     CPUs before each measurement), STRACE_SECS=2, WRK_THREADS=1, BACKEND_WORKERS=1,
     OPENLOOP_SECS=5, MEMORY_CONNS=10000, SLOW_STREAMS=200, MICRO_FILTER=regex,
     KEEP_WORK=1 (keep the temp dir with every process's log).
EOF
}

QUICK=0 DO_SETUP=1 DO_BUILD=1
ROUNDS=3 DURATION=5 WARMUP=1
PROXIES="relay ringway ringway-epoll nginx haproxy h2o"
CONNS_LIST="1 16 64 256 1024"
SIZES="100 4096 65536 1048576"
WORKERS_LIST="1 2"
MODES="pinned unpinned"
PARTS="matrix openloop memory accesslog burst micro"
OUT="" BUILD=""
COMMAND_LINE="bench/run.sh${*:+ $*}"
declare -A SET=()
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS=$2 SET[rounds]=1; shift ;;
    --duration) DURATION=$2 SET[duration]=1; shift ;;
    --warmup) WARMUP=$2 SET[warmup]=1; shift ;;
    --proxies) PROXIES=$2 SET[proxies]=1; shift ;;
    --conns) CONNS_LIST=$2 SET[conns]=1; shift ;;
    --sizes) SIZES=$2 SET[sizes]=1; shift ;;
    --workers) WORKERS_LIST=$2 SET[workers]=1; shift ;;
    --modes) MODES=$2 SET[modes]=1; shift ;;
    --parts) PARTS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --no-setup) DO_SETUP=0 ;;
    --no-build) DO_BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if ((QUICK)); then
  # Options given explicitly win over the quick defaults.
  [[ -n ${SET[rounds]:-} ]] || ROUNDS=1
  [[ -n ${SET[duration]:-} ]] || DURATION=2
  [[ -n ${SET[conns]:-} ]] || CONNS_LIST="16 256"
  [[ -n ${SET[sizes]:-} ]] || SIZES="100 65536"
  [[ -n ${SET[workers]:-} ]] || WORKERS_LIST="1"
  [[ -n ${SET[modes]:-} ]] || MODES="pinned"
  : "${QUIET_WAIT:=5}" "${STRACE_SECS:=1}" "${OPENLOOP_SECS:=2}"
  # The operations issue 13 names: parse, header rewrite, route lookup, p2c pick, observe.
  : "${MICRO_FILTER:=BM_Parse(Wrk|Browser)Get|BM_Build(UpstreamRequest|ClientResponse)|BM_RouterMatchMany/(10|1000)\$|BM_PickP2C/2|BM_RingwayHistogramObserve/threads:1}"
fi
export QUIET_WAIT=${QUIET_WAIT:-20}
STRACE_SECS=${STRACE_SECS:-2}
OPENLOOP_SECS=${OPENLOOP_SECS:-5}
WRK_THREADS=${WRK_THREADS:-1}
BACKEND_WORKERS=${BACKEND_WORKERS:-1}
MEMORY_CONNS=${MEMORY_CONNS:-10000}
SLOW_STREAMS=${SLOW_STREAMS:-200}
BASE_PORT=${BASE_PORT:-18600}
NCPU=$(nproc)
PROXY_CPUS=${PROXY_CPUS:-$((NCPU - 1))}
LOAD_CPUS=${LOAD_CPUS:-$( ((NCPU > 1)) && echo "0-$((NCPU - 2))" || echo 0)}
STAMP=$(date -u +%Y%m%d-%H%M)
OUT=${OUT:-$ROOT/bench/results/run-$STAMP}
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
# The parts themselves (they read the settings above).
# shellcheck source=lib/run_parts.sh
source "$ROOT/bench/lib/run_parts.sh"

# --- 1. tools ------------------------------------------------------------------------------
if ((DO_SETUP)); then
  if [[ $(id -u) == 0 ]]; then
    log "installing packages: deploy/setup.sh --bench"
    bash "$ROOT/deploy/setup.sh" --bench >"/tmp/ringway-bench-setup.log" 2>&1 ||
      die "deploy/setup.sh --bench failed: see /tmp/ringway-bench-setup.log"
  else
    log "not root: skipping deploy/setup.sh --bench (run it as root once, or pass --no-setup)"
  fi
fi
for tool in wrk h2load strace taskset curl python3 gnuplot cmake; do
  command -v "$tool" >/dev/null || die "$tool missing: run deploy/setup.sh --bench as root"
done
if has_part micro; then command -v valgrind >/dev/null || die "valgrind missing: deploy/setup.sh --bench"; fi
for p in $PROXIES; do
  case $p in
    nginx | haproxy | h2o) command -v "$p" >/dev/null || die "$p missing: deploy/setup.sh --bench" ;;
  esac
done

# --- 2. build ------------------------------------------------------------------------------
if [[ -z $BUILD ]]; then
  BUILD=$ROOT/build
  if [[ -f $BUILD/CMakeCache.txt ]] && ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD/CMakeCache.txt"; then
    BUILD=$ROOT/build-release
  fi
fi
if ((DO_BUILD)); then
  log "building Release in $BUILD"
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"/tmp/ringway-bench-build.log" 2>&1 ||
      die "cmake configure failed: see /tmp/ringway-bench-build.log"
  fi
  cmake --build "$BUILD" -j"$NCPU" --target ringway ringway_relay ringway_sized_backend ringway_micro_bench \
    >>"/tmp/ringway-bench-build.log" 2>&1 || die "build failed: see /tmp/ringway-bench-build.log"
fi
grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD/CMakeCache.txt" 2>/dev/null ||
  log "warning: $BUILD is not a Release build: numbers will not be representative"
BIN=$BUILD/bin
for b in ringway ringway_relay ringway_sized_backend; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing (build it or drop --no-build)"
done

# --- 3. run --------------------------------------------------------------------------------
# Thousands of keep-alive connections per process: take the hard limit of open files.
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/ringway-bench.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"
for ((p = BASE_PORT; p < BASE_PORT + 20; p++)); do port_free "$p" || die "port $p is in use (set BASE_PORT)"; done
(( NCPU >= 2 )) || log "warning: 1 CPU: the pinned mode cannot separate proxy and load"

RAW=$OUT/raw.tsv
printf '%s\n' "$(IFS=$'\t'; echo "${RAW_COLUMNS[*]}")" >"$RAW"
{
  echo "date	$(date -u +'%Y-%m-%d %H:%M UTC')"
  echo "command	$COMMAND_LINE"
  echo "machine	$NCPU CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "versions	$(versions_line)"
  echo "settings	rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s proxy_cpus=$PROXY_CPUS load_cpus=$LOAD_CPUS wrk_threads=$WRK_THREADS backend_workers=$BACKEND_WORKERS quiet_wait=${QUIET_WAIT}s strace=${STRACE_SECS}s"
} >"$OUT/meta.tsv"

START=$SECONDS
has_part matrix && run_matrix
has_part openloop && run_openloop
has_part memory && run_memory
has_part accesslog && run_accesslog
has_part burst && run_burst
if has_part micro; then
  log "micro-benchmarks under callgrind (instructions per operation)"
  FILTER=${MICRO_FILTER:-.} bash "$ROOT/bench/micro/callgrind.sh" "$BIN/ringway_micro_bench" "$OUT/micro.tsv" ||
    log "warning: callgrind micro-benchmarks failed"
fi

log "report and plots"
python3 "$ROOT/bench/lib/report.py" "$OUT" || die "report failed"
log "done in $(fmt_secs $((SECONDS - START))): $OUT/report.md"
