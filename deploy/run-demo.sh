#!/usr/bin/env bash
# The Ringway demo in one command.
#
#   bash deploy/run-demo.sh            bare metal: install packages (deploy/setup.sh), build
#                                      Release into build/, run service1, service2, ringway and
#                                      Prometheus in the foreground; Ctrl-C stops everything.
#   bash deploy/run-demo.sh --docker   the compose stack (plus Grafana on :4000, admin/admin),
#                                      left running in the background.
#   bash deploy/run-demo.sh --down     stop the compose stack (keeps its data volumes;
#                                      --down --volumes drops them too).
# Options: --no-setup  skip deploy/setup.sh (packages already installed)
#          --no-build  (bare metal) use the binaries already in the build directory
# Env: RINGWAY_BUILD_DIR (default build), RINGWAY_DEMO_STATE (default
#      ${XDG_RUNTIME_DIR:-/tmp}/ringway-demo: logs, Prometheus data).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=local
setup=1
build=1
volumes=0
for arg in "$@"; do
  case "$arg" in
    --docker) mode=docker ;;
    --down) mode=down ;;
    --volumes|-v) volumes=1 ;;
    --no-setup) setup=0 ;;
    --no-build) build=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run-demo.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

state=${RINGWAY_DEMO_STATE:-${XDG_RUNTIME_DIR:-/tmp}/ringway-demo}
build_dir=${RINGWAY_BUILD_DIR:-$repo/build}
[[ $build_dir == /* ]] || build_dir=$repo/$build_dir
config=$repo/deploy/ringway.yaml
compose_file=$repo/deploy/compose/docker-compose.yml
project=ringway-demo

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '%srun-demo:%s %s\n' "$bold" "$plain" "$*"; }
die() { printf 'run-demo: ERROR: %s\n' "$*" >&2; exit 1; }

run_setup() {
  [[ $setup == 1 ]] || return 0
  if [[ $(id -u) != 0 ]]; then
    say "not root: skipping deploy/setup.sh (run it once as root, or pass --no-setup)"
    return 0
  fi
  say "installing Debian packages (deploy/setup.sh $*)"
  bash "$repo/deploy/setup.sh" "$@" >"$state/setup.log" 2>&1 || {
    tail -n 20 "$state/setup.log" >&2
    die "deploy/setup.sh failed (full log: $state/setup.log)"
  }
}

mkdir -p "$state"

# ============================================================================ docker
compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -p "$project" -f "$compose_file" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose -p "$project" -f "$compose_file" "$@"
  else
    die "neither 'docker compose' nor docker-compose found (deploy/setup.sh --docker installs docker-compose)"
  fi
}

ensure_dockerd() {
  command -v docker >/dev/null 2>&1 || die "docker not found (deploy/setup.sh --docker installs docker.io)"
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 || die "the Docker daemon is not running and dockerd is not installed"
  [[ $(id -u) == 0 ]] || die "the Docker daemon is not running; start it (as root: dockerd &) and retry"
  say "starting dockerd (log: $state/dockerd.log); it keeps running after this script"
  setsid nohup dockerd >"$state/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 20 "$state/dockerd.log" >&2
  die "dockerd did not come up within 60 s (log: $state/dockerd.log)"
}

# wait_healthy SERVICE SECONDS: waits for the compose service's container healthcheck.
wait_healthy() {
  local svc=$1 limit=$2 start=$SECONDS id status
  while ((SECONDS - start < limit)); do
    id=$(compose ps -q "$svc" 2>/dev/null || true)
    if [[ -n $id ]]; then
      status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing)
      case "$status" in
        healthy) say "$svc is healthy"; return 0 ;;
        exited|dead|missing)
          compose logs --tail=20 "$svc" >&2 || true
          die "$svc container is $status" ;;
      esac
    fi
    sleep 2
  done
  compose logs --tail=30 "$svc" >&2 || true
  die "$svc not healthy after ${limit}s (docker-compose -p $project -f $compose_file logs $svc)"
}

if [[ $mode == down ]]; then
  if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    die "Docker daemon not running: nothing to stop"
  fi
  if [[ $volumes == 1 ]]; then compose down -v; else compose down; fi
  say "compose stack stopped"
  exit 0
fi

if [[ $mode == docker ]]; then
  run_setup --docker
  ensure_dockerd
  bash "$repo/deploy/docker/build-base-image.sh"
  say "building and starting the compose stack (first build takes a few minutes)"
  with_grafana=1
  if ! compose up -d --build 2>&1 | tee "$state/compose-up.log"; then
    # Grafana is the only image pulled from a registry; without one, run the rest.
    if ! docker image inspect "${GRAFANA_IMAGE:-grafana/grafana-oss:10.4.2}" >/dev/null 2>&1; then
      say "WARNING: could not pull the Grafana image (no registry reachable?); starting the stack without Grafana"
      with_grafana=0
      compose up -d --build service1 service2 ringway prometheus || die "docker-compose up failed"
    else
      die "docker-compose up failed (log: $state/compose-up.log)"
    fi
  fi
  for svc in service1 service2 ringway prometheus; do wait_healthy "$svc" 180; done
  [[ $with_grafana == 1 ]] && wait_healthy grafana 180
  io=$(curl -s --noproxy '*' --max-time 3 "http://127.0.0.1:${RINGWAY_ADMIN_PORT:-9901}/metrics" |
    sed -n 's/^ringway_build_info{.*io="\([^"]*\)".*/\1/p' | head -n 1 || true)
  cat <<EOF

Ringway compose stack is up (project $project, I/O engine: ${io:-unknown}).
  proxy        http://localhost:${RINGWAY_PORT:-8080}/service1/ping   http://localhost:${RINGWAY_PORT:-8080}/service2/ping
  admin        http://127.0.0.1:${RINGWAY_ADMIN_PORT:-9901}/   (/metrics /status /readyz /explain?path=/service1/ping)
  Prometheus   http://127.0.0.1:${PROMETHEUS_PORT:-9090}/targets
EOF
  if [[ $with_grafana == 1 ]]; then
    echo "  Grafana      http://localhost:${GRAFANA_PORT:-4000}/  (admin / admin; dashboards in folder Ringway)"
  else
    echo "  Grafana      not started: its image could not be pulled here"
  fi
  cat <<EOF

Try:
  curl -i http://localhost:${RINGWAY_PORT:-8080}/service1/ping
  curl -s http://127.0.0.1:${RINGWAY_ADMIN_PORT:-9901}/explain?path=/service2/ping
  docker-compose -p $project -f $compose_file kill -s HUP ringway    # reload config
  docker-compose -p $project -f $compose_file logs -f ringway
Stop:  bash deploy/run-demo.sh --down
EOF
  exit 0
fi

# ============================================================================ bare metal
run_setup

for tool in cmake curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run deploy/setup.sh as root)"
done
prometheus_bin=$(command -v prometheus || true)
[[ -n $prometheus_bin ]] || die "prometheus not found (apt-get install prometheus, or run deploy/setup.sh)"
[[ -f $config ]] || die "demo config $config not found"

if [[ $build == 1 ]]; then
  if [[ -f $build_dir/CMakeCache.txt ]]; then
    say "building ringway, service1, service2 in $build_dir (existing configuration kept)"
    build_args=(--target ringway service1 service2)
  else
    say "configuring a Release build in $build_dir"
    cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
      -DRINGWAY_BUILD_TESTS=OFF -DRINGWAY_BUILD_BENCH=OFF >"$state/cmake.log" 2>&1 || {
      tail -n 30 "$state/cmake.log" >&2
      die "cmake configure failed (log: $state/cmake.log)"
    }
    build_args=()
  fi
  say "compiling (log: $state/build.log)"
  cmake --build "$build_dir" --parallel "$(nproc)" "${build_args[@]}" >"$state/build.log" 2>&1 || {
    grep -E 'error|Error' "$state/build.log" | head -n 30 >&2 || tail -n 30 "$state/build.log" >&2
    die "build failed (log: $state/build.log)"
  }
fi
bin=$build_dir/bin
for b in ringway service1 service2; do
  [[ -x $bin/$b ]] || die "$bin/$b missing (build failed? see $state/build.log)"
done

"$bin/ringway" --check-config "$config" || die "$config does not pass ringway --check-config"
# The shipped config logs to /var/log/ringway (a systemd install creates it); the demo runs
# unprivileged, so it writes the access log into its state directory instead.
mkdir -p "$state"
sed "s|/var/log/ringway/access.log|$state/access.log|" "$config" >"$state/ringway.yaml"
config=$state/ringway.yaml
"$bin/ringway" --check-config "$config" >/dev/null || die "$config does not pass ringway --check-config"

# Every listener the demo needs, as host:port. The proxy and services listen on all interfaces.
declare -A listen=(
  [service1]=0.0.0.0:8001
  [service2]=0.0.0.0:8002
  [ringway]=0.0.0.0:8080
  [ringway-admin]=127.0.0.1:9901
  [prometheus]=127.0.0.1:9090
)
busy=0
for name in service1 service2 ringway ringway-admin prometheus; do
  addr=${listen[$name]}
  if ! python3 - "${addr%:*}" "${addr##*:}" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
EOF
  then
    echo "run-demo: ERROR: port ${addr##*:} (for $name) is already in use:" >&2
    if command -v ss >/dev/null 2>&1; then ss -Hltnp "sport = :${addr##*:}" >&2 || true; fi
    busy=1
  fi
done
[[ $busy == 0 ]] || die "free the port(s) above (another demo still running? a packaged prometheus: systemctl stop prometheus)"

mkdir -p "$state/prometheus-data"
PROC_LOG_DIR=$state
# shellcheck source=deploy/lib/processes.sh
source "$repo/deploy/lib/processes.sh"

stop_all() {
  local rc=${1:-0}
  trap - INT TERM EXIT
  [[ ${#PROC_NAMES[@]} -gt 0 ]] && say "stopping ${PROC_NAMES[*]}"
  proc_stop_all
  say "stopped (logs in $state)"
  exit "$rc"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

start() { proc_start "$@"; }

# wait_up NAME URL SECONDS: until URL answers 2xx; fails loudly if NAME dies first.
wait_up() {
  proc_wait_http "$1" "$2" "$3" || die "$1 did not come up"
  say "$1 is up ($2)"
}

start service1 "$bin/service1" --listen "${listen[service1]}"
start service2 "$bin/service2" --listen "${listen[service2]}"
wait_up service1 http://127.0.0.1:8001/ping 15
wait_up service2 http://127.0.0.1:8002/ping 15
start ringway "$bin/ringway" --config "$config"
wait_up ringway http://127.0.0.1:9901/readyz 15
start prometheus "$prometheus_bin" --config.file="$repo/deploy/prometheus/prometheus.local.yml" \
  --storage.tsdb.path="$state/prometheus-data" --storage.tsdb.retention.time=1d \
  --web.listen-address="${listen[prometheus]}"
wait_up prometheus http://127.0.0.1:9090/-/ready 30

io=$(curl -s --noproxy '*' --max-time 2 http://127.0.0.1:9901/metrics |
  sed -n 's/^ringway_build_info{.*io="\([^"]*\)".*/\1/p' | head -n 1 || true)
cat <<EOF

Ringway demo is running (I/O engine: ${io:-unknown}). Logs: $state/*.log
  proxy        http://localhost:8080/service1/ping   http://localhost:8080/service2/ping
  admin        http://127.0.0.1:9901/   (/metrics /status /readyz /explain?path=/service1/ping)
  service1     http://localhost:8001/ping   (/metrics)
  service2     http://localhost:8002/ping   (/metrics)
  Prometheus   http://127.0.0.1:9090/targets   (dashboards need Grafana: bash deploy/run-demo.sh --docker)

Try:
  curl -i http://localhost:8080/service1/ping
  curl -i http://localhost:8080/nowhere                        # 404 from the proxy itself
  curl -s 'http://127.0.0.1:9901/explain?path=/service2/ping'
  curl -s http://127.0.0.1:9901/metrics | grep ^ringway_http_requests_total
  kill -HUP "${PROC_PID[ringway]}"                                      # reload $config
  tail -f $state/access.log                                         # JSON access log (flushed every 1 s)
  kill -USR1 "${PROC_PID[ringway]}"                                     # reopen it (after mv, as logrotate does)
  curl -s 'http://127.0.0.1:9090/api/v1/query?query=sum(rate(ringway_http_requests_total[1m]))'

Press Ctrl-C to stop.
EOF

# Foreground: watch the processes; any exit is an error that stops the demo.
while true; do
  for name in "${PROC_NAMES[@]}"; do
    if ! kill -0 "${PROC_PID[$name]}" 2>/dev/null; then
      rc=0
      wait "${PROC_PID[$name]}" || rc=$?
      echo "run-demo: ERROR: $name (pid ${PROC_PID[$name]}) exited with status $rc; last log lines:" >&2
      tail -n 20 "$state/$name.log" >&2
      stop_all 1
    fi
  done
  sleep 1 &
  wait $! || true
done
