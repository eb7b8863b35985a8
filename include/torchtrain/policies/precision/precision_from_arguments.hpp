// PrecisionFromArguments: FP32, BF16 or FP16 as --bf16 / --fp16 say, in one step loop.
#pragma once

#include <string_view>
#include <utility>
#include <variant>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/precision/bf16.hpp>
#include <torchtrain/policies/precision/fp16.hpp>
#include <torchtrain/policies/precision/fp32.hpp>

namespace torchtrain {

/// Precision policy that takes the number format from the arguments, as the Python Trainer
/// does: with --bf16 it runs BF16's hooks, with --fp16 FP16's (its GradScaler and
/// scaler.pt), with neither FP32's. The choice is made once, in `configure`; each hook then
/// branches on it. A program that lets its users choose thus compiles one step loop, where
/// `with_precision` compiles a static one for each of the three (three times the code).
struct PrecisionFromArguments {
  using torchtrain_category = category::precision;
  static constexpr std::string_view name = "PrecisionFromArguments";

  /// Picks the policy the flags name. Both flags set is refused by the arguments' checks.
  void configure(TrainingArguments& args) {
    if (args.bf16)
      chosen_.emplace<BF16>();
    else if (args.fp16)
      chosen_.emplace<FP16>();
    else
      chosen_.emplace<FP32>();
  }
  void setup(torch::Device device) {
    std::visit([&](auto& policy) { policy.setup(device); }, chosen_);
  }
  template <class Forward>
  decltype(auto) autocast(Forward&& forward) {
    return std::visit([&](auto& policy) -> decltype(auto) { return policy.autocast(forward); }, chosen_);
  }
  void backward(const torch::Tensor& loss) {
    std::visit([&](auto& policy) { policy.backward(loss); }, chosen_);
  }
  void unscale_gradients(torch::optim::Optimizer& optimizer) {
    std::visit([&](auto& policy) { policy.unscale_gradients(optimizer); }, chosen_);
  }
  bool optimizer_step(torch::optim::Optimizer& optimizer) {
    return std::visit([&](auto& policy) { return policy.optimizer_step(optimizer); }, chosen_);
  }
  /// FP16's scaler state (scaler.pt); None for the others.
  c10::IValue state_dict() const {
    return std::visit([](const auto& policy) { return policy.state_dict(); }, chosen_);
  }
  void load_state_dict(const c10::IValue& state, std::string_view source) {
    std::visit([&](auto& policy) { policy.load_state_dict(state, source); }, chosen_);
  }

 private:
  std::variant<FP32, BF16, FP16> chosen_;
};

}  // namespace torchtrain
