#!/usr/bin/env bash
# Run HERE (Debian 12, packages of the README installed): copies the header-only
# dependencies into .deps/ (git-ignored) for the GPU machine, which has no apt and no
# network, with small CMake package files that make them header-only there (fmt with
# FMT_HEADER_ONLY). Then: the device tool's `run` with carry [".deps"] and
# `bash tools/device/run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
deps=.deps
rm -rf "$deps" && mkdir -p "$deps/include/boost" "$deps/cmake"
cp -r /usr/include/boost/hana /usr/include/boost/hana.hpp /usr/include/boost/version.hpp "$deps/include/boost/"
# gloo: LibTorch's c10d Gloo header includes Gloo's headers, which the torch wheel lacks.
cp -r /usr/include/fmt /usr/include/nlohmann /usr/include/doctest /usr/include/gloo "$deps/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$deps/include/"

# A header-only package for each; `name` is what find_package looks for, `defines` the
# compile definitions of its imported targets, and the rest the targets (what torchtrain
# and its tools link).
package() {
  local name=$1 defines=$2; shift 2
  mkdir -p "$deps/cmake/$name"
  echo "# Written by tools/device/prepare_deps.sh: the headers in .deps/include, nothing to link." \
    > "$deps/cmake/$name/$name-config.cmake"
  for target in "$@"; do
    cat >> "$deps/cmake/$name/$name-config.cmake" <<CONFIG
if(NOT TARGET $target)
  add_library($target INTERFACE IMPORTED)
  set_target_properties($target PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "\${CMAKE_CURRENT_LIST_DIR}/../../include"
                                           INTERFACE_COMPILE_DEFINITIONS "$defines")
endif()
CONFIG
  done
  echo "set(${name}_FOUND TRUE)" >> "$deps/cmake/$name/$name-config.cmake"
}
package fmt FMT_HEADER_ONLY fmt::fmt fmt::fmt-header-only
package nlohmann_json "" nlohmann_json::nlohmann_json
package doctest "" doctest::doctest
echo "$(du -sh "$deps" | cut -f1) in $deps"
