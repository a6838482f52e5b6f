#!/usr/bin/env bash
# Installs every Debian 12 package Ringway needs to build, test, run the demo and benchmark.
# Idempotent: safe to run again. Usage: deploy/setup.sh [--docker] [--bench]
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

want_docker=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --docker) want_docker=1 ;;
    --bench) want_bench=1 ;;
    *) echo "setup.sh: unknown option '$arg' (expected --docker or --bench)" >&2; exit 2 ;;
  esac
done

packages=(
  # build
  build-essential cmake pkg-config ca-certificates
  liburing-dev node-llhttp prometheus-cpp-dev libyaml-cpp-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev prometheus curl wrk procps iproute2 python3
  python3-yaml   # tests/k8s/check_manifests.py
  # fuzzing (libFuzzer + its runtime; RINGWAY_FUZZ=ON builds with clang-14)
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  # the admin live page test (tests/admin/): a real headless browser
  chromium chromium-driver python3-selenium
)
if [[ $want_bench == 1 ]]; then
  # wrk is in the base list; h2load (nghttp2-client) paces the open-loop runs, gnuplot draws
  # the plots of bench/run.sh.
  packages+=(nginx-light haproxy h2o strace valgrind nghttp2-client gnuplot-nox)
fi
if [[ $want_docker == 1 ]]; then
  packages+=(docker.io docker-compose debootstrap)
fi

if [[ $(id -u) != 0 ]]; then
  echo "setup.sh: must run as root (apt-get install)" >&2
  exit 1
fi

apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"

# Debian's prometheus package starts a system-wide server on :9090 with a stock config.
# Ringway's demo and tests start their own Prometheus, so keep the packaged one from
# holding the port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
  systemctl disable prometheus || true
fi
# Same for nginx/haproxy/h2o installed for the benchmark: the harness runs its own copies.
for svc in nginx haproxy h2o prometheus-node-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" || true
  fi
done
echo "setup.sh: packages installed"
