#!/usr/bin/env bash
# Builds the binaries and the e2e suite (Release, then ASan+UBSan) and runs tests/e2e on each:
# the real service1/service2 (and ringway, once it exists) on ephemeral 127.0.0.1 ports.
#
# Usage: tests/scripts/run_e2e.sh [release|asan|all]   (default all)
# Env:   BUILD_ROOT=/tmp/ringway-e2e   build dirs go under it (release/, asan/)
#        JOBS=$(nproc)   GTEST_FILTER=...   passed through to the test binary
#        WERROR=ON       set OFF if an unrelated file trips -Werror with this compiler
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WHICH=${1:-all}
BUILD_ROOT=${BUILD_ROOT:-/tmp/ringway-e2e}
JOBS=${JOBS:-$(nproc)}
WERROR=${WERROR:-ON}

log() { printf '[run_e2e] %s\n' "$*" >&2; }

targets() {
  local build=$1 t out=()
  for t in service1 service2 ringway ringway_e2e_tests; do
    # ringway may not exist yet: build only targets the tree defines.
    if make -C "$build" help 2>/dev/null | grep -qx "\.\.\. $t"; then out+=("$t"); fi
  done
  echo "${out[@]}"
}

run_one() {  # name cmake-args...
  local name=$1 build=$BUILD_ROOT/$1
  shift
  log "$name: configuring $build"
  cmake -S "$ROOT" -B "$build" -DRINGWAY_WERROR="$WERROR" -DRINGWAY_BUILD_BENCH=OFF "$@" >"$build.cmake.log" 2>&1 ||
    { cat "$build.cmake.log" >&2; return 1; }
  # shellcheck disable=SC2046  # a list of targets
  make -C "$build" -j"$JOBS" $(targets "$build") >"$build.make.log" 2>&1 ||
    { tail -40 "$build.make.log" >&2; log "$name: build failed (log: $build.make.log)"; return 1; }
  log "$name: running $build/bin/ringway_e2e_tests"
  # halt_on_error: a sanitizer report in a child makes it exit non-zero, which the tests see.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    timeout 600 "$build/bin/ringway_e2e_tests" ${GTEST_FILTER:+--gtest_filter="$GTEST_FILTER"}
}

mkdir -p "$BUILD_ROOT"
status=0
case $WHICH in
  release) run_one release -DCMAKE_BUILD_TYPE=Release || status=1 ;;
  asan) run_one asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGWAY_SANITIZE=address,undefined || status=1 ;;
  all)
    run_one release -DCMAKE_BUILD_TYPE=Release || status=1
    run_one asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGWAY_SANITIZE=address,undefined || status=1 ;;
  *) log "usage: $0 [release|asan|all]"; exit 2 ;;
esac
if ((status == 0)); then log "all e2e runs passed"; else log "some e2e run failed"; fi
exit "$status"
