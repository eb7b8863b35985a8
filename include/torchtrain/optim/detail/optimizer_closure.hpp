// The closure of an optimizer step, evaluated as LibTorch's optimizers evaluate it.
#pragma once

#include <c10/core/GradMode.h>
#include <torch/optim/optimizer.h>

namespace torchtrain::detail {

/// The loss of an optimizer step's closure, computed with gradients on (undefined without one).
inline torch::Tensor evaluate_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (!closure) return {};
  c10::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace torchtrain::detail
