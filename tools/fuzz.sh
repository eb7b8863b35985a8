#!/usr/bin/env bash
# Fuzzes torchtrain's readers of untrusted bytes with libFuzzer (issue 26, item 8).
#
#   tools/fuzz.sh [seconds-per-reader] [build-folder]      (defaults: 60, build-fuzz)
#
# Builds tests/fuzz (one binary, torchtrain_fuzz) with clang++ and
# -fsanitize=fuzzer,address,undefined,float-cast-overflow, then runs each reader in turn
# for the given seconds: safetensors, json_arguments, json_lines, csv and checkpoint
# (TORCHTRAIN_FUZZ_READERS="csv json_lines" picks some). Each reader starts from the seeds
# in tests/fuzz/corpus/<reader> and grows its own corpus in <build-folder>/corpus/<reader>,
# which later runs continue from. A reader crashes when its process dies, a sanitizer
# reports, or an exception other than the reader's documented error type escapes it (or a
# documented one names no file); the input that did it is kept in
# <build-folder>/crashes/<reader>/ and the run's log in <build-folder>/logs/<reader>.log.
# Prints per reader: executions, executions per second, corpus size, crashes. Exits 1 if
# any reader crashed (or the build failed), 77 without clang++ or libFuzzer.
#
# A long run (the issue's goal: 0 crashes in 10 minutes each), one reader at a time:
#   nice -n 10 tools/fuzz.sh 600
# Replaying a crash, or any input, under the same binary:
#   LSAN_OPTIONS=suppressions=tools/lsan.supp TORCHTRAIN_FUZZ_READER=csv \
#     build-fuzz/build/torchtrain_fuzz build-fuzz/crashes/csv/crash-<sha1>
# LibTorch itself is not instrumented: a fault inside it shows as a deadly signal only.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
build=$(mkdir -p "${2:-$repo/build-fuzz}" && cd "${2:-$repo/build-fuzz}" && pwd)
readers=(${TORCHTRAIN_FUZZ_READERS:-safetensors json_arguments json_lines csv checkpoint})

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is not installed, and the fuzz harnesses need clang's libFuzzer; skipped" >&2
  exit 77
fi
probe=$build/libfuzzer-probe
if ! printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined - -o "$probe" 2>"$probe.log"; then
  echo "fuzz.sh: clang++ cannot link -fsanitize=fuzzer,address,undefined (libFuzzer or the sanitizer runtimes are missing; see $probe.log); skipped" >&2
  exit 77
fi

echo "fuzz.sh: building $build/build/torchtrain_fuzz with clang++"
if ! { cmake -S "$repo/tests/fuzz" -B "$build/build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$build/build" --target torchtrain_fuzz -j "${TORCHTRAIN_FUZZ_JOBS:-2}"; } >"$build/build.log" 2>&1; then
  tail -n 40 "$build/build.log" >&2
  echo "fuzz.sh: the build failed; its log: $build/build.log" >&2
  exit 1
fi
binary=$build/build/torchtrain_fuzz

# libFuzzer checks each input for leaks; tools/lsan.supp names those inside LibTorch.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$repo/tools/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
printf '%-16s %12s %10s %8s %8s\n' reader executions exec/s corpus crashes
for reader in "${readers[@]}"; do
  corpus=$build/corpus/$reader crashes=$build/crashes/$reader log=$build/logs/$reader.log
  mkdir -p "$corpus" "$crashes" "$build/logs"
  before=$(ls "$crashes" | wc -l)
  # The seeds of the checkpoint reader are made from a checkpoint this build trains (it
  # changes with torchtrain's formats); tests/fuzz/corpus/checkpoint holds damaged ones.
  seeds=("$repo/tests/fuzz/corpus/$reader")
  if [ "$reader" = checkpoint ]; then
    rm -rf "$build/seeds/checkpoint" && seeds+=("$build/seeds/checkpoint")
    export TORCHTRAIN_FUZZ_WRITE_SEEDS=$build/seeds/checkpoint
  fi
  TORCHTRAIN_FUZZ_READER=$reader "$binary" "$corpus" "${seeds[@]}" -max_total_time="$seconds" -timeout=60 \
    -dict="$repo/tests/fuzz/json.dict" -rss_limit_mb=4096 -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  unset TORCHTRAIN_FUZZ_WRITE_SEEDS
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  size=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  found=$(( $(ls "$crashes" | wc -l) - before ))
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi  # died before keeping an input
  printf '%-16s %12s %10s %8s %8s\n' "$reader" "${executions:-?}" "${speed:-?}" "${size:-?}" "$found"
  if [ "$found" -ne 0 ]; then
    failed=1
    grep -m 1 -A 12 -E '^=== fuzz harness|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" | sed 's/^/    /' >&2
    echo "    input kept in $crashes/, log: $log" >&2
  fi
done
exit $failed
