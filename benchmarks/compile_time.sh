#!/usr/bin/env bash
# Compile time of the programs a user writes with torchtrain, side by side with a file that
# only includes <torch/torch.h> and builds one Linear (what LibTorch alone costs), at -O0 and
# -O2: seconds and the ratio to that file. Each file is compiled to an object as a user's
# project compiles it (no precompiled header, the CMake package's definitions and include
# folders), one at a time; linking is the same for every program and is left out.
# Also "torchtrain.hpp, nothing used": the headers alone, without instantiating the Trainer.
#
#   benchmarks/compile_time.sh [ROUNDS]    (default 1; with more, each time is the median)
#
# Prints a markdown table. Run it on an idle machine: compile time is CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
cxx=${CXX:-g++}
torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The definitions and include folders the torchtrain::torchtrain target gives a user's program.
flags=(-std=c++20 -DBOOST_ALL_NO_LIB -DFMT_HEADER_ONLY=1 -DUSE_C10D_GLOO -DUSE_C10D_NCCL -DUSE_DISTRIBUTED
       -DUSE_RPC -DUSE_TENSORPIPE -Iinclude -Iexamples -isystem "$torch_dir/include"
       -isystem "$torch_dir/include/torch/csrc/api/include")
[ -d /usr/local/cuda/include ] && flags+=(-isystem /usr/local/cuda/include)

cat > "$work/torch_only.cpp" <<'EOF'
#include <torch/torch.h>
int main() {
  torch::nn::Linear layer(4, 2);
  return layer->forward(torch::ones({1, 4})).size(1) == 2 ? 0 : 1;
}
EOF
cat > "$work/headers_only.cpp" <<'EOF'
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>
int main() {
  torch::nn::Linear layer(4, 2);
  return layer->forward(torch::ones({1, 4})).size(1) == 2 ? 0 : 1;
}
EOF

programs=("torch_only:$work/torch_only.cpp" "headers_only:$work/headers_only.cpp"
          "digits:examples/digits/main.cpp" "ddp (Trainer<BF16, DDP, Accum<4>>):examples/ddp/main.cpp"
          "distillation:examples/distillation/main.cpp" "sample_generation (callbacks):examples/sample_generation/main.cpp"
          "gpt:examples/gpt/main.cpp")

# Seconds to compile $2 at optimization $1, the median of $rounds.
compile_seconds() {
  local times=()
  for ((r = 0; r < rounds; ++r)); do
    local start end
    start=$(date +%s.%N)
    "$cxx" "${flags[@]}" "$1" -c "$2" -o "$work/out.o"
    end=$(date +%s.%N)
    times+=("$(awk "BEGIN {print $end - $start}")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

declare -A seconds
for level in -O0 -O2; do
  for entry in "${programs[@]}"; do
    seconds["$level ${entry%%:*}"]=$(compile_seconds "$level" "${entry#*:}")
  done
done

echo "$("$cxx" --version | head -1), LibTorch $(python3 -c 'import torch; print(torch.__version__)'), $(nproc) cores, $(date -u +%Y-%m-%d), $rounds round(s)"
echo
echo "| program | -O0 (s) | x torch only | -O2 (s) | x torch only |"
echo "| --- | ---: | ---: | ---: | ---: |"
for entry in "${programs[@]}"; do
  name=${entry%%:*}
  row="| $name"
  for level in -O0 -O2; do
    value=${seconds["$level $name"]}
    base=${seconds["$level torch_only"]}
    row+=" | $(awk "BEGIN {printf \"%.1f | %.2f\", $value, $value / $base}")"
  done
  echo "$row |"
done
