// Gradient clipping by global L2 norm, without a host synchronization.
#pragma once

#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// Scales the gradients of `parameters` so that their global L2 norm is at most
/// `max_norm`, with the arithmetic of `torch.nn.utils.clip_grad_norm_`. Returns the norm
/// before clipping as a 0-dim tensor on the gradients' device (undefined when no
/// parameter has a gradient), so the caller decides when to read it.
TORCHTRAIN_INLINE torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <ATen/ATen.h>

namespace torchtrain::optim {

TORCHTRAIN_INLINE torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> gradients;
  gradients.reserve(parameters.size());
  for (const auto& parameter : parameters)
    if (parameter.grad().defined()) gradients.push_back(parameter.grad());
  if (gradients.empty()) return {};
  // Python's very operations, for the same bits: the norm of the stacked norms, and
  // `max_norm / (total_norm + 1e-6)`, which Python computes as reciprocal() * max_norm.
  auto norms = at::_foreach_norm(gradients, 2);
  auto total_norm = at::linalg_vector_norm(torch::stack(norms), 2);
  auto clip_coefficient = torch::clamp((total_norm + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
  at::_foreach_mul_(gradients, clip_coefficient);  // on the device: no host sync
  return total_norm;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
