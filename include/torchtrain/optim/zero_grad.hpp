// Clearing gradients between optimizer steps.
#pragma once

#include <torch/optim/optimizer.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// Drops every gradient (PyTorch's `zero_grad(set_to_none=True)`): the next backward
/// writes fresh gradients instead of adding to zeros.
TORCHTRAIN_INLINE void zero_grad_set_to_none(torch::optim::Optimizer& optimizer);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain::optim {

TORCHTRAIN_INLINE void zero_grad_set_to_none(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& parameter : group.params()) parameter.mutable_grad().reset();
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
