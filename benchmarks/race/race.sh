#!/usr/bin/env bash
# The race: torchtrain's Trainer, a hand-written LibTorch loop, a hand-written PyTorch loop
# and the Python Trainer (transformers) on a small GPT and a small MLP, each contestant in a
# process of its own with the same settings; prints one table (race_table.py: medians over
# the rounds, and the ratios) and leaves each run's log and results.jsonl in the output
# folder. A Python contestant is skipped, not failed, where torch or transformers is missing.
#
#   benchmarks/race/race.sh [build folder (build)] [output folder (race-out)]
#   environment: RACE_SIZE=cpu|gpu|tiny (cpu), RACE_ROUNDS (5 for cpu, 1 otherwise),
#                RACE_PEAK_FLOPS (the device's peak FLOP/s for MFU; 989e12, an H100's dense bf16),
#                RACE_PYTHON_REQUIRED=1 (a Python contestant that cannot run fails the race)
#
# Sizes: cpu is the race on this machine's CPU (a GPT of 4 layers, hidden 256, sequence 128,
# and the digits example's MLP, 64-128-10, batch 32, both in float32); gpu is GPT-2 small in
# bf16 and the same MLP (tools/device/run.sh); tiny runs the same programs in seconds, to
# check them and the table (the CI test benchmarks.race_tiny). On gpu the MLP has one more
# contestant, torchtrain_cuda_graphs (Trainer<CudaGraphs>, the whole step as one CUDA graph);
# elsewhere the table says it was not run.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-race-out}
size=${RACE_SIZE:-cpu}
mlp=(--batch_size 32 --steps 2000 --warmup_steps 200)
case $size in
  cpu)
    gpt2=(--layers 4 --hidden 256 --heads 4 --vocab_size 8192 --sequence_length 128 --batch_size 8
          --gradient_accumulation_steps 1 --steps 30 --warmup_steps 3 --bf16 false --use_cpu true)
    mlp+=(--use_cpu true) ;;
  gpu)  # GPT-2 small's shape is the programs' default
    gpt2=(--batch_size 8 --gradient_accumulation_steps 4 --steps 20 --warmup_steps 3 --bf16 true) ;;
  tiny)
    gpt2=(--layers 2 --hidden 64 --heads 4 --vocab_size 512 --sequence_length 32 --batch_size 2
          --gradient_accumulation_steps 2 --steps 3 --warmup_steps 1 --bf16 true --use_cpu true)
    mlp=(--batch_size 32 --steps 50 --warmup_steps 10 --use_cpu true) ;;
  *) echo "race.sh: RACE_SIZE is cpu, gpu or tiny, not '$size'" >&2; exit 2 ;;
esac
default_rounds=1; [ "$size" = cpu ] && default_rounds=5
rounds=${RACE_ROUNDS:-$default_rounds}
peak=${RACE_PEAK_FLOPS:-989e12}
for program in race_gpt2 race_mlp; do
  [ -x "$build/benchmarks/$program" ] || { echo "race.sh: $build/benchmarks/$program is not built" >&2; exit 2; }
done
mkdir -p "$out"
export HF_HUB_OFFLINE=1  # the Python contestants build their models from configs: nothing to download

results=$out/results.jsonl
: > "$results"
status=0
run_contestant() {  # log name, command...: its RACE line goes to results.jsonl
  local name=$1; shift
  local start=$SECONDS
  "$@" > "$out/$name.log" 2>&1
  local code=$?
  sed -n 's/^RACE //p' "$out/$name.log" >> "$results"
  if [ $code -eq 0 ] && ! grep -q '^RACE ' "$out/$name.log"; then
    printf '%-28s FAILED: no RACE line, see %s\n' "$name" "$out/$name.log"; status=1
  elif [ $code -eq 0 ]; then
    printf '%-28s ok %5ds\n' "$name" $((SECONDS - start))
  elif [ $code -eq 3 ] && [[ $name == *_python_* ]] && [ "${RACE_PYTHON_REQUIRED:-0}" != 1 ]; then
    printf '%-28s skipped: %s\n' "$name" "$(tail -1 "$out/$name.log")"
  else
    printf '%-28s FAILED (%d), see %s\n' "$name" $code "$out/$name.log"; tail -5 "$out/$name.log"; status=1
  fi
}
# Rounds run the contestants one after another, so that a slow spell of a shared machine
# falls on every contestant alike; the table takes each one's median.
for round in $(seq 1 "$rounds"); do
  for workload in gpt2 mlp; do
    if [ "$workload" = gpt2 ]; then flags=("${gpt2[@]}"); else flags=("${mlp[@]}"); fi
    contestants=(torchtrain libtorch)
    [ "$workload" = mlp ] && [ "$size" = gpu ] && contestants=(torchtrain torchtrain_cuda_graphs libtorch)
    for contestant in "${contestants[@]}"; do
      run_contestant "${workload}_${contestant}_$round" "$build/benchmarks/race_$workload" --contestant "$contestant" "${flags[@]}"
    done
    for contestant in trainer loop; do
      run_contestant "${workload}_python_${contestant}_$round" python3 benchmarks/race/python_trainer.py \
        --workload "$workload" --contestant "$contestant" "${flags[@]}"
    done
  done
done

machine=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
[ "$size" = gpu ] && [ -n "$machine" ] || machine="CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo
python3 benchmarks/race/race_table.py "$results" --peak_flops "$peak" --machine "$machine" \
  --settings "gpt2 ${gpt2[*]}; mlp ${mlp[*]}; $rounds round(s)" | tee "$out/table.md"
table_status=${PIPESTATUS[0]}
[ $status -eq 0 ] && [ "$table_status" -eq 0 ]
