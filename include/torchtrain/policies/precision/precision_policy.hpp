// PrecisionPolicy: what a precision policy owns (number formats, loss scaling and its state), checked where the Trainer is named.
#pragma once

#include <concepts>
#include <string_view>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// A precision policy (see docs/policies.md): it checks and sets the arguments of its
/// number format (`configure`: FP32 refuses --bf16, BF16 sets it), is told the device once
/// (`setup`), runs forward and loss in its format (`autocast`), does backward, unscaling
/// before clipping and the optimizer step (which returns false for a step it skipped), and
/// saves and loads its own state (`state_dict`: None for a policy without state, else what
/// the checkpoint's scaler.pt holds).
template <class P>
concept PrecisionPolicy =
    PolicyOf<P, category::precision> &&
    requires(P& precision, const P& saved, TrainingArguments& args, torch::Device device, const torch::Tensor& loss,
             torch::optim::Optimizer& optimizer, const c10::IValue& state, std::string_view source) {
      { P::name } -> std::convertible_to<std::string_view>;
      precision.configure(args);
      precision.setup(device);
      { precision.autocast([] { return torch::Tensor(); }) } -> std::same_as<torch::Tensor>;
      precision.backward(loss);
      precision.unscale_gradients(optimizer);
      { precision.optimizer_step(optimizer) } -> std::same_as<bool>;
      { saved.state_dict() } -> std::convertible_to<c10::IValue>;
      precision.load_state_dict(state, source);
    };

namespace detail {

// One sentence per member, so that the error names what the user's policy (P in the
// instantiation line above the message) lacks.
template <class P>
constexpr bool check_precision_policy() {
  static_assert(requires { { P::name } -> std::convertible_to<std::string_view>; },
                "torchtrain: this precision policy (P below) has no `static constexpr std::string_view name`");
  static_assert(requires(P& p, TrainingArguments& args) { p.configure(args); },
                "torchtrain: this precision policy (P below) has no `void configure(TrainingArguments&)`, which "
                "checks the arguments and sets bf16/fp16");
  static_assert(requires(P& p, torch::Device device) { p.setup(device); },
                "torchtrain: this precision policy (P below) has no `void setup(torch::Device)`");
  static_assert(requires(P& p) { { p.autocast([] { return torch::Tensor(); }) } -> std::same_as<torch::Tensor>; },
                "torchtrain: this precision policy (P below) has no `decltype(auto) autocast(Forward&&)` that returns "
                "what the forward returns");
  static_assert(requires(P& p, const torch::Tensor& loss) { p.backward(loss); },
                "torchtrain: this precision policy (P below) has no `void backward(const torch::Tensor& loss)`");
  static_assert(requires(P& p, torch::optim::Optimizer& optimizer) { p.unscale_gradients(optimizer); },
                "torchtrain: this precision policy (P below) has no `void unscale_gradients(torch::optim::Optimizer&)`");
  static_assert(requires(P& p, torch::optim::Optimizer& optimizer) {
                  { p.optimizer_step(optimizer) } -> std::same_as<bool>;
                },
                "torchtrain: this precision policy (P below) has no `bool optimizer_step(torch::optim::Optimizer&)`");
  static_assert(requires(const P& p) { { p.state_dict() } -> std::convertible_to<c10::IValue>; },
                "torchtrain: this precision policy (P below) has no `c10::IValue state_dict() const` (None when it "
                "has no state)");
  static_assert(requires(P& p, const c10::IValue& state, std::string_view source) { p.load_state_dict(state, source); },
                "torchtrain: this precision policy (P below) has no `void load_state_dict(const c10::IValue&, "
                "std::string_view source)`");
  return PrecisionPolicy<P>;
}

}  // namespace detail

}  // namespace torchtrain
