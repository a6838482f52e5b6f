#!/usr/bin/env bash
# End-to-end test of the compose stack: builds the images (base image via debootstrap when
# missing), starts service1, service2, ringway and Prometheus (not Grafana: its image needs a
# registry) under a unique project name with every port published on 127.0.0.1 only, and checks
# the proxy path, the injected headers, Prometheus scraping every job, the I/O engine, and the
# Prometheus rules (tests/prometheus/check_live_rules.py).
# Always tears the stack down (down -v).
#
# Usage: tests/docker/compose_test.sh
# Exit: 0 pass, 1 fail, 77 skipped (Docker cannot run here: not installed, or dockerd cannot start;
#       the reason is printed).
# Env:  RINGWAY_COMPOSE_TEST_PREBUILT=1  use the images already built (skip docker-compose build)
#       KEEP_DOCKERD=1                   leave a dockerd this test started running afterwards
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
compose_file=$repo/deploy/compose/docker-compose.yml
project=ringway-test-$$
tmp=$(mktemp -d /tmp/ringway-compose-test.XXXXXX)
started_dockerd=""
stack_up=0
watchdog=""

log() { printf '[compose_test %4ds] %s\n' "$SECONDS" "$*"; }
fail() { echo "compose_test: FAIL: $*" >&2; exit 1; }
skip() { echo "compose_test: SKIP: $*" >&2; exit 77; }

compose_cmd=()  # set once Docker is known to be installed
compose() { "${compose_cmd[@]}" "$@"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $watchdog ]]; then kill "$watchdog" 2>/dev/null || true; fi
  if [[ $stack_up == 1 && ${#compose_cmd[@]} -gt 0 ]]; then
    if [[ $rc != 0 && $rc != 77 ]]; then
      echo "--- container logs (last 40 lines each)" >&2
      compose logs --no-color --tail=40 >&2 2>&1 || true
      compose ps >&2 || true
    fi
    log "tearing down project $project"
    timeout 120 "${compose_cmd[@]}" down -v --remove-orphans >"$tmp/down.log" 2>&1 || { echo "compose_test: docker-compose down failed:" >&2; cat "$tmp/down.log" >&2; }
  fi
  if [[ -n $started_dockerd && ${KEEP_DOCKERD:-0} != 1 ]]; then
    log "stopping the dockerd this test started (pid $started_dockerd)"
    kill -TERM "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
  fi
  rm -rf "$tmp"
  if [[ $rc == 0 ]]; then echo "compose_test: PASS"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Hard bound: 20 minutes including the first image build.
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep 1170 & sleeper=$!
  wait "$sleeper"
  echo "compose_test: FAIL: timed out after 19.5 minutes" >&2
  kill -TERM $$
) &
watchdog=$!

# ------------------------------------------------------------------ Docker available?
command -v docker >/dev/null 2>&1 || skip "docker CLI not installed (deploy/setup.sh --docker)"
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose -p "$project" -f "$compose_file")
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose -p "$project" -f "$compose_file")
else
  skip "neither 'docker compose' nor docker-compose installed (deploy/setup.sh --docker)"
fi
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || skip "Docker daemon not running and dockerd not installed"
  [[ $(id -u) == 0 ]] || skip "Docker daemon not running and we are not root, so cannot start dockerd"
  log "starting dockerd"
  dockerd >"$tmp/dockerd.log" 2>&1 </dev/null &
  started_dockerd=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    if ! kill -0 "$started_dockerd" 2>/dev/null; then
      tail -n 15 "$tmp/dockerd.log" >&2
      started_dockerd=""
      skip "dockerd exited at start-up (environment: see its log above)"
    fi
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 15 "$tmp/dockerd.log" >&2
    skip "dockerd did not answer within 60 s (environment: see its log above)"
  fi
fi
log "docker: server $(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?'), compose: $(compose version --short 2>/dev/null || echo '?')"

# ------------------------------------------------------------------ images
if [[ ${RINGWAY_COMPOSE_TEST_PREBUILT:-0} != 1 ]]; then
  bash "$repo/deploy/docker/build-base-image.sh" || fail "could not build the base image"
  log "building images (a first build compiles the C++ sources: several minutes)"
  timeout 1000 "${compose_cmd[@]}" build service1 service2 ringway prometheus >"$tmp/build.log" 2>&1 || { tail -n 60 "$tmp/build.log" >&2; fail "image build failed"; }
  log "images built"
fi

# ------------------------------------------------------------------ start
read -r RINGWAY_PORT RINGWAY_ADMIN_PORT PROMETHEUS_PORT GRAFANA_PORT < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(4):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
export RINGWAY_PORT RINGWAY_ADMIN_PORT PROMETHEUS_PORT GRAFANA_PORT
export RINGWAY_BIND_ADDR=127.0.0.1 RINGWAY_ADMIN_BIND_ADDR=127.0.0.1
log "project $project: proxy 127.0.0.1:$RINGWAY_PORT, admin 127.0.0.1:$RINGWAY_ADMIN_PORT, prometheus 127.0.0.1:$PROMETHEUS_PORT"

stack_up=1
compose up -d --no-build service1 service2 ringway prometheus >"$tmp/up.log" 2>&1 ||
  { cat "$tmp/up.log" >&2; fail "docker-compose up failed"; }

# wait_healthy SERVICE SECONDS
wait_healthy() {
  local svc=$1 limit=$2 start=$SECONDS id status=""
  while ((SECONDS - start < limit)); do
    id=$(compose ps -q "$svc" 2>/dev/null || true)
    if [[ -n $id ]]; then
      status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}} {{.State.Status}}' "$id" 2>/dev/null || echo "missing")
      case "$status" in
        "healthy "*) log "$svc healthy"; return 0 ;;
        *" exited"|*" dead") fail "$svc container stopped ($status)" ;;
      esac
    fi
    sleep 2
  done
  if [[ -n ${id:-} ]]; then
    docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' "$id" >&2 || true
  fi
  fail "$svc not healthy after ${limit}s (last status: ${status:-no container})"
}
for svc in service1 service2 ringway prometheus; do wait_healthy "$svc" 120; done

# ------------------------------------------------------------------ assertions
# check_ping SERVICE: GET /SERVICE/ping through the proxy.
check_ping() {
  local svc=$1 url="http://127.0.0.1:$RINGWAY_PORT/$1/ping"
  curl -sS --noproxy '*' --max-time 5 -D "$tmp/$svc.headers" -o "$tmp/$svc.body" "$url" ||
    fail "GET $url failed"
  python3 - "$svc" "$tmp/$svc.headers" "$tmp/$svc.body" <<'EOF' || fail "GET /$svc/ping through the proxy: unexpected response"
import json, sys
svc, head_file, body_file = sys.argv[1:]
lines = open(head_file, encoding="latin-1").read().splitlines()
status = lines[0]
headers = {}
for line in lines[1:]:
    if ":" in line:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
body = open(body_file, encoding="utf-8").read()
problems = []
if " 200" not in status:
    problems.append(f"status line {status!r}")
try:
    if json.loads(body) != {"service": svc, "message": "pong"}:
        problems.append(f"body {body!r}")
except ValueError:
    problems.append(f"body is not JSON: {body!r}")
if headers.get("x-frame-options", "").upper() != "DENY":
    problems.append(f"X-Frame-Options {headers.get('x-frame-options')!r}")
if not headers.get("x-request-id"):
    problems.append("no X-Request-Id")
if problems:
    print(f"/{svc}/ping: " + "; ".join(problems), file=sys.stderr)
    print(open(head_file, encoding="latin-1").read(), body, file=sys.stderr)
    sys.exit(1)
print(f"compose_test: /{svc}/ping -> {status.strip()}, {body.strip()}, X-Request-Id {headers['x-request-id']}")
EOF
}
check_ping service1
check_ping service2

# Every Prometheus job scraped successfully (scrape_interval 5s).
prom=http://127.0.0.1:$PROMETHEUS_PORT
deadline=$((SECONDS + 60))
while true; do
  if curl -sS --noproxy '*' --max-time 5 -o "$tmp/up.json" "$prom/api/v1/query?query=up" 2>/dev/null &&
    python3 - "$tmp/up.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
up = {r["metric"].get("job"): r["value"][1] for r in data["data"]["result"]}
want = ["ringway", "service1", "service2", "prometheus"]
print("compose_test: up = " + ", ".join(f"{j}={up.get(j, 'absent')}" for j in want))
sys.exit(0 if all(up.get(j) == "1" for j in want) else 1)
EOF
  then
    break
  fi
  ((SECONDS < deadline)) || fail "Prometheus does not report up==1 for every job within 60 s"
  sleep 3
done

# Which I/O engine ringway runs inside Docker (seccomp may force epoll).
curl -sS --noproxy '*' --max-time 5 "http://127.0.0.1:$RINGWAY_ADMIN_PORT/metrics" >"$tmp/metrics.txt" ||
  fail "GET admin /metrics failed"
build_info=$(grep '^ringway_build_info{' "$tmp/metrics.txt" | head -n 1 || true)
[[ -n $build_info ]] || fail "ringway_build_info missing from admin /metrics"
io=$(sed -n 's/.*[{,]io="\([^"]*\)".*/\1/p' <<<"$build_info")
reason=$(sed -n 's/.*io_fallback_reason="\([^"]*\)".*/\1/p' <<<"$build_info")
case "$io" in
  io_uring|epoll) log "ringway in Docker runs on io=$io${reason:+ (fallback reason: $reason)}" ;;
  *) fail "ringway_build_info has io=\"$io\" (expected io_uring or epoll): $build_info" ;;
esac

# The rules reach Prometheus in the container (image copy + volume): every group and rule
# loaded and healthy, every recording rule with data (a few more requests so rate() has them).
for _ in 1 2 3; do
  curl -s --noproxy '*' -o /dev/null --max-time 3 "http://127.0.0.1:$RINGWAY_PORT/service1/ping" || true
  curl -s --noproxy '*' -o /dev/null --max-time 3 "http://127.0.0.1:$RINGWAY_PORT/service2/ping" || true
done
python3 "$repo/tests/prometheus/check_live_rules.py" --wait 60 "$prom" "$repo/deploy/prometheus/rules" ||
  fail "the alerting/recording rules are not all loaded and evaluating in the compose Prometheus"
