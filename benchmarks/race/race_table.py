#!/usr/bin/env python3
"""The race's table: reads the RACE lines (JSON, one per contestant, workload and round)
that race_gpt2, race_mlp and python_trainer.py print, and prints one Markdown table with
each contestant's median steps/s over the rounds (and the range), tokens/s, model FLOPs
utilization, and the ratios of medians against the Python Trainer and the two hand-written
loops. Python's standard library only, so that it runs where torch is not installed.

  race_table.py results.jsonl [--peak_flops 989e12] [--machine "NVIDIA H100 80GB HBM3"] [--settings TEXT]

Exits 1 when the contestants of a workload did not do the same work (tokens per step or
model FLOPs per token differ): their ratios would mean nothing.
"""
import argparse
import datetime
import json
import statistics
import sys

CONTESTANTS = ["torchtrain", "torchtrain_cuda_graphs", "libtorch", "python_loop", "python"]
NAMES = {"torchtrain": "torchtrain Trainer", "torchtrain_cuda_graphs": "torchtrain Trainer<CudaGraphs>",
         "libtorch": "hand-written LibTorch loop", "python": "Python Trainer", "python_loop": "hand-written PyTorch loop"}
# Contestants of some workloads only: CUDA graphs capture the MLP's step of one micro-batch,
# on a GPU (the GPT race accumulates micro-batches, which CudaGraphs refuses).
ONLY_FOR = {"torchtrain_cuda_graphs": ("mlp", "not run: needs CUDA")}
WORKLOADS = ["gpt2", "mlp"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a file of RACE lines as JSON, one a line")
    parser.add_argument("--peak_flops", type=float, default=989e12,
                        help="the device's peak FLOP/s for MFU (989e12: H100 SXM dense bf16)")
    parser.add_argument("--machine", default="", help="the device, as the table's caption says it")
    parser.add_argument("--settings", default="", help="the flags every contestant got, for the caption")
    args = parser.parse_args()
    with open(args.results) as file:
        rows = [json.loads(line) for line in file if line.strip()]

    versions = sorted({f"LibTorch {row['libtorch']}" for row in rows if "libtorch" in row} |
                      {f"PyTorch {row['torch']}" for row in rows if "torch" in row} |
                      {f"transformers {row['transformers']}" for row in rows if "transformers" in row})
    print(f"Race of {datetime.date.today().isoformat()} on {args.machine or 'this machine'}; "
          f"{'; '.join(versions) or 'no versions reported'}; MFU against {args.peak_flops:.4g} FLOP/s")
    if args.settings:
        print(f"Settings: {args.settings}")
    print()
    print("| workload | contestant | optimizer | device | rounds | steps/s (median) | range | tokens/s | MFU "
          "| vs Python Trainer | vs PyTorch loop | vs LibTorch loop |")
    print("|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
    same_work = True
    gains = []
    for workload in WORKLOADS:
        runs = {}
        for row in rows:
            if row["workload"] == workload:
                runs.setdefault(row["contestant"], []).append(row)
        if not runs:
            continue
        work = {(row["tokens_per_step"], row["flops_per_token"]) for found in runs.values() for row in found}
        if len(work) > 1:
            same_work = False
            print(f"race_table.py: the {workload} contestants did different work (tokens per step, FLOPs per token): "
                  f"{sorted(work)}", file=sys.stderr)
        median = {name: statistics.median(row["steps_per_second"] for row in found) for name, found in runs.items()}
        ratio = lambda steps, other: f"{steps / median[other]:.2f}x" if other in median else ""
        for contestant in CONTESTANTS:
            found = runs.get(contestant)
            only_for, why_not = ONLY_FOR.get(contestant, (workload, "not run"))
            if found is None and only_for != workload:
                continue
            if found is None:
                print(f"| {workload} | {NAMES[contestant]} | | | 0 | {why_not} | | | | | | |")
                continue
            row, steps = found[0], median[contestant]
            speeds = [r["steps_per_second"] for r in found]
            tokens = steps * row["tokens_per_step"]
            tokens_text = f"{tokens:.0f}" if row["tokens_per_step"] else ""
            mfu_text = f"{tokens * row['flops_per_token'] / args.peak_flops:.1%}" if row["flops_per_token"] else ""
            print(f"| {workload} | {NAMES[contestant]} | {row['optimizer']} | {row['device']} | {len(found)} | "
                  f"{steps:.2f} | {min(speeds):.2f} to {max(speeds):.2f} | {tokens_text} | {mfu_text} | "
                  f"{ratio(steps, 'python')} | {ratio(steps, 'python_loop')} | {ratio(steps, 'libtorch')} |")
        if "torchtrain_cuda_graphs" in median and "torchtrain" in median:
            gains.append(f"{workload}: Trainer<CudaGraphs> makes {ratio(median['torchtrain_cuda_graphs'], 'torchtrain')} "
                         f"the steps/s of the eager Trainer<>")
    for gain in gains:
        print(f"\nCUDA graphs' gain, {gain}.")
    return 0 if same_work else 1


if __name__ == "__main__":
    sys.exit(main())
