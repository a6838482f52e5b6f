#!/usr/bin/env bash
# THE test command: installs every package, builds with -Werror and runs the whole suite
# (unit, end-to-end, Prometheus, dashboards, k8s manifests, docker compose and swarm), then builds again with
# ASan+UBSan and runs the suite once more. Usage: bash deploy/run-tests.sh [--no-docker]
set -euo pipefail
cd "$(dirname "$0")/.."

docker_tests=ON
for arg in "$@"; do
  case "$arg" in
    --no-docker) docker_tests=OFF ;;
    *) echo "run-tests.sh: unknown option '$arg' (expected --no-docker)" >&2; exit 2 ;;
  esac
done

setup_flags=()
[[ $docker_tests == ON ]] && setup_flags+=(--docker)
bash deploy/setup.sh "${setup_flags[@]}"

jobs=$(nproc)
echo "== Release build (-Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRINGWAY_WERROR=ON -DRINGWAY_DOCKER_TESTS="$docker_tests"
cmake --build build -j"$jobs"

echo "== ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRINGWAY_WERROR=ON \
  -DRINGWAY_SANITIZE=address,undefined -DRINGWAY_BUILD_BENCH=OFF -DRINGWAY_DOCKER_TESTS=OFF
cmake --build build-asan -j"$jobs"

status=0
echo "== Test suite under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 600 || status=1

echo "== Test suite, Release build"
ctest --test-dir build --output-on-failure --timeout 1500 || status=1
exit "$status"
