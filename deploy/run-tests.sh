#!/usr/bin/env bash
# THE test command: installs every package, builds with -Werror and runs the whole suite
# (unit, end-to-end, Prometheus, dashboards, k8s manifests, docker compose and swarm), then
# builds again with ASan+UBSan and runs the suite once more, then runs each libFuzzer target
# for 30 s and the multi-worker tests under ThreadSanitizer (the full suites run last, the
# Release one at the very end, so its ctest summary closes the output). Usage: bash deploy/run-tests.sh [--no-docker]
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
# libFuzzer: every target for fuzz_seconds from its seed corpus (tests/fuzz/corpus/<target>);
# new inputs go to a scratch dir so the repo corpus only changes on purpose. Any crash, leak,
# sanitizer report or split-invariance abort fails the run; the input is kept in build-fuzz/.
fuzz_seconds=${RINGWAY_FUZZ_SECONDS:-30}
echo "== Fuzz targets (clang-14, ${fuzz_seconds}s each)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGWAY_FUZZ=ON -DRINGWAY_WERROR=OFF \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DRINGWAY_BUILD_TESTS=OFF -DRINGWAY_BUILD_BENCH=OFF
cmake --build build-fuzz -j"$jobs" --target fuzz_all
fuzz_failed=()
fuzz_ran=0
for bin in build-fuzz/bin/*_fuzz; do
  target=$(basename "$bin" _fuzz)
  scratch=$(mktemp -d)
  if (cd build-fuzz && "../$bin" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$scratch" "../tests/fuzz/corpus/$target") >"build-fuzz/$target.log" 2>&1; then
    echo "fuzz $target: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$target.log" | grep -o '[0-9]*$') runs)"
  else
    fuzz_failed+=("$target")
    echo "fuzz $target: FAILED (build-fuzz/$target.log)"
    tail -n 40 "build-fuzz/$target.log"
  fi
  rm -rf "$scratch"
  fuzz_ran=$((fuzz_ran + 1))
done
echo "fuzz summary: $fuzz_ran targets, ${#fuzz_failed[@]} failed${fuzz_failed[*]:+: ${fuzz_failed[*]}}"
[[ ${#fuzz_failed[@]} == 0 && $fuzz_ran -ge 5 ]] || status=1

# ThreadSanitizer over the tests where threads meet: worker pool, reload/drain (config snapshots
# posted across threads), the upstream connection slots and queue shared by two workers,
# health checks (checker thread -> workers), two workers on one listener.
# Epoll only: TSan cannot see the kernel's writes into io_uring's shared rings, so every
# completion read there looks like a race (a false positive, not a finding).
echo "== ThreadSanitizer: multi-worker tests (epoll)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGWAY_WERROR=ON \
  -DRINGWAY_SANITIZE=thread -DRINGWAY_BUILD_BENCH=OFF -DRINGWAY_DOCKER_TESTS=OFF
cmake --build build-tsan -j"$jobs" --target ringway service1 service2 ringway_unit_tests ringway_e2e_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure --timeout 600 \
  -R '(WorkerPool|ProxyLifecycle|ProxyMultiWorker|TwoWorkers|ProxyHealthChecks|HealthChecker|ProxyConnectionLimit).*Epoll' || status=1
# The two full suites last, Release at the very end: its ctest summary closes the output.
echo "== Test suite under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 600 || status=1

echo "== Test suite, Release build"
ctest --test-dir build --output-on-failure --timeout 1500 || status=1
exit "$status"
