// What every test file includes: LibTorch, torchtrain and doctest with prefixed macros only
// (LibTorch's glog headers define CHECK and LOG, which doctest's short names would clash with).
#pragma once

#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#define DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES
#include <doctest/doctest.h>

namespace tt = torchtrain;
