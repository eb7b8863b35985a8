// The one place that hides differences between LibTorch versions (1.13 on Debian 12, 2.x elsewhere).
#pragma once

#include <sstream>
#include <string>
#include <type_traits>
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

/// The key of `parameter` in a torch::optim::Optimizer's state map: its TensorImpl, printed
/// as a string where the map has string keys (1.13), else the pointer itself (newer LibTorch).
template <class StateMap>
typename StateMap::key_type optimizer_state_key(const StateMap&, const at::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  void* impl = parameter.unsafeGetTensorImpl();
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;  // the text c10::guts::to_string gives LibTorch's own keys
    text << impl;
    return text.str();
  } else {
    return static_cast<Key>(impl);
  }
}

}  // namespace torchtrain::detail
