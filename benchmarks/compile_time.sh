#!/usr/bin/env bash
# Compile time of the programs a user writes with torchtrain, side by side with a file that
# only includes <torch/torch.h> and builds one Linear (what LibTorch alone costs), at -O0 and
# -O2: seconds and the ratio to that file. Each file is compiled to an object as a user's
# project compiles it (the CMake package's definitions and include folders), one at a time;
# linking is the same for every program and is left out. Each program is compiled both ways
# a project can use torchtrain:
#   header-only  torchtrain::torchtrain: every definition in the headers;
#   compiled     torchtrain::compiled (TORCHTRAIN_HEADER_ONLY=0): the code that does not
#                depend on the program's types is in libtorchtrain_compiled, built once.
# Also "headers_only" (torchtrain.hpp included, nothing used), the library itself (once per
# build, not per program), and a program recompiled after an edit in a project whose
# programs share a precompiled header of <torch/torch.h> and torchtrain.hpp (CMake's
# target_precompile_headers), beside torch_only with a precompiled <torch/torch.h>.
#
#   benchmarks/compile_time.sh [ROUNDS] [PROGRAM...]
#
# ROUNDS: default 1; with more, each time is the median. PROGRAMs (headers_only, digits, ddp,
# distillation, sample_generation, gpt): only those rows (default: all of them).
#
# Prints a markdown table. Run it on an idle machine: compile time is CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
wanted=("${@:2}")
cxx=${CXX:-g++}
torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The definitions and include folders the torchtrain targets give a user's program; the
# header-only target adds FMT_HEADER_ONLY, the compiled one TORCHTRAIN_HEADER_ONLY=0 (and
# links fmt's compiled part, src/fmt.cpp).
flags=(-std=c++20 -DBOOST_ALL_NO_LIB -DUSE_C10D_GLOO -DUSE_C10D_NCCL -DUSE_DISTRIBUTED
       -DUSE_RPC -DUSE_TENSORPIPE -Iinclude -Iexamples -isystem "$torch_dir/include"
       -isystem "$torch_dir/include/torch/csrc/api/include")
[ -d /usr/local/cuda/include ] && flags+=(-isystem /usr/local/cuda/include)
declare -A mode_flags=([header-only]="-DFMT_HEADER_ONLY=1" [compiled]="-DTORCHTRAIN_HEADER_ONLY=0")

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

programs=("headers_only:$work/headers_only.cpp" "digits:examples/digits/main.cpp"
          "ddp (Trainer<BF16, DDP, Accum<4>>):examples/ddp/main.cpp"
          "distillation:examples/distillation/main.cpp" "sample_generation (callbacks):examples/sample_generation/main.cpp"
          "gpt:examples/gpt/main.cpp")
if [ ${#wanted[@]} -gt 0 ]; then
  chosen=()
  for entry in "${programs[@]}"; do
    for name in "${wanted[@]}"; do [ "${entry%%[ :]*}" = "$name" ] && chosen+=("$entry"); done
  done
  [ ${#chosen[@]} -gt 0 ] || { echo "compile_time.sh: no program named ${wanted[*]}" >&2; exit 2; }
  programs=("${chosen[@]}")
fi

# CPU seconds (user + system) to compile, the median of $rounds: compile_seconds FILE FLAGS...
# CPU time, not wall time: on a shared machine, other load stretches wall time far more.
compile_seconds() {
  local file=$1 times=()
  shift
  for ((r = 0; r < rounds; ++r)); do
    local TIMEFORMAT='%U %S' cpu
    cpu=$({ time "$cxx" "${flags[@]}" "$@" -c "$file" -o "$work/out.o" 2> "$work/compiler.log"; } 2>&1) ||
      { cat "$work/compiler.log" >&2; exit 1; }
    times+=("$(awk -v cpu="$cpu" 'BEGIN {split(cpu, t, " "); print t[1] + t[2]}')")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

# A precompiled header of $2 (lines of includes) for flags $3..., made once; prints its path.
precompiled_header() {
  local name=$1 includes=$2
  shift 2
  mkdir -p "$work/$name"
  printf '%b\n' "$includes" > "$work/$name/pch.hpp"
  "$cxx" "${flags[@]}" "$@" -x c++-header "$work/$name/pch.hpp" -o "$work/$name/pch.hpp.gch"
  echo "$work/$name/pch.hpp"
}

declare -A seconds
for level in -O0 -O2; do
  seconds["$level torch_only"]=$(compile_seconds "$work/torch_only.cpp" "$level")
  for mode in header-only compiled; do
    for entry in "${programs[@]}"; do
      # shellcheck disable=SC2086  # the mode's flags are words
      seconds["$level $mode ${entry%%:*}"]=$(compile_seconds "${entry#*:}" "$level" ${mode_flags[$mode]})
    done
  done
  library=$(compile_seconds src/torchtrain.cpp "$level" -DTORCHTRAIN_HEADER_ONLY=0)
  seconds["$level library"]=$(awk "BEGIN {print $library + $(compile_seconds src/fmt.cpp "$level")}")
  torch_pch=$(precompiled_header "torch$level" '#include <torch/torch.h>' "$level")
  seconds["$level torch_only pch"]=$(compile_seconds "$work/torch_only.cpp" "$level" -include "$torch_pch" -Winvalid-pch)
  project_pch=$(precompiled_header "project$level" '#include <torch/torch.h>\n#include <torchtrain/torchtrain.hpp>' \
                "$level" -DTORCHTRAIN_HEADER_ONLY=0)
  seconds["$level digits pch"]=$(compile_seconds examples/digits/main.cpp "$level" -DTORCHTRAIN_HEADER_ONLY=0 \
                                 -include "$project_pch" -Winvalid-pch)
done

ratio() { awk "BEGIN {printf \"%.1f | %.2f\", $1, $1 / $2}"; }
echo "$("$cxx" --version | head -1), LibTorch $(python3 -c 'import torch; print(torch.__version__)'), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), $rounds round(s)"
echo
echo "| program | how | -O0 (s) | x torch only | -O2 (s) | x torch only |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
echo "| torch_only | | $(ratio "${seconds[-O0 torch_only]}" "${seconds[-O0 torch_only]}") | $(ratio "${seconds[-O2 torch_only]}" "${seconds[-O2 torch_only]}") |"
for entry in "${programs[@]}"; do
  for mode in header-only compiled; do
    row="| ${entry%%:*} | $mode"
    for level in -O0 -O2; do row+=" | $(ratio "${seconds["$level $mode ${entry%%:*}"]}" "${seconds["$level torch_only"]}")"; done
    echo "$row |"
  done
done
row="| libtorchtrain_compiled (once per build) | src/torchtrain.cpp, src/fmt.cpp"
for level in -O0 -O2; do row+=" | $(ratio "${seconds["$level library"]}" "${seconds["$level torch_only"]}")"; done
echo "$row |"
row="| torch_only, recompiled | precompiled <torch/torch.h>"
for level in -O0 -O2; do row+=" | $(ratio "${seconds["$level torch_only pch"]}" "${seconds["$level torch_only"]}")"; done
echo "$row |"
row="| digits, recompiled after an edit | compiled, precompiled <torch/torch.h> + torchtrain.hpp"
for level in -O0 -O2; do row+=" | $(ratio "${seconds["$level digits pch"]}" "${seconds["$level torch_only"]}")"; done
echo "$row |"
