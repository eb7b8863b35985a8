// The one place that hides differences between LibTorch versions (1.13 on Debian 12, 2.x elsewhere).
#pragma once

#include <vector>

#include <ATen/ATen.h>
#include <torch/version.h>

#define TORCHTRAIN_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||               \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace torchtrain::detail {

/// L2 norm of each tensor, in one multi-tensor call.
inline std::vector<at::Tensor> foreach_norm(at::TensorList tensors) {
  return at::_foreach_norm(tensors, 2);
}

/// tensors[i] *= factor, where factor is a 0-dim tensor (kept on the device, no host sync).
inline void foreach_mul_(at::TensorList tensors, const at::Tensor& factor) {
#if TORCHTRAIN_TORCH_AT_LEAST(2, 1)
  at::_foreach_mul_(tensors, factor);
#else
  for (const auto& tensor : tensors) tensor.mul_(factor);  // no Tensor overload before 2.1
#endif
}

}  // namespace torchtrain::detail
