#!/usr/bin/env bash
# Run ON THE GPU MACHINE, in one device call (prepare .deps here first with
# tools/device/prepare_deps.sh and carry it): builds against that machine's PyTorch
# LibTorch (CUDA), runs the whole test suite, the examples on the GPU, the race against the
# Python Trainer (race.sh) and the benchmarks; logs go under $OUT (default: ./device-out), a
# summary and the race's table are printed last.
#
#   bash tools/device/run.sh [all | build | tests | examples | race | benchmarks]...
#
# With no argument, or `all`, every stage in that order. Should one call not fit in the
# device tool's 10 minutes, run the stages in separate calls while the machine stays warm
# (build-cuda/ is kept between calls): `run.sh build tests`, then `run.sh examples race`,
# then `run.sh benchmarks`.
#
# DRY_RUN=1 runs the same stages HERE, on the CPU, to time them before a device call: it
# builds against this machine's torch wheel and system packages (no .deps) in
# ${BUILD_DIR:-build-dry} (name an existing build folder to time the other stages alone), the
# CUDA cases of the suite report themselves skipped, the examples run on the CPU without the
# GPT-2 small one, and the race runs at its tiny size; `all` leaves out the benchmarks
# (name the stage to run them). Each stage's seconds are printed, and the total.
set -uo pipefail
cd "$(dirname "$0")/../.."
stages=("$@"); [ ${#stages[@]} -gt 0 ] || stages=(all)
wants() { local stage; for stage in "${stages[@]}"; do [ "$stage" = all ] || [ "$stage" = "$1" ] && return 0; done; return 1; }
for stage in "${stages[@]}"; do
  case "$stage" in all|build|tests|examples|race|benchmarks) ;; *) echo "run.sh: unknown stage '$stage' (all, build, tests, examples, race, benchmarks)" >&2; exit 2;; esac
done
dry_run=${DRY_RUN:-0}
[ "$dry_run" = 1 ] && [ "${stages[*]}" = all ] && stages=(build tests examples race)
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
if [ "$dry_run" = 1 ]; then
  build=${BUILD_DIR:-build-dry}
  configure_flags=("-DCMAKE_PREFIX_PATH=$torch_prefix" -DTORCHTRAIN_BUILD_BENCHMARKS=ON)
  jobs=$(nproc)
else
  build=build-cuda
  deps=$PWD/.deps
  [ -d "$deps/include/boost/hana" ] || { echo "run.sh: .deps is missing: run tools/device/prepare_deps.sh here and carry .deps" >&2; exit 2; }
  # zlib: the machine has the shared library (Python's zlib uses it) but may lack its headers
  # and the unversioned libz.so; the headers travel in .deps.
  zlib=$(ldconfig -p 2>/dev/null | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
  configure_flags=("-DCMAKE_PREFIX_PATH=$deps/cmake;$torch_prefix" -DBoost_NO_BOOST_CMAKE=ON "-DBoost_INCLUDE_DIR=$deps/include"
                   "-DZLIB_INCLUDE_DIR=$deps/include" "-DZLIB_LIBRARY=${zlib:-/usr/lib/x86_64-linux-gnu/libz.so.1}")
  jobs=16
fi
{
  if [ "$dry_run" = 1 ]; then echo "dry run on the CPU: $(nproc) cores"; else
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; fi
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
  g++ --version | head -1; cmake --version | head -1
} > "$out/versions.txt" 2>&1
step() {  # name, command...: runs it with its log in $out/<name>.log and records the result
  local name=$1; shift
  local start=$SECONDS
  if "$@" > "$out/$name.log" 2>&1; then result=ok; else result="FAILED ($?)"; fi
  printf '%-28s %-12s %4ds\n' "$name" "$result" $((SECONDS - start)) | tee -a "$out/summary.txt"
}
: > "$out/summary.txt"
generator=(); command -v ninja > /dev/null && generator=(-G Ninja)
if wants build; then
  step configure cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTORCHTRAIN_CHECK_HEADERS=ON \
    "${configure_flags[@]}"
  step build cmake --build "$build" -j"$jobs"
fi
wants tests && step tests ctest --test-dir "$build" -j$((jobs / 2 > 0 ? jobs / 2 : 1)) --output-on-failure --timeout 300
if wants examples; then
  step example_digits "$build/examples/digits" --output_dir "$out/digits" --bf16
  step example_gpt "$build/examples/gpt" --output_dir "$out/gpt" --bf16
  if [ "$dry_run" = 1 ]; then
    printf '%-28s %-12s %4ds\n' example_gpt2_small "skipped: CUDA" 0 | tee -a "$out/summary.txt"
  else
    step example_gpt2_small "$build/examples/gpt" --model gpt2_small --bf16 --block_size 1024 \
      --per_device_train_batch_size 8 --learning_rate 6e-4 --optim adamw_torch_fused --output_dir "$out/gpt2_small"
  fi
fi
# The race before the other benchmarks: it is what this call is for if time runs short.
race_size=gpu; [ "$dry_run" = 1 ] && race_size=tiny
wants race && step race env RACE_SIZE=$race_size bash benchmarks/race/race.sh "$build" "$out/race"
if wants benchmarks; then
  for bench in "$build"/benchmarks/bench_*; do step "$(basename "$bench")" "$bench"; done
fi
cat "$out/versions.txt"
cat "$out/summary.txt"
echo "total: ${SECONDS}s"
cat "$out/race/table.md" 2>/dev/null
