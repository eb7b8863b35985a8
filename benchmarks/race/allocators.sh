#!/usr/bin/env bash
# The race's MLP on the CPU under each memory allocator: glibc's malloc as it comes, glibc's
# malloc told to keep freed memory (GLIBC_TUNABLES), jemalloc and TCMalloc (LD_PRELOAD,
# where installed: Debian's libjemalloc2, libtcmalloc-minimal4). Each round runs every
# allocator once for each contestant; prints each one's median steps/s and the median of
# its per-round ratios to glibc's default.
#
#   benchmarks/race/allocators.sh [build folder (build)] [rounds (5)]
#   environment: OMP_NUM_THREADS (1 by default: on a busy machine two threads make rounds disagree)
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-5}
cores=$(nproc --all)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ -x "$build/benchmarks/race_mlp" ] || { echo "allocators.sh: $build/benchmarks/race_mlp is not built" >&2; exit 2; }
library=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
names=(glibc glibc_keep jemalloc tcmalloc)
declare -A setting=(
  [glibc]=""
  [glibc_keep]="GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"
  [jemalloc]="LD_PRELOAD=$library/libjemalloc.so.2"
  [tcmalloc]="LD_PRELOAD=$library/libtcmalloc_minimal.so.4")
contestants=(torchtrain python_loop)
command_of() {
  case $1 in
    torchtrain) echo "$build/benchmarks/race_mlp --contestant torchtrain" ;;
    python_loop) echo "python3 benchmarks/race/python_trainer.py --workload mlp --contestant loop" ;;
  esac
}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
  for contestant in "${contestants[@]}"; do
    for name in "${names[@]}"; do
      preload=${setting[$name]#LD_PRELOAD=}
      if [[ ${setting[$name]} == LD_PRELOAD=* && ! -e $preload ]]; then continue; fi
      steps=$(env ${setting[$name]} $(command_of "$contestant") 2>/dev/null |
              sed -n 's/^RACE .*"steps_per_second": *\([0-9.]*\).*/\1/p')
      [ -n "$steps" ] && echo "$round $contestant $name $steps" >> "$results"
    done
  done
done
echo "MLP (race_mlp's workload), OMP_NUM_THREADS=$OMP_NUM_THREADS, $rounds rounds, $(date -u +%F) on $cores cores"
echo
echo "| contestant | allocator | steps/s (median) | vs glibc's default, per round (median) |"
echo "|---|---|---:|---:|"
python3 - "$results" <<'PYTHON'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = {}  # in the order the rounds ran them
for round_, contestant, name, steps in rows:
    by.setdefault((contestant, name), {})[round_] = float(steps)
for (contestant, name), runs in by.items():
    base = by.get((contestant, "glibc"), {})
    ratios = [runs[r] / base[r] for r in runs if r in base]
    ratio = f"{statistics.median(ratios):.2f}x" if ratios else ""
    print(f"| {contestant} | {name} | {statistics.median(runs.values()):.0f} | {ratio} |")
PYTHON
