// FP32: full single precision everywhere, the default precision policy.
#pragma once

#include <string_view>
#include <utility>

#include <ATen/core/ivalue.h>
#include <fmt/format.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Precision policy: forward, backward and optimizer state in float32, no loss scaling.
/// The hooks are those of every precision policy (PrecisionPolicy, docs/policies.md).
struct FP32 {
  using torchtrain_category = category::precision;
  static constexpr std::string_view name = "FP32";

  /// --bf16 or --fp16 ask for another policy: an error naming it.
  void configure(TrainingArguments& args) const {
    if (args.bf16) throw ArgumentError("--bf16 is set, but the Trainer's precision policy is FP32; use Trainer<BF16> or drop --bf16");
    if (args.fp16) throw ArgumentError("--fp16 is set, but the Trainer's precision policy is FP32; use Trainer<FP16> or drop --fp16");
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

namespace detail {
// `--flag` set by the precision policy `name`: an error when the other half-precision flag is set.
inline void claim_half_precision_flag(TrainingArguments& args, bool TrainingArguments::*flag,
                                      bool TrainingArguments::*other, std::string_view name,
                                      std::string_view other_name) {
  if (args.*other && !(args.*flag))
    throw ArgumentError(fmt::format("--{} is set, but the Trainer's precision policy is {}; use Trainer<{}> or drop "
                                    "--{}",
                                    other_name, name, other_name == "bf16" ? "BF16" : "FP16", other_name));
  args.*flag = true;
}
}  // namespace detail

}  // namespace torchtrain
