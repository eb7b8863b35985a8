#!/usr/bin/env python3
"""The race's table: reads the RACE lines (JSON, one per contestant and workload) that
race_gpt2, race_mlp and python_trainer.py print, and prints one Markdown table with
steps/s, tokens/s, model FLOPs utilization and the ratios against the Python Trainer and
against a hand-written PyTorch loop.
Python's standard library only, so that it runs where torch is not installed.

  race_table.py results.jsonl [--peak_flops 989e12] [--machine "NVIDIA H100 80GB HBM3"] [--settings TEXT]

Exits 1 when the contestants of a workload did not do the same work (tokens per step or
model FLOPs per token differ): their ratios would mean nothing.
"""
import argparse
import datetime
import json
import sys

CONTESTANTS = ["torchtrain", "libtorch", "python", "python_loop"]
NAMES = {"torchtrain": "torchtrain Trainer", "libtorch": "hand-written LibTorch loop", "python": "Python Trainer",
         "python_loop": "hand-written PyTorch loop"}
WORKLOADS = ["gpt2", "mlp"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a file of RACE lines as JSON, one a line")
    parser.add_argument("--peak_flops", type=float, default=989e12,
                        help="the device's peak dense bf16 FLOP/s for MFU (989e12: H100 SXM)")
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
    print("| workload | contestant | optimizer | device | steps/s | tokens/s | MFU | vs Python Trainer | vs PyTorch loop |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    same_work = True
    for workload in WORKLOADS:
        found = {row["contestant"]: row for row in rows if row["workload"] == workload}
        if not found:
            continue
        work = {(row["tokens_per_step"], row["flops_per_token"]) for row in found.values()}
        if len(work) > 1:
            same_work = False
            print(f"race_table.py: the {workload} contestants did different work (tokens per step, FLOPs per token): "
                  f"{sorted(work)}", file=sys.stderr)
        python, python_loop = found.get("python"), found.get("python_loop")
        for contestant in CONTESTANTS:
            row = found.get(contestant)
            if row is None:
                if contestant != "python_loop" or workload == "mlp":  # the loop runs the MLP only
                    print(f"| {workload} | {NAMES[contestant]} | | | not run | | | | |")
                continue
            steps = row["steps_per_second"]
            tokens = steps * row["tokens_per_step"]
            mfu = tokens * row["flops_per_token"] / args.peak_flops
            tokens_text = f"{tokens:.0f}" if row["tokens_per_step"] else ""
            mfu_text = f"{mfu:.1%}" if row["flops_per_token"] else ""
            ratio = lambda other: f"{steps / other['steps_per_second']:.2f}x" if other else ""
            print(f"| {workload} | {NAMES[contestant]} | {row['optimizer']} | {row['device']} | {steps:.2f} | "
                  f"{tokens_text} | {mfu_text} | {ratio(python)} | {ratio(python_loop)} |")
    return 0 if same_work else 1


if __name__ == "__main__":
    sys.exit(main())
