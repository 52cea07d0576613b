#!/usr/bin/env bash
# Sets up (if needed), builds and runs every test of vmrelease:
#   1. clang-format check of every tracked C++ file
#   2. Debug build (GCC) and all unit, integration and end-to-end tests, then the demo
#      (./scripts/up.sh with UP_DEMO_CHECK=1: it must end with both releases Released and the pins resolved)
#   3. a second build with clang under AddressSanitizer + UndefinedBehaviorSanitizer running the unit and
#      integration tests, plus the libFuzzer targets (60 s each)
#   4. a ThreadSanitizer build of the threaded runtime parts and their tests
# Usage: ./scripts/test.sh            (everything)
#        STAGES="format debug" ./scripts/test.sh   (a subset: format debug asan tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
STAGES=${STAGES:-"format debug asan tsan"}
start=$(date +%s)
# When ccache is installed, let clones at other paths share its cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}

# --image: mmdebstrap and umoci for image_build_e2e_test (scripts/build-image.sh).
./scripts/setup.sh --image

stage() { printf '\n==== %s (%ss elapsed) ====\n' "$*" "$(( $(date +%s) - start ))"; }
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }

if has_stage format; then
  stage "clang-format check"
  mapfile -t files < <(git ls-files '*.h' '*.cc' '*.cpp')
  if [ ${#files[@]} -gt 0 ]; then
    clang-format --dry-run -Werror "${files[@]}"
  fi
  echo "formatted: ${#files[@]} files"
fi

if has_stage debug; then
  stage "Debug build (gcc), benchmarks compiled but not run"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVMRELEASE_BUILD_BENCH=ON >/dev/null
  ninja -C build -j"$JOBS"
  stage "unit + integration + e2e tests (Debug)"
  # Tests labelled "slow" wait for minutes on almost no CPU (a 5-minute build timeout, the
  # API's shortest): they run beside the others instead of holding one of the slots.
  ctest --test-dir build --output-on-failure -L slow >build/slow-tests.log 2>&1 &
  slow_pid=$!
  ctest --test-dir build --output-on-failure -j"$JOBS" -L 'unit|integration|e2e' -LE slow
  wait "$slow_pid" || { cat build/slow-tests.log; exit 1; }
  grep -E 'tests passed|Test +#' build/slow-tests.log
  stage "the demo: ./scripts/up.sh (the README's run command), its outcome checked"
  # Two releases built, booted and checked in QEMU, published; the pins resolve (about 4 minutes).
  UP_DEMO_CHECK=1 ./scripts/up.sh >build/up-demo.log 2>&1 || { cat build/up-demo.log; exit 1; }
  tail -n 3 build/up-demo.log
fi

if has_stage asan; then
  stage "ASan+UBSan build (clang) with fuzzers"
  CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DVMRELEASE_BUILD_BENCH=OFF -DVMRELEASE_BUILD_E2E=OFF -DVMRELEASE_FUZZ=ON \
    -DVMRELEASE_SANITIZE=address,undefined >/dev/null
  ninja -C build-asan -j"$JOBS"
  stage "unit + integration tests + fuzzers (ASan+UBSan)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L 'unit|integration|fuzz'
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

if has_stage tsan; then
  stage "ThreadSanitizer build (clang) of the threaded runtime"
  CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DVMRELEASE_BUILD_BENCH=OFF -DVMRELEASE_BUILD_E2E=OFF -DVMRELEASE_SANITIZE=thread >/dev/null
  # Only the tests labelled "tsan" (work queue, store, watcher, runner, clock, upload) are built and run.
  mapfile -t tsan_tests < <(ctest --test-dir build-tsan -N -L tsan | awk '/Test +#/{print $3}')
  if [ ${#tsan_tests[@]} -gt 0 ]; then
    ninja -C build-tsan -j"$JOBS" "${tsan_tests[@]}"
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/sanitizers/tsan.supp}
    ctest --test-dir build-tsan --output-on-failure -j"$JOBS" -L tsan
  else
    echo "no tests labelled tsan"
  fi
fi

stage "all green"
