// AutocastScope: LibTorch's autocast switched on for one device type, for one scope.
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/library.h>

#include <torchtrain/detail/compat.hpp>

namespace torchtrain::detail {

// LibTorch 2.4 made the autocast calls generic over the device type; 1.13 has one set of
// calls for the CPU and one for CUDA.
inline bool autocast_enabled(c10::DeviceType device) {
#if TORCHTRAIN_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}
inline void set_autocast_enabled(c10::DeviceType device, bool enabled) {
#if TORCHTRAIN_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
#else
  device == c10::DeviceType::CPU ? at::autocast::set_cpu_enabled(enabled) : at::autocast::set_enabled(enabled);
#endif
}
inline c10::ScalarType autocast_dtype(c10::DeviceType device) {
#if TORCHTRAIN_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                        : at::autocast::get_autocast_gpu_dtype();
#endif
}
inline void set_autocast_dtype(c10::DeviceType device, c10::ScalarType dtype) {
#if TORCHTRAIN_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(device, dtype);
#else
  device == c10::DeviceType::CPU ? at::autocast::set_autocast_cpu_dtype(dtype)
                                 : at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

/// True where LibTorch can autocast to `dtype` on `device`: 1.13 autocasts the CPU to
/// bfloat16 only; float16 on the CPU came with 2.1.
inline bool autocast_supported(c10::DeviceType device, c10::ScalarType dtype) {
  if (device == c10::DeviceType::CPU && dtype == c10::ScalarType::Half)
    return TORCHTRAIN_TORCH_AT_LEAST(2, 1);
  return device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA;
}

#if !TORCHTRAIN_TORCH_AT_LEAST(2, 0)
// LibTorch 1.13's CPU autocast has no rule for layer_norm, which then fails on a bfloat16
// input with float32 weights. Later versions run it in float32; this kernel does the same.
inline at::Tensor layer_norm_in_float32(const at::Tensor& input, c10::IntArrayRef normalized_shape,
                                        const c10::optional<at::Tensor>& weight,
                                        const c10::optional<at::Tensor>& bias, double eps, bool cudnn_enable) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  auto to_float = [](const c10::optional<at::Tensor>& tensor) {
    return tensor && tensor->defined() ? c10::optional<at::Tensor>(tensor->to(at::kFloat)) : tensor;
  };
  return at::layer_norm(input.to(at::kFloat), normalized_shape, to_float(weight), to_float(bias), eps,
                        cudnn_enable);
}
#endif

/// Registers, once per program, the CPU autocast rules this LibTorch lacks.
inline void complete_cpu_autocast() {
#if !TORCHTRAIN_TORCH_AT_LEAST(2, 0)
  static torch::Library library(torch::Library::IMPL, "aten", c10::DispatchKey::AutocastCPU, __FILE__, __LINE__);
  [[maybe_unused]] static const bool registered =
      (library.impl("layer_norm", TORCH_FN(layer_norm_in_float32)), true);
#endif
}

/// While alive, ops on `device` run under autocast to `dtype`; the previous setting comes
/// back at the end of the scope, and the cast cache is cleared when the outermost scope ends.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype)
      : device_(device), was_enabled_(autocast_enabled(device)), previous_dtype_(autocast_dtype(device)) {
    set_autocast_enabled(device, true);
    set_autocast_dtype(device, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast_enabled(device_, was_enabled_);
    set_autocast_dtype(device_, previous_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool was_enabled_;
  c10::ScalarType previous_dtype_;
};

}  // namespace torchtrain::detail
