# Docker helpers shared by the compose and swarm tests (sourced, not run): make sure a Docker
# daemon answers, starting one when we are root and none runs, and stop it again afterwards.

DOCKERD_STARTED_PID=""   # set when docker_ensure_daemon started dockerd
DOCKER_SKIP_REASON=""    # why Docker cannot run here, when docker_ensure_daemon returns 1

# docker_ensure_daemon LOGFILE: returns 0 once `docker info` answers; 1 with
# DOCKER_SKIP_REASON set when Docker cannot run on this machine (an environment fact, for the
# caller to report as a skip, not a failure). dockerd's output goes to LOGFILE.
docker_ensure_daemon() {
  local logfile=$1 _
  if ! command -v docker >/dev/null 2>&1; then
    DOCKER_SKIP_REASON="docker CLI not installed (deploy/setup.sh --docker)"
    return 1
  fi
  docker info >/dev/null 2>&1 && return 0
  if ! command -v dockerd >/dev/null 2>&1; then
    DOCKER_SKIP_REASON="Docker daemon not running and dockerd not installed"
    return 1
  fi
  if [[ $(id -u) != 0 ]]; then
    DOCKER_SKIP_REASON="Docker daemon not running and we are not root, so cannot start dockerd"
    return 1
  fi
  dockerd >"$logfile" 2>&1 </dev/null &
  DOCKERD_STARTED_PID=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    if ! kill -0 "$DOCKERD_STARTED_PID" 2>/dev/null; then
      tail -n 15 "$logfile" >&2
      DOCKERD_STARTED_PID=""
      DOCKER_SKIP_REASON="dockerd exited at start-up (environment: see its log above)"
      return 1
    fi
    sleep 1
  done
  tail -n 15 "$logfile" >&2
  DOCKER_SKIP_REASON="dockerd did not answer within 60 s (environment: see its log above)"
  return 1
}

# docker_stop_started_daemon: stops the dockerd docker_ensure_daemon started, if any (up to
# 30 s), unless KEEP_DOCKERD=1.
docker_stop_started_daemon() {
  local _
  [[ -n $DOCKERD_STARTED_PID && ${KEEP_DOCKERD:-0} != 1 ]] || return 0
  kill -TERM "$DOCKERD_STARTED_PID" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$DOCKERD_STARTED_PID" 2>/dev/null || break; sleep 1; done
  DOCKERD_STARTED_PID=""
}
