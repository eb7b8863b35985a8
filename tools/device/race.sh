#!/usr/bin/env bash
# The race (issue 11): torchtrain's Trainer, a hand-written LibTorch loop and the Python
# Trainer on GPT-2 small (bf16, fused AdamW) and on a small MLP, and on the MLP also a
# hand-written PyTorch loop, each contestant in its own process with the same settings;
# prints one table (benchmarks/race/race_table.py) and leaves each contestant's log and
# results.jsonl in the output folder. run.sh calls it on the GPU machine; RACE_SIZE=tiny
# runs the same programs with tiny settings, to check the driver on a CPU. A Python
# contestant is skipped, not failed, where torch (or, for the Trainer, transformers) is missing.
#
#   tools/device/race.sh [build folder (build-cuda)] [output folder ($OUT/race)]
#   environment: RACE_SIZE=full|tiny, RACE_PEAK_FLOPS (989e12: H100 SXM dense bf16)
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-cuda}
out=${2:-${OUT:-$PWD/device-out}/race}
peak=${RACE_PEAK_FLOPS:-989e12}
mkdir -p "$out"
case ${RACE_SIZE:-full} in
  full)  # GPT-2 small's shape is the programs' default
    gpt2=(--batch_size 8 --gradient_accumulation_steps 4 --steps 20 --warmup_steps 3 --bf16 true)
    mlp=(--batch_size 64 --steps 2000 --warmup_steps 200) ;;
  tiny)
    gpt2=(--layers 2 --hidden 64 --heads 4 --vocab_size 512 --sequence_length 32 --batch_size 2
          --gradient_accumulation_steps 2 --steps 3 --warmup_steps 1 --bf16 true)
    mlp=(--batch_size 64 --steps 50 --warmup_steps 10) ;;
  *) echo "race.sh: RACE_SIZE is full or tiny, not '$RACE_SIZE'" >&2; exit 2 ;;
esac
for program in race_gpt2 race_mlp; do
  [ -x "$build/benchmarks/$program" ] || { echo "race.sh: $build/benchmarks/$program is not built" >&2; exit 2; }
done

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
    printf '%-22s FAILED: no RACE line, see %s\n' "$name" "$out/$name.log"; status=1
  elif [ $code -eq 0 ]; then
    printf '%-22s ok %5ds\n' "$name" $((SECONDS - start))
  elif [ $code -eq 3 ] && [[ $name == python_* ]]; then
    printf '%-22s skipped: %s\n' "$name" "$(tail -1 "$out/$name.log")"
  else
    printf '%-22s FAILED (%d), see %s\n' "$name" $code "$out/$name.log"; tail -5 "$out/$name.log"; status=1
  fi
}
for contestant in torchtrain libtorch; do
  run_contestant "gpt2_$contestant" "$build/benchmarks/race_gpt2" --contestant "$contestant" "${gpt2[@]}"
done
run_contestant python_gpt2 python3 benchmarks/race/python_trainer.py --workload gpt2 "${gpt2[@]}"
for contestant in torchtrain libtorch; do
  run_contestant "mlp_$contestant" "$build/benchmarks/race_mlp" --contestant "$contestant" "${mlp[@]}"
done
run_contestant python_mlp python3 benchmarks/race/python_trainer.py --workload mlp "${mlp[@]}"
run_contestant python_loop_mlp python3 benchmarks/race/python_trainer.py --workload mlp --contestant loop "${mlp[@]}"

machine=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
machine=${machine:-"CPU, $(nproc) cores"}
echo
python3 benchmarks/race/race_table.py "$results" --peak_flops "$peak" --machine "$machine" \
  --settings "gpt2 ${gpt2[*]}; mlp ${mlp[*]}" | tee "$out/table.md"
table_status=${PIPESTATUS[0]}
[ $status -eq 0 ] && [ "$table_status" -eq 0 ]
