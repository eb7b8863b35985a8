// FP16: forward and loss under autocast to float16, with dynamic loss scaling.
#pragma once

#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <torch/types.h>
#include <torch/version.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/autocast.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/precision/fp32.hpp>
#include <torchtrain/policies/precision/grad_scaler.hpp>

namespace torchtrain {

/// Precision policy for float16 mixed precision (`--fp16`, Lightning's "16-mixed"), with a
/// GradScaler configured by `options`: `Trainer<FP16Precision<{.growth_interval = 1000}>>`.
/// Gradients are unscaled before clipping (so grad_norm is the true norm); a step with an
/// inf or NaN gradient is skipped, with its scheduler step, and the scale backs off.
template <GradScalerOptions options = GradScalerOptions{}>
struct FP16Precision {
  using torchtrain_category = category::precision;
  static constexpr std::string_view name = "FP16";

  /// Sets --fp16 (Trainer<FP16> needs no flag); --bf16 is an error.
  void configure(TrainingArguments& args) const {
    if (args.bf16 && !args.fp16) throw detail::contradicting_precision_flag("bf16", name);
    args.fp16 = true;
  }

  void setup(torch::Device device) {
    if (!detail::autocast_supported(device.type()))
      throw ArgumentError(fmt::format("--fp16 (the FP16 policy) needs autocast, which LibTorch {} lacks on {}; "
                                      "train on the CPU or CUDA",
                                      TORCH_VERSION, device.str()));
    device_type_ = device.type();
  }

  template <class Forward>
  decltype(auto) autocast(Forward&& forward) {
    detail::AutocastScope scope(device_type_, torch::kHalf);
    return std::forward<Forward>(forward)();
  }
  void backward(const torch::Tensor& loss) { scaler.scale(loss).backward(); }
  void unscale_gradients(torch::optim::Optimizer& optimizer) { scaler.unscale(optimizer); }
  bool optimizer_step(torch::optim::Optimizer& optimizer) {
    const bool stepped = scaler.step(optimizer);
    scaler.update();
    return stepped;
  }
  /// The loss scale and its growth tracker: scaler.pt, as PyTorch's GradScaler saves it.
  c10::IValue state_dict() const { return scaler.state_dict(); }
  void load_state_dict(const c10::IValue& state, std::string_view source) { scaler.load_state_dict(state, source); }

  GradScaler scaler{options};

 private:
  c10::DeviceType device_type_ = c10::DeviceType::CUDA;
};

/// FP16 with PyTorch's GradScaler defaults.
using FP16 = FP16Precision<>;

}  // namespace torchtrain
