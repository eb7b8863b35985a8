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
# Also "headers_only" (torchtrain.hpp included, nothing used), digits_umbrella (digits with
# torchtrain.hpp for the headers it includes by name), the library itself (once per
# build, not per program), and a program recompiled after an edit in a project whose
# programs share a precompiled header of <torch/torch.h> and torchtrain.hpp (CMake's
# target_precompile_headers), beside torch_only with a precompiled <torch/torch.h>.
#
#   benchmarks/compile_time.sh [ROUNDS] [PROGRAM...]
#
# Each row is compiled beside torch_only: in each round torch_only, then the row's compiles,
# and a row's ratio is the median of its rounds' ratios (see race). ROUNDS: default 1; with
# more, times and ratios are medians. PROGRAMs (headers_only, digits, digits_umbrella, ddp,
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

# digits as written includes the parts of torchtrain it uses; this copy includes torchtrain.hpp.
mkdir "$work/digits_umbrella"
cp examples/digits/main.cpp "$work/digits_umbrella/"
sed -e '/^#include <torchtrain\//d' -e 's|^#include <torch/torch.h>$|&\n#include <torchtrain/torchtrain.hpp>|' \
  examples/digits/digits.hpp > "$work/digits_umbrella/digits.hpp"
grep -q '^#include <torchtrain/torchtrain.hpp>$' "$work/digits_umbrella/digits.hpp" ||
  { echo "compile_time.sh: found no '#include <torch/torch.h>' line in examples/digits/digits.hpp" >&2; exit 1; }

programs=("headers_only:$work/headers_only.cpp" "digits:examples/digits/main.cpp"
          "digits_umbrella (digits with torchtrain.hpp):$work/digits_umbrella/main.cpp"
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

# CPU seconds (user + system) of one compile: compile_once FILE FLAGS...
# CPU time, not wall time: on a shared machine, other load stretches wall time far more.
compile_once() {
  local file=$1 TIMEFORMAT='%U %S' cpu
  shift
  cpu=$({ time "$cxx" "${flags[@]}" "$@" -c "$file" -o "$work/out.o" 2> "$work/compiler.log"; } 2>&1) ||
    { cat "$work/compiler.log" >&2; exit 1; }
  awk -v cpu="$cpu" 'BEGIN {split(cpu, t, " "); print t[1] + t[2]}'
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# Each compile beside torch_only: race LEVEL "KEY=FILE FLAGS..." ... compiles, in each of
# $rounds rounds, torch_only and then each entry, all at LEVEL. seconds[KEY] is the median
# time, ratio[KEY] the median over the rounds of the entry's time over that round's
# torch_only time: this machine's speed drifts by a third within an hour, and a ratio of
# compiles a minute apart moves far less than one of compiles ten minutes apart.
declare -A seconds ratio torch_times
race() {
  local level=$1 r entry torch
  shift
  local -A times=() ratios=()
  for ((r = 0; r < rounds; ++r)); do
    torch=$(compile_once "$work/torch_only.cpp" "$level")
    torch_times[$level]+="$torch "
    for entry in "$@"; do
      local key=${entry%%=*} time
      # shellcheck disable=SC2086  # FILE and FLAGS are words
      time=$(compile_once ${entry#*=} "$level")
      times[$key]+="$time "
      ratios[$key]+="$(awk "BEGIN {print $time / $torch}") "
    done
  done
  for entry in "$@"; do
    local key=${entry%%=*}
    # shellcheck disable=SC2086  # lists of numbers
    seconds["$level $key"]=$(median ${times[$key]})
    # shellcheck disable=SC2086
    ratio["$level $key"]=$(median ${ratios[$key]})
  done
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

for level in -O0 -O2; do
  for entry in "${programs[@]}"; do
    race "$level" "header-only ${entry%%:*}=${entry#*:} ${mode_flags[header-only]}" \
                  "compiled ${entry%%:*}=${entry#*:} ${mode_flags[compiled]}"
  done
  race "$level" "library=src/torchtrain.cpp -DTORCHTRAIN_HEADER_ONLY=0" "fmt=src/fmt.cpp"
  seconds["$level library"]=$(awk "BEGIN {print ${seconds["$level library"]} + ${seconds["$level fmt"]}}")
  ratio["$level library"]=$(awk "BEGIN {print ${ratio["$level library"]} + ${ratio["$level fmt"]}}")
  torch_pch=$(precompiled_header "torch$level" '#include <torch/torch.h>' "$level")
  project_pch=$(precompiled_header "project$level" '#include <torch/torch.h>\n#include <torchtrain/torchtrain.hpp>' \
                "$level" -DTORCHTRAIN_HEADER_ONLY=0)
  race "$level" "torch_only pch=$work/torch_only.cpp -include $torch_pch -Winvalid-pch" \
                "digits pch=examples/digits/main.cpp -DTORCHTRAIN_HEADER_ONLY=0 -include $project_pch -Winvalid-pch"
  # shellcheck disable=SC2086  # a list of numbers
  seconds["$level torch_only"]=$(median ${torch_times[$level]})
  ratio["$level torch_only"]=1
done

cell() { awk "BEGIN {printf \"%.1f | %.2f\", ${seconds["$1"]}, ${ratio["$1"]}}"; }
echo "$("$cxx" --version | head -1), LibTorch $(python3 -c 'import torch; print(torch.__version__)'), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), $rounds round(s)"
echo
echo "| program | how | -O0 (s) | x torch only | -O2 (s) | x torch only |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
echo "| torch_only | | $(cell "-O0 torch_only") | $(cell "-O2 torch_only") |"
for entry in "${programs[@]}"; do
  for mode in header-only compiled; do
    echo "| ${entry%%:*} | $mode | $(cell "-O0 $mode ${entry%%:*}") | $(cell "-O2 $mode ${entry%%:*}") |"
  done
done
echo "| libtorchtrain_compiled (once per build) | src/torchtrain.cpp, src/fmt.cpp | $(cell "-O0 library") | $(cell "-O2 library") |"
echo "| torch_only, recompiled | precompiled <torch/torch.h> | $(cell "-O0 torch_only pch") | $(cell "-O2 torch_only pch") |"
echo "| digits, recompiled after an edit | compiled, precompiled <torch/torch.h> + torchtrain.hpp | $(cell "-O0 digits pch") | $(cell "-O2 digits pch") |"
