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
cp -r /usr/include/fmt /usr/include/nlohmann /usr/include/doctest "$deps/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$deps/include/"

# A header-only package for each; `name` is what find_package looks for, `target` the
# imported target torchtrain links, `defines` its compile definitions.
package() {
  local name=$1 target=$2 defines=${3:-}
  mkdir -p "$deps/cmake/$name"
  cat > "$deps/cmake/$name/$name-config.cmake" <<CONFIG
# Written by tools/device/prepare_deps.sh: the headers in .deps/include, nothing to link.
if(NOT TARGET $target)
  add_library($target INTERFACE IMPORTED)
  set_target_properties($target PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "\${CMAKE_CURRENT_LIST_DIR}/../../include"
                                           INTERFACE_COMPILE_DEFINITIONS "$defines")
endif()
set(${name}_FOUND TRUE)
CONFIG
}
package fmt fmt::fmt FMT_HEADER_ONLY
package nlohmann_json nlohmann_json::nlohmann_json
package doctest doctest::doctest
echo "$(du -sh "$deps" | cut -f1) in $deps"
