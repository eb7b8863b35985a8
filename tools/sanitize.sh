#!/usr/bin/env bash
# tools/sanitize.sh [build-folder]: the unit suite under AddressSanitizer and
# UndefinedBehaviorSanitizer (issue 26, item 8).
#
# Configures this repository with g++ in its own build folder (default build-asan beside
# this script's parent), with -fsanitize=address,undefined plus float-cast-overflow (not part
# of `undefined` in GCC), every undefined-behaviour check fatal; builds the unit suite's
# programs (torchtrain_tests, ddp_worker, torchtrain-launch, and digits, which the processes
# suite runs); runs the unit suite (the CTest tests unit.*, with their Python fixtures); and
# prints tests run, passed, failed and each sanitizer report (kind, place, first frames).
# Exits 0 only when every test passed and no sanitizer reported anything.
#
# Reports go to files in <build-folder>/sanitizer-reports, one per process that reported:
# many tests run the example and the worker as child processes whose stderr the test
# itself reads, so a report there would be lost; every report also sets the exit code 23.
# LibTorch is not instrumented: ASan still sees its heap (malloc and new are intercepted) but
# checks none of its accesses. tools/lsan.supp lists the leaks of LibTorch's own that
# LeakSanitizer reports at exit, each with its reason.
#
# Time on this project's 2-core machine: the build about 45 minutes from scratch (the
# sanitizers double it), the suite about 25 minutes (8 without sanitizers). JOBS sets the
# parallelism of both (default 2); SKIP_BUILD=1 skips the configure and build.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$repo/build-asan}")
jobs=${JOBS:-2}
sanitizers="-fsanitize=address,undefined -fsanitize=float-cast-overflow"
sanitizers+=" -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer"

seconds() { date +%s; }
build_start=$(seconds)
if [[ ${SKIP_BUILD:-0} != 1 ]]; then  # SKIP_BUILD=1 runs the suite again on the programs as built
  # -g1: line tables only, so that reports name file:line without the cost of full debug info.
  nice -n 10 cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
    "-DCMAKE_CXX_FLAGS=$sanitizers -g1" "-DCMAKE_EXE_LINKER_FLAGS=$sanitizers" -DTORCHTRAIN_BUILD_BENCHMARKS=OFF >/dev/null
  nice -n 10 cmake --build "$build" -j "$jobs" --target torchtrain_tests ddp_worker torchtrain-launch digits
fi
build_seconds=$(($(seconds) - build_start))

reports=$build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
common="halt_on_error=1:print_summary=1:exitcode=23"
export ASAN_OPTIONS="$common:log_path=$reports/asan:detect_leaks=1:check_initialization_order=1:strict_init_order=1"
export ASAN_OPTIONS+=":detect_stack_use_after_return=1"
export UBSAN_OPTIONS="$common:log_path=$reports/ubsan:print_stacktrace=1:report_error_type=1"
export LSAN_OPTIONS="suppressions=$repo/tools/lsan.supp:print_suppressions=0"
symbolizer=$(command -v llvm-symbolizer || true)
[[ -n $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer

run_start=$(seconds)
log=$build/sanitize-ctest.log
set +e
# Tests have no time limit of their own; under the sanitizers the slowest take minutes.
nice -n 10 ctest --test-dir "$build" -R '^unit\.' -j "$jobs" --timeout 3600 --output-on-failure 2>&1 | tee "$log"
ctest_status=${PIPESTATUS[0]}
set -e
run_seconds=$(($(seconds) - run_start))

# "95% tests passed, 1 tests failed out of 27"
totals=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$totals")
failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$totals")
shopt -s nullglob
report_files=("$reports"/*)
echo
echo "===== sanitize.sh summary ====="
echo "build: $build_seconds s ($build), unit suite: $run_seconds s"
if [[ -n $totals ]]; then
  echo "tests run: $total, passed: $((total - failed)), failed: $failed"
else
  echo "tests run: unknown (ctest printed no totals; exit status $ctest_status)"
fi
echo "sanitizer reports: ${#report_files[@]} (in $reports)"
for file in "${report_files[@]}"; do
  echo "--- $(basename "$file")"
  # The kind and place, then the first frames of the stack.
  grep -m1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$file" || head -1 "$file"
  grep -m4 -E '^ +#[0-9]+ ' "$file" || true
done
[[ $ctest_status -eq 0 && ${#report_files[@]} -eq 0 ]]
