#!/usr/bin/env bash
# End-to-end test of the Docker Swarm stack (deploy/swarm/ringway-stack.yml) on a one-node swarm
# bound to 127.0.0.1: scale service1 to 3 and prove every replica gets traffic (ringway's view
# and each replica's own counter in Prometheus); then, under steady load, scale service1 to 1
# and roll service2 to a new image with zero failed client requests. Always removes the stack,
# leaves the swarm it created and stops the dockerd it started.
#
# Usage: tests/docker/swarm_test.sh
# Exit: 0 pass, 1 fail, 77 skipped (Docker cannot run here, or the engine already belongs to a
#       swarm this test did not create; the reason is printed).
# Env:  RINGWAY_SWARM_TEST_REBUILD=1  rebuild the images even when present (by default the
#                                     images the compose test built are reused)
#       KEEP_DOCKERD=1                leave a dockerd this test started running afterwards
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/lib/docker.sh
source "$repo/deploy/lib/docker.sh"
# shellcheck source=deploy/lib/processes.sh
source "$repo/deploy/lib/processes.sh"
here=$repo/tests/docker
stack_file=$repo/deploy/swarm/ringway-stack.yml
stack=rwswarm$$
tmp=$(mktemp -d /tmp/ringway-swarm-test.XXXXXX)
ringway_image=${RINGWAY_IMAGE:-ringway/ringway:local}
prometheus_image=${PROMETHEUS_IMAGE:-ringway/prometheus:local}
roll_image=ringway/ringway:swarm-roll-$$
# The timings of deploy/swarm/ringway.swarm.yaml that the assertions lean on.
resolve_every=1 health_interval=1
had_gwbridge=1 created_swarm=0 stack_up=0 watchdog="" load_pid="" guard_rules=() undo=()

log() { printf '[swarm_test %4ds] %s\n' "$SECONDS" "$*"; }
fail() { echo "swarm_test: FAIL: $*" >&2; exit 1; }
skip() { echo "swarm_test: SKIP: $*" >&2; exit 77; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  trap '' PIPE HUP  # a closed stdout must not stop the clean-up half way
  set +e
  if [[ -n $watchdog ]]; then kill "$watchdog" 2>/dev/null || true; fi
  if [[ -n $load_pid ]]; then kill -TERM "$load_pid" 2>/dev/null || true; fi
  if [[ $stack_up == 1 ]]; then
    if [[ $rc != 0 && $rc != 77 ]]; then
      echo "--- tasks" >&2
      docker stack ps --no-trunc "$stack" >&2 2>&1 || true
      for svc in ringway service1 service2; do
        echo "--- $svc logs (last 20 lines)" >&2
        timeout 10 docker service logs --tail 20 "${stack}_$svc" >&2 2>&1 || true
      done
    fi
    log "removing stack $stack"
    docker stack rm "$stack" >/dev/null 2>&1 || true
    # The networks go last, once every task has stopped; wait so that leaving the swarm (or
    # the next run) finds a clean engine.
    for _ in $(seq 60); do
      [[ -z $(docker network ls -q --filter "label=com.docker.stack.namespace=$stack") &&
         -z $(docker ps -aq --filter "label=com.docker.stack.namespace=$stack") ]] && break
      sleep 1
    done
    # stack rm keeps volumes; this run's Prometheus data goes with it.
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null 2>&1 || true
  fi
  if [[ $created_swarm == 1 ]]; then
    log "leaving the swarm"
    docker swarm leave --force >/dev/null 2>&1 || echo "swarm_test: docker swarm leave failed" >&2
    # swarm init created the gateway bridge (when it did not exist before); leave does not remove it.
    if [[ $had_gwbridge == 0 ]]; then docker network rm docker_gwbridge >/dev/null 2>&1 || true; fi
  fi
  local rule
  for rule in "${guard_rules[@]}"; do eval "${rule/ -I / -D }" 2>/dev/null || true; done
  for rule in "${undo[@]}"; do eval "$rule" 2>/dev/null || true; done
  docker image rm "$roll_image" >/dev/null 2>&1 || true
  if [[ -n $DOCKERD_STARTED_PID ]]; then
    log "stopping the dockerd this test started (pid $DOCKERD_STARTED_PID)"
    docker_stop_started_daemon
  fi
  rm -rf "$tmp"
  if [[ $rc == 0 ]]; then echo "swarm_test: PASS"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE
trap 'exit 129' HUP

# Hard bound: 6 minutes with the images present (about 2 are needed), 20 with a first build.
limit=360
if [[ ${RINGWAY_SWARM_TEST_REBUILD:-0} == 1 ]] || ! docker image inspect "$ringway_image" "$prometheus_image" >/dev/null 2>&1; then
  limit=1200
fi
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$limit" & sleeper=$!
  wait "$sleeper"
  echo "swarm_test: FAIL: timed out after ${limit} s" >&2
  kill -TERM $$
) &
watchdog=$!

# ------------------------------------------------------------------ Docker available?
log "making sure a Docker daemon runs"
docker_ensure_daemon "$tmp/dockerd.log" || skip "$DOCKER_SKIP_REASON"
log "docker: server $(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"

# ------------------------------------------------------------------ swarm
case $(docker info -f '{{.Swarm.LocalNodeState}}') in
  inactive) ;;
  active)
    # Ours only if an earlier run was killed before it could leave (it labels its node).
    if [[ $(docker node inspect self -f '{{index .Spec.Labels "ringway-swarm-test"}}' 2>/dev/null) == 1 ]]; then
      log "leaving a swarm an interrupted earlier run left behind"
      docker swarm leave --force >/dev/null
    else
      skip "this Docker engine already belongs to a swarm; the test will not deploy into it or leave it"
    fi
    ;;
  *) skip "swarm state is '$(docker info -f '{{.Swarm.LocalNodeState}}')' (pending/error): not touching it" ;;
esac

# ------------------------------------------------------------------ images
if [[ ${RINGWAY_SWARM_TEST_REBUILD:-0} == 1 ]] || ! docker image inspect "$ringway_image" "$prometheus_image" >/dev/null 2>&1; then
  bash "$repo/deploy/docker/build-base-image.sh" || fail "could not build the base image"
  log "building images (a first build compiles the C++ sources: several minutes)"
  timeout 1000 docker build -f "$repo/deploy/docker/Dockerfile" -t "$ringway_image" "$repo" >"$tmp/build.log" 2>&1 ||
    { tail -n 60 "$tmp/build.log" >&2; fail "building $ringway_image failed"; }
  timeout 600 docker build -f "$repo/deploy/docker/prometheus.Dockerfile" -t "$prometheus_image" "$repo" >>"$tmp/build.log" 2>&1 ||
    { tail -n 60 "$tmp/build.log" >&2; fail "building $prometheus_image failed"; }
else
  log "reusing $ringway_image (built $(docker image inspect -f '{{.Created}}' "$ringway_image")) and $prometheus_image; RINGWAY_SWARM_TEST_REBUILD=1 rebuilds"
fi
# The "new version" for the rolling update: the same programs in a distinct image.
printf 'FROM %s\nLABEL org.opencontainers.image.version=swarm-roll-%s\n' "$ringway_image" "$$" |
  docker build -q -t "$roll_image" - >"$tmp/roll-build.log" 2>&1 ||
  { cat "$tmp/roll-build.log" >&2; fail "building $roll_image failed"; }

# ------------------------------------------------------------------ loopback-only port
RINGWAY_PORT=$(free_ports 1)
export RINGWAY_PORT RINGWAY_IMAGE=$ringway_image PROMETHEUS_IMAGE=$prometheus_image
# Swarm cannot bind a published port to one address: host mode binds it on every interface.
# So that nothing off this machine can reach it while the test runs, drop forwarded traffic
# for it (what reaches a host-mode port from outside is DNATed and forwarded; our loopback
# client goes through docker-proxy and is never forwarded), and IPv6 to docker-proxy's [::].
iptables -S DOCKER-USER >/dev/null 2>&1 ||
  skip "no iptables DOCKER-USER chain (dockerd --iptables=false?): cannot keep the published port off other interfaces"
# Rules of a run killed before its clean-up (they carry this comment) go first.
mark="-m comment --comment ringway-swarm-test"
for t in iptables ip6tables; do
  command -v "$t" >/dev/null 2>&1 || continue
  "$t" -S 2>/dev/null | grep -e '--comment ringway-swarm-test' | sed 's/^-A /-D /' |
    while read -r stale; do eval "$t $stale" 2>/dev/null || true; done || true
done
guard_rules+=("iptables -I DOCKER-USER -p tcp -m conntrack --ctorigdstport $RINGWAY_PORT $mark -j DROP")
if command -v ip6tables >/dev/null 2>&1 && ip6tables -S INPUT >/dev/null 2>&1; then
  guard_rules+=("ip6tables -I INPUT -p tcp --dport $RINGWAY_PORT ! -i lo $mark -j DROP")
fi
for rule in "${guard_rules[@]}"; do eval "$rule" || fail "could not install firewall rule: $rule"; done

log "swarm init --advertise-addr 127.0.0.1"
docker network inspect docker_gwbridge >/dev/null 2>&1 || had_gwbridge=0
docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >"$tmp/init.log" 2>&1 ||
  { cat "$tmp/init.log" >&2; fail "docker swarm init failed"; }
created_swarm=1
docker node update --label-add ringway-swarm-test=1 "$(docker info -f '{{.Swarm.NodeID}}')" >/dev/null

# ------------------------------------------------------------------ deploy
log "deploying stack $stack (proxy published on port $RINGWAY_PORT, tests use 127.0.0.1 only)"
stack_up=1
docker stack deploy --resolve-image never -c "$stack_file" "$stack" >"$tmp/deploy.log" 2>&1 ||
  { cat "$tmp/deploy.log" >&2; fail "docker stack deploy failed"; }

# running_tasks SERVICE: "TASK_ID IP IMAGE TIMESTAMP" per task that is running (health check
# passed: swarm reports RUNNING only then) and meant to stay running.
running_tasks() {
  local ids
  ids=$(docker service ps -q --filter desired-state=running "${stack}_$1" 2>/dev/null) || return 0
  [[ -n $ids ]] || return 0
  # shellcheck disable=SC2086
  docker inspect -f '{{.ID}} {{.Status.State}} {{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}| {{.Spec.ContainerSpec.Image}} {{.Status.Timestamp.Unix}}' $ids |
    awk '$2 == "running" { split($3, a, "/"); for (i = 1; i <= NF; i++) if ($i == "|") print $1, a[1], $(i + 1), $(i + 2) }'
}
# wait_replicas SERVICE N SECONDS
wait_replicas() {
  local start=$SECONDS n=0
  while ((SECONDS - start < $3)); do
    n=$(running_tasks "$1" | wc -l)
    ((n == $2)) && return 0
    sleep 1
  done
  fail "$1: $n of $2 replicas running after $3 s"
}
for svc in service1:1 service2:2 ringway:1 prometheus:1; do wait_replicas "${svc%:*}" "${svc#*:}" 120; done
prom_container=$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_prometheus")
[[ -n $prom_container ]] || fail "no Prometheus container"
# in_stack URL: GET from inside the stack (the Prometheus container has wget and sits on both
# networks), so that neither the admin port nor Prometheus needs publishing.
in_stack() { timeout 10 docker exec "$prom_container" wget -q -O - "$1"; }
promql() { in_stack "http://127.0.0.1:9090/api/v1/query?query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")"; }

deadline=$((SECONDS + 60))
until curl -sS --noproxy '*' --max-time 2 -o /dev/null "http://127.0.0.1:$RINGWAY_PORT/service1/ping" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "the proxy does not answer on 127.0.0.1:$RINGWAY_PORT within 60 s"
  sleep 1
done
log "stack up: $(docker service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}}={{.Replicas}}' | tr '\n' ' ')"
curl -sS --noproxy '*' --max-time 5 "http://127.0.0.1:$RINGWAY_PORT/service2/ping" | grep -q '"service":"service2"' ||
  fail "GET /service2/ping through the proxy did not answer service2's pong"

# The firewall rule above really keeps other hosts out: a client in a scratch network
# namespace, linked to this host by a veth pair (traffic that stays on this machine but
# arrives on an interface, as another host's would), must not get through.
netns=rwswarm$$ veth=rwg$$
outside_client() {  # sets up the namespace; returns non-zero if this kernel/container cannot
  ip netns add "$netns" 2>/dev/null || return 1
  undo+=("ip netns del $netns")  # takes the veth pair with it
  ip link add "${veth}h" type veth peer name "${veth}n" netns "$netns" &&
    ip addr add 10.250.77.1/30 dev "${veth}h" && ip link set "${veth}h" up &&
    ip netns exec "$netns" ip addr add 10.250.77.2/30 dev "${veth}n" &&
    ip netns exec "$netns" ip link set "${veth}n" up
}
if outside_client 2>"$tmp/netns.err"; then
  if ip netns exec "$netns" curl -sS --noproxy '*' --max-time 3 -o /dev/null "http://10.250.77.1:$RINGWAY_PORT/service1/ping" 2>"$tmp/netns.err"; then
    fail "the published port $RINGWAY_PORT is reachable from another interface despite the firewall rule"
  fi
  log "published port closed to other interfaces ($(tr -d '\n' <"$tmp/netns.err"))"
else
  log "cannot create a network namespace here ($(tr -d '\n' <"$tmp/netns.err")): not checking the firewall rule from outside"
fi

# The hardening the stack asks for reached the containers: read-only root, no capabilities,
# non-root user, memory limit; and the services are on the internal network only.
for svc in service1 service2 ringway; do
  for c in $(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$svc"); do
    h=$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}} {{.Config.User}} {{.HostConfig.Memory}}' "$c")
    read -r ro capdrop user mem <<<"$h"
    [[ $ro == true && $capdrop == *'"ALL"'* && -n $user && $user != root && $user != 0* && $mem -gt 0 ]] ||
      fail "$svc container $c lost some hardening (read-only, cap_drop ALL, non-root, memory): $h"
  done
done
backend_net=${stack}_backend
[[ $(docker network inspect -f '{{.Internal}}' "$backend_net") == true ]] || fail "$backend_net is not internal"
for svc in service1 service2; do
  nets=$(docker service inspect -f '{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}' "${stack}_$svc")
  [[ $nets == "$(docker network inspect -f '{{.Id}}' "$backend_net") " ]] ||
    fail "$svc is attached to '$nets', expected only $backend_net"
  [[ $(docker service inspect -f '{{len .Endpoint.Ports}}' "${stack}_$svc") == 0 ]] || fail "$svc publishes a port"
done
log "hardening and networks as in the stack file (services on the internal backend only, no ports)"

# start_load NAME: steady load through the published port (80 requests/s, both routes).
start_load() {
  rm -f "$tmp/$1.ready"
  python3 "$here/steady_load.py" --url "http://127.0.0.1:$RINGWAY_PORT" \
    --paths /service1/ping,/service2/ping --rate 80 --threads 4 --max-seconds 180 \
    --out "$tmp/$1.json" --ready "$tmp/$1.ready" &
  load_pid=$!
  for _ in $(seq 50); do [[ -e $tmp/$1.ready ]] && return 0; sleep 0.2; done
  fail "load generator $1: no successful request within 10 s"
}
# stop_load NAME: stops it and prints its summary line; fails on any failed request.
stop_load() {
  kill -TERM "$load_pid"
  wait "$load_pid" || fail "load generator $1 exited with an error"
  load_pid=""
  python3 - "$1" "$tmp/$1.json" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
print(f"swarm_test: load {name}: {d['total_ok']} ok, {d['total_failed']} failed in {d['seconds']} s "
      f"({d['total_ok'] / d['seconds']:.0f}/s, target {d['rate_target']:.0f}/s), per path {d['ok']}, "
      f"latency p50 {d['latency_ms']['p50']} ms p99 {d['latency_ms']['p99']} ms max {d['latency_ms']['max']} ms, "
      f"longest gap {d['longest_gap_s']} s")
problems = []
if d["total_failed"]:
    problems.append(f"{d['total_failed']} failed requests, first: {json.dumps(d['failures'][:5])}")
# Steady means steady: the load kept its rate and never stalled.
if d["total_ok"] < 0.8 * d["rate_target"] * d["seconds"]:
    problems.append(f"only {d['total_ok']} requests in {d['seconds']} s")
if d["longest_gap_s"] > 2.0:
    problems.append(f"no request completed for {d['longest_gap_s']} s")
if problems:
    print(f"swarm_test: load {name}: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
EOF
}

# ------------------------------------------------------------------ scale out to 3
start_load scale-out
running_tasks service1 >"$tmp/s1.before"
log "scaling service1 to 3 under load (service1 at $(awk '{print $2}' "$tmp/s1.before" | tr '\n' ' '))"
docker service scale --detach "${stack}_service1=3" >/dev/null
# Until every new replica has a first proxied request in ringway's own counters: the time from
# the task turning RUNNING (healthy, hence in DNS) to that request, per replica.
python3 - "$stack" "$tmp/s1.before" "$prom_container" "$((resolve_every + health_interval))" <<'EOF' || fail "not every new service1 replica received traffic in time"
import re, subprocess, sys, time
stack, before_file, prom, budget = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
before = {line.split()[1] for line in open(before_file) if line.strip()}
def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=15).stdout
def tasks():
    ids = sh("docker", "service", "ps", "-q", "--filter", "desired-state=running", f"{stack}_service1").split()
    out = {}
    if ids:
        fmt = "{{.Status.State}} {{.Status.Timestamp.UnixNano}} {{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}"
        for line in sh("docker", "inspect", "-f", fmt, *ids).splitlines():
            f = line.split()
            if len(f) >= 3 and f[0] == "running":
                out[f[2].split("/")[0]] = int(f[1]) / 1e9
    return out
pat = re.compile(r'^ringway_upstream_requests_total\{upstream="service1",server="([0-9.]+):8001",code="200"\} (\S+)', re.M)
first_seen, running_at = {}, {}
deadline = time.time() + 90
while time.time() < deadline:
    now = time.time()
    running_at.update(tasks())
    metrics = sh("docker", "exec", prom, "wget", "-q", "-O", "-", "http://tasks.ringway:9901/metrics")
    for ip, value in pat.findall(metrics):
        if ip not in before and float(value) > 0:
            first_seen.setdefault(ip, now)
    new = [ip for ip in running_at if ip not in before]
    if len(running_at) >= 3 and len(new) >= 2 and all(ip in first_seen for ip in new):
        break
    time.sleep(0.25)
new = sorted(ip for ip in running_at if ip not in before)
if len(running_at) < 3 or len(new) < 2:
    sys.exit(f"swarm_test: service1 has {len(running_at)} running replicas ({sorted(running_at)}), expected 3")
worst = 0.0
for ip in new:
    if ip not in first_seen:
        sys.exit(f"swarm_test: new replica {ip} got no proxied request within 90 s")
    lag = first_seen[ip] - running_at[ip]
    worst = max(worst, lag)
    print(f"swarm_test: new replica {ip}: RUNNING (healthy, in DNS) -> first proxied request seen after {lag:.2f} s")
# The observation polls every ~0.5 s (docker exec + inspect): allow 2 s for it on top.
if worst > budget + 2.0:
    sys.exit(f"swarm_test: slowest new replica took {worst:.1f} s, budget resolve_every + health interval = {budget:.0f} s (+2 s polling)")
EOF
running_tasks service1 >"$tmp/s1.three"
[[ $(wc -l <"$tmp/s1.three") == 3 ]] || fail "service1 does not have 3 running replicas: $(cat "$tmp/s1.three")"
# Let every replica serve for a while, then read each replica's own counter in Prometheus.
sleep 8
stop_load scale-out
sleep 5   # two scrape intervals: Prometheus has the final counts
promql 'service1_http_requests_total{path="/ping",code="200"}' >"$tmp/s1_requests.json" || fail "Prometheus query failed"
promql 'process_start_time_seconds{job="service1"}' >"$tmp/s1_start.json" || fail "Prometheus query failed"
promql 'ringway_upstream_requests_total{upstream="service1",code="200"}' >"$tmp/rw_requests.json" || fail "Prometheus query failed"
promql 'sum by (server) (ringway_upstream_health_checks_total{upstream="service1"})' >"$tmp/rw_checks.json" || fail "Prometheus query failed"
python3 - "$tmp/s1.three" "$tmp/s1_requests.json" "$tmp/s1_start.json" "$tmp/rw_requests.json" "$tmp/rw_checks.json" <<'EOF' || fail "not every service1 replica served proxied traffic (per Prometheus)"
import json, sys, time
tasks_file, req_file, start_file, rw_file, checks_file = sys.argv[1:]
ips = [line.split()[1] for line in open(tasks_file) if line.strip()]
def by_instance(path, key):
    return {r["metric"][key].rsplit(":", 1)[0]: float(r["value"][1]) for r in json.load(open(path))["data"]["result"]}
served, started = by_instance(req_file, "instance"), by_instance(start_file, "instance")
proxied, checks = by_instance(rw_file, "server"), by_instance(checks_file, "server")
bad = []
for ip in ips:
    if ip not in served or ip not in started:
        bad.append(f"{ip}: no series in Prometheus (dns_sd_configs did not find it?)")
        continue
    uptime = time.time() - started[ip]
    # GET /ping also counts health checks: ringway's (counted; +3 for scrapes up to 2 s apart)
    # and Docker's (every 2 s). More than both can add up to means proxied requests arrived.
    health_bound = checks.get(ip, 0) + 3 + uptime / 2 + 2
    line = (f"replica {ip}: service1_http_requests_total{{path=\"/ping\"}} = {served[ip]:.0f} after {uptime:.0f} s up "
            f"(health checks at most {health_bound:.0f}); ringway sent it {proxied.get(ip, 0):.0f}")
    print("swarm_test: " + line)
    if served[ip] <= health_bound or proxied.get(ip, 0) < 5:
        bad.append(line)
if bad:
    sys.exit("swarm_test: " + "; ".join(bad))
EOF
log "every one of the 3 service1 replicas served proxied traffic"

# ------------------------------------------------------------------ scale in + rolling update
running_tasks service2 >"$tmp/s2.before"
start_load roll
log "under load: scaling service1 to 1"
docker service scale --detach=false "${stack}_service1=1" >"$tmp/scale-in.log" 2>&1 ||
  { cat "$tmp/scale-in.log" >&2; fail "scaling service1 to 1 failed"; }
log "under load: rolling service2 to $roll_image (start-first, one replica at a time)"
docker service update --detach=false --no-resolve-image --image "$roll_image" "${stack}_service2" >"$tmp/update.log" 2>&1 ||
  { cat "$tmp/update.log" >&2; fail "rolling update of service2 failed"; }
sleep $((resolve_every + 2))  # requests keep flowing after the last old task stopped
stop_load roll

# The scale-in and the roll really happened, and ringway follows them.
running_tasks service1 >"$tmp/s1.after"
running_tasks service2 >"$tmp/s2.after"
[[ $(wc -l <"$tmp/s1.after") == 1 ]] || fail "service1 has $(wc -l <"$tmp/s1.after") running replicas after scaling to 1"
[[ $(wc -l <"$tmp/s2.after") == 2 ]] || fail "service2 has $(wc -l <"$tmp/s2.after") running replicas after the update"
awk -v img="$roll_image" '$3 != img {bad = 1} END {exit bad}' "$tmp/s2.after" ||
  fail "service2 tasks not on $roll_image after the update: $(cat "$tmp/s2.after")"
in_stack "http://tasks.ringway:9901/status" >"$tmp/status.json" || fail "GET ringway /status failed"
python3 - "$tmp/status.json" "$tmp/s1.after" "$tmp/s2.after" "$tmp/s2.before" <<'EOF' || fail "ringway's servers do not match the replicas"
import json, sys
status = json.load(open(sys.argv[1]))
ips = lambda f: sorted(line.split()[1] for line in open(f) if line.strip())
want = {"service1": ips(sys.argv[2]), "service2": ips(sys.argv[3])}
old2 = set(ips(sys.argv[4]))
problems = []
for u in status["upstreams"]:
    if u["name"] not in want:
        continue
    have = sorted(s["address"].rsplit(":", 1)[0] for s in u["servers"])
    print(f"swarm_test: ringway {u['name']} servers {have} (replicas {want[u['name']]})")
    if have != want[u["name"]]:
        problems.append(f"{u['name']}: ringway has {have}, swarm runs {want[u['name']]}")
    if u["name"] == "service2" and old2 & set(have):
        problems.append(f"service2: ringway still lists old replicas {sorted(old2 & set(have))}")
if problems:
    sys.exit("swarm_test: " + "; ".join(problems))
EOF
retries=$(in_stack "http://tasks.ringway:9901/metrics" | awk '/^ringway_upstream_retries_total/ {s += $2} END {print s + 0}')
log "scale-in and rolling update done with zero failed requests (ringway retried $retries requests)"
