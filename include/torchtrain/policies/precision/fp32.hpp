// FP32: full single precision everywhere, the default precision policy.
#pragma once

#include <string_view>
#include <utility>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

namespace detail {
// The error for `--<flag>` (bf16 or fp16) set with the precision policy `policy`, which
// is not the one the flag asks for (BF16 or FP16).
TORCHTRAIN_INLINE ArgumentError contradicting_precision_flag(std::string_view flag, std::string_view policy);
}  // namespace detail

/// Precision policy: forward, backward and optimizer state in float32, no loss scaling.
/// The hooks are those of every precision policy (PrecisionPolicy, docs/policies.md).
struct FP32 {
  using torchtrain_category = category::precision;
  static constexpr std::string_view name = "FP32";

  /// --bf16 or --fp16 ask for another policy: an error naming it.
  void configure(TrainingArguments& args) const {
    if (args.bf16) throw detail::contradicting_precision_flag("bf16", name);
    if (args.fp16) throw detail::contradicting_precision_flag("fp16", name);
  }
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
  /// Nothing to save: no scaler.pt.
  c10::IValue state_dict() const { return {}; }
  void load_state_dict(const c10::IValue&, std::string_view) {}
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE ArgumentError contradicting_precision_flag(std::string_view flag, std::string_view policy) {
  const std::string_view wanted = flag == "bf16" ? "BF16" : "FP16";
  return ArgumentError(fmt::format("--{} is set, but the Trainer's precision policy is {}; use Trainer<{}> or drop --{}",
                                   flag, policy, wanted, flag));
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
