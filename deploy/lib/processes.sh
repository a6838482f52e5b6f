# Process helpers shared by the demo launcher and the test scripts (sourced, not run):
# start programs in the background with a log each, wait for them to answer HTTP, stop them
# all in reverse start order, and pick free loopback ports.
#
# Set PROC_LOG_DIR before proc_start. Functions return non-zero with a message on stderr;
# the caller decides whether that is fatal.

declare -gA PROC_PID=()
declare -ga PROC_NAMES=()

# proc_start NAME CMD...: runs CMD in the background, output in $PROC_LOG_DIR/NAME.log.
proc_start() {
  local name=$1; shift
  "$@" >"$PROC_LOG_DIR/$name.log" 2>&1 &
  PROC_PID[$name]=$!
  PROC_NAMES+=("$name")
}

# proc_alive NAME: true while NAME's process runs.
proc_alive() { kill -0 "${PROC_PID[$1]}" 2>/dev/null; }

# proc_wait_http NAME URL SECONDS: until URL answers 2xx. Fails at once, with the tail of
# NAME's log, if NAME exits first; fails after SECONDS otherwise.
proc_wait_http() {
  local name=$1 url=$2 limit=$3 start=$SECONDS
  while ((SECONDS - start < limit)); do
    if ! proc_alive "$name"; then
      tail -n 20 "$PROC_LOG_DIR/$name.log" >&2
      echo "$name exited before answering $url (log: $PROC_LOG_DIR/$name.log)" >&2
      return 1
    fi
    curl -fsS --noproxy '*' -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  tail -n 20 "$PROC_LOG_DIR/$name.log" >&2
  echo "$name did not answer $url within ${limit}s (log: $PROC_LOG_DIR/$name.log)" >&2
  return 1
}

# proc_stop NAME: SIGTERM, then SIGKILL after 12 s (ringway's drain is at most timeouts.drain).
proc_stop() {
  local name=$1 pid=${PROC_PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name did not stop in 12 s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# proc_stop_all: every started process in reverse start order (clients of a server stop
# before it: Prometheus, then the proxy draining, then the services).
proc_stop_all() {
  local i
  for ((i = ${#PROC_NAMES[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PROC_PID[${PROC_NAMES[i]}]}" 2>/dev/null || true
  done
  for ((i = ${#PROC_NAMES[@]} - 1; i >= 0; i--)); do proc_stop "${PROC_NAMES[i]}"; done
}

# free_ports N: prints N distinct free loopback ports (bound to port 0, then released; a race
# with another process is possible but unlikely).
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in socks]
for s in socks:
    s.close()  # before printing: a reader may start using the ports the moment it reads
print(" ".join(map(str, ports)), flush=True)' "$1"
}
