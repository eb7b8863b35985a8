// ignore_index: the label value that does not count, shared by losses, collators and metrics.
#pragma once

#include <cstdint>

namespace torchtrain::loss {

/// Labels equal to this do not count (padding, prompt tokens), as in PyTorch and Python.
inline constexpr std::int64_t ignore_index = -100;

}  // namespace torchtrain::loss
