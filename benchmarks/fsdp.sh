#!/usr/bin/env bash
# Memory per rank and step time of DDP and each FSDP stage (bench_fsdp) at world size 2 and 4,
# each run a torchtrain-launch of its own; prints one markdown table with the ratios to DDP
# at the same world size and checks the memory goals of docs/distributed.md (deterministic
# byte counts, never the times): optimizer state within 5% of 1/N of DDP's for every stage,
# gradients too for shard_grad_op and full_shard, and full_shard's parameters at most 1/N
# of the model plus its root unit and its largest block. Exits 1 where a goal is missed.
#
#   benchmarks/fsdp.sh [build folder (build)]
#   environment: FSDP_SIZE=cpu|tiny (cpu: a GPT of 8 layers, hidden 384, 15.8 M parameters;
#                tiny: seconds, the CI test benchmarks.fsdp_tiny), FSDP_WORLDS ("2 4")
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
case ${FSDP_SIZE:-cpu} in
  cpu) shape=() ;;
  tiny) shape=(--layers 2 --hidden 64 --heads 4 --vocab_size 512 --sequence_length 32 --steps 2 --warmup_steps 1) ;;
  *) echo "fsdp.sh: FSDP_SIZE is cpu or tiny, not '$FSDP_SIZE'" >&2; exit 2 ;;
esac
for program in "$build/benchmarks/bench_fsdp" "$build/tools/torchtrain-launch"; do
  [ -x "$program" ] || { echo "fsdp.sh: $program is not built" >&2; exit 2; }
done
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for world in ${FSDP_WORLDS:-2 4}; do
  for strategy in ddp shard_optimizer_state shard_grad_op full_shard; do
    if ! "$build/tools/torchtrain-launch" --nproc_per_node "$world" "$build/benchmarks/bench_fsdp" \
         --strategy "$strategy" "${shape[@]}" >"$lines.run" 2>&1; then
      cat "$lines.run" >&2
      echo "fsdp.sh: $strategy at world size $world failed" >&2
      exit 1
    fi
    grep '^BENCH_FSDP ' "$lines.run" | sed 's/^BENCH_FSDP //' >>"$lines"
  done
done
rm -f "$lines.run"
python3 - "$lines" <<'EOF'
import json, sys

runs = [json.loads(line) for line in open(sys.argv[1])]
ddp = {run["world_size"]: run for run in runs if run["strategy"] == "ddp"}
first = runs[0]
print(f"A GPT of {first['model_mib']:.1f} MiB of float32 parameters (largest block {first['largest_block_mib']:.2f} MiB, "
      f"root unit {first['root_unit_mib']:.2f} MiB), AdamW; MiB per rank (the largest of any rank)\n")
print("| world | strategy | parameters | in a forward | gradients | optimizer state | peak in a step "
      "| step s | step / DDP's |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
missed = []
for run in runs:
    world, base = run["world_size"], ddp[run["world_size"]]
    def share(key):
        return f"{run[key]:.2f} ({run[key] / base[key]:.3f})"
    print(f"| {world} | {run['strategy']} | {share('parameters_mib')} | {share('parameters_in_forward_mib')} "
          f"| {share('gradients_mib')} | {share('optimizer_state_mib')} | {share('peak_mib')} "
          f"| {run['step_seconds']:.3f} | {run['step_seconds'] / base['step_seconds']:.2f} |")
    goals = []
    if run["strategy"] != "ddp":
        goals.append(("optimizer state", run["optimizer_state_mib"], 1.05 * base["optimizer_state_mib"] / world))
    if run["strategy"] in ("shard_grad_op", "full_shard"):
        goals.append(("gradients", run["gradients_mib"], 1.05 * base["gradients_mib"] / world))
    if run["strategy"] == "full_shard":
        bound = 1.05 * run["model_mib"] / world + run["root_unit_mib"] + run["largest_block_mib"]
        goals.append(("parameters in a forward", run["parameters_in_forward_mib"], bound))
    missed += [f"{run['strategy']} at world size {world}: {what} {value:.2f} MiB > {bound:.2f} MiB"
               for what, value, bound in goals if value > bound]
print("\n(ratio to DDP's at the same world size in parentheses)")
if missed:
    print("memory goals missed:\n  " + "\n  ".join(missed))
    sys.exit(1)
print("memory goals met: optimizer state (and gradients where sharded) within 5% of 1/N of DDP's; full_shard's "
      "parameters at most 1/N + root unit + largest block")
EOF
