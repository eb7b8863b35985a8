// The closure of an optimizer step, evaluated as LibTorch's optimizers evaluate it.
#pragma once

#include <torch/optim/optimizer.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// The loss of an optimizer step's closure, computed with gradients on (undefined without one).
TORCHTRAIN_INLINE torch::Tensor evaluate_closure(const torch::optim::Optimizer::LossClosure& closure);

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <c10/core/GradMode.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE torch::Tensor evaluate_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (!closure) return {};
  c10::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
