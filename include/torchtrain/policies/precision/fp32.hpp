// FP32: full single precision everywhere, the default precision policy.
#pragma once

#include <string_view>
#include <utility>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Precision policy: forward, backward and optimizer state in float32, no loss scaling.
///
/// Every precision policy offers the hooks the loop calls: `setup(device)` once, when the
/// model is on its device (a policy that cannot work there throws ArgumentError); then per
/// step `autocast(forward)` around forward and loss; `backward(loss)`; `unscale_gradients`
/// before clipping; `optimizer_step`, which returns whether the step was taken (false when
/// a loss scaler skips it). `uses_bf16` and `uses_fp16` must match the `bf16` and `fp16`
/// arguments.
struct FP32 {
  using torchtrain_category = category::precision;
  static constexpr std::string_view name = "FP32";
  static constexpr bool uses_bf16 = false;
  static constexpr bool uses_fp16 = false;

  void setup(torch::Device) {}
  template <class Forward>
  decltype(auto) autocast(Forward&& forward) {
    return std::forward<Forward>(forward)();
  }
  void backward(const at::Tensor& loss) { loss.backward(); }
  void unscale_gradients(torch::optim::Optimizer&) {}
  bool optimizer_step(torch::optim::Optimizer& optimizer) {
    optimizer.step();
    return true;
  }
};

}  // namespace torchtrain
