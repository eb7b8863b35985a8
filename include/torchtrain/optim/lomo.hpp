// LOMO (Lv et al., 2023) with the arithmetic of lomo_optim's Lomo: plain SGD done inside backward,
// and the factory of `--optim lomo` and `--optim adalomo`.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>

namespace torchtrain::detail {
class OptimArgs;  // optim/detail/optim_args.hpp
}  // namespace torchtrain::detail

namespace torchtrain::optim {

/// LOMO's settings, with lomo_optim's defaults. The Python Trainer (`--optim lomo`) passes only
/// the learning rate.
struct LomoOptions : torch::optim::OptimizerCloneableOptions<LomoOptions> {
  explicit LomoOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, clip_grad_value) = 0.0;  // clamps each gradient to [-value, value]; 0 or less: off
  TORCH_ARG(double, weight_decay) = 0.0;     // weights shrink by lr * weight_decay; 0 or less: off

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// LOMO: stochastic gradient descent without momentum, meant to run inside backward
/// (update_in_backward()), so that each gradient is used and freed as soon as it exists and
/// the whole set of gradients never does. No state: its memory is the model's alone.
/// Computes in float32 whatever the parameter's type.
class Lomo : public PerParameterOptimizer<LomoOptions> {
 public:
  explicit Lomo(std::vector<torch::optim::OptimizerParamGroup> groups, const LomoOptions& defaults = LomoOptions())
      : PerParameterOptimizer(std::move(groups), defaults) {}

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  // Keeps no tensors.
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;
};

/// `--optim lomo` and `--optim adalomo` as the Python Trainer builds them: lomo_optim's Lomo or
/// AdaLomo over all the trainable parameters, in one group, with learning_rate (which the
/// scheduler sets before each step) and lomo_optim's defaults for everything else. As in the
/// Python Trainer, --weight_decay is not applied: give it as optim_args weight_decay.
/// Returned in update_in_backward() mode: each parameter is updated as soon as backward has
/// accumulated its gradient, and that gradient freed; step() does nothing.
/// optim_args (the Python Trainer reads none; these are the names of lomo_optim's constructors,
/// with their defaults): weight_decay (0), clip_grad_value (0: off); AdaLomo also eps1 (1e-30)
/// and eps2 (1e-3), lomo_optim's `eps` pair, clip_threshold (1) and decay_rate (-0.8).
/// (The Trainer refuses gradient accumulation, --fp16 and several processes with it:
/// Optimization::check_updates_in_backward.)
/// Throws ArgumentError for clip_grad_norm in optim_args (it takes a second backward pass), for a negative
/// weight_decay or clip_grad_value and a clip_threshold that is not positive.
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_lomo(const torch::nn::Module& model,
                                                                     const TrainingArguments& args,
                                                                     torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <optional>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/adalomo.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE void Lomo::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& settings = options(group);
  auto grad = gradient.to(torch::kFloat);  // the gradient itself when it is float32: not changed in place
  if (settings.clip_grad_value() > 0) grad = grad.clamp(-settings.clip_grad_value(), settings.clip_grad_value());
  auto weights = parameter.to(torch::kFloat);  // the parameter itself when it is float32
  const double lr = settings.lr();
  if (settings.weight_decay() > 0) weights.mul_(1.0 - lr * settings.weight_decay());
  weights.add_(grad, -lr);
  if (!weights.is_same(parameter)) parameter.copy_(weights);
}

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> Lomo::state_layout(std::size_t, const torch::Tensor&,
                                                                              const NamedState&) const {
  return std::vector<StateTensor>{};
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_lomo(const torch::nn::Module& model,
                                                                     const TrainingArguments& args,
                                                                     torchtrain::detail::OptimArgs& extra) {
  const bool adaptive = args.optim == OptimizerNames::adalomo;
  const char* name = adaptive ? "adalomo" : "lomo";
  if (extra.take("clip_grad_norm", std::optional<double>{}))
    throw ArgumentError(fmt::format(
        "--optim_args: clip_grad_norm is not supported by --optim {}: lomo_optim computes the norm of all the "
        "gradients in a second backward pass before the one that updates; use clip_grad_value instead",
        name));

  std::vector<torch::Tensor> parameters;
  for (const auto& parameter : model.parameters())
    if (parameter.requires_grad()) parameters.push_back(parameter);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(parameters));

  const auto take_not_negative = [&](const char* setting) {
    const double value = extra.take(setting, 0.0);
    if (!(value >= 0))
      throw ArgumentError(fmt::format("--optim_args: {} of --optim {} must not be negative (0 for none), got {}",
                                      setting, name, value));
    return value;
  };
  const double weight_decay = take_not_negative("weight_decay");
  const double clip_grad_value = take_not_negative("clip_grad_value");
  if (!adaptive) {
    extra.require_all_taken(name);
    auto optimizer = std::make_unique<Lomo>(
        std::move(groups), LomoOptions(args.learning_rate).weight_decay(weight_decay).clip_grad_value(clip_grad_value));
    optimizer->update_in_backward();
    return optimizer;
  }
  const AdaLomoOptions defaults;
  auto options = AdaLomoOptions(args.learning_rate)
                     .weight_decay(weight_decay)
                     .clip_grad_value(clip_grad_value)
                     .eps1(extra.take("eps1", defaults.eps1()))
                     .eps2(extra.take("eps2", defaults.eps2()))
                     .clip_threshold(extra.take("clip_threshold", defaults.clip_threshold()))
                     .decay_rate(extra.take("decay_rate", defaults.decay_rate()));
  extra.require_all_taken(name);
  if (!(options.clip_threshold() > 0))
    throw ArgumentError(fmt::format("--optim_args: clip_threshold of --optim adalomo must be positive, got {}",
                                    options.clip_threshold()));
  auto optimizer = std::make_unique<AdaLomo>(std::move(groups), options);
  optimizer->update_in_backward();
  return optimizer;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
