// AdEMAMix (Pagliardini et al., 2024) with the arithmetic of bitsandbytes' 32-bit AdEMAMix, the
// optimizer of the Python Trainer's `--optim ademamix`.
#pragma once

#include <cstddef>
#include <cstdint>
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

/// AdEMAMix's settings, with bitsandbytes' defaults. The Python Trainer (`--optim ademamix`)
/// reads beta1, beta2, beta3, alpha, eps, t_alpha and t_beta3 from optim_args, beta1, beta2 and
/// eps falling back to adam_beta1, adam_beta2 and adam_epsilon.
struct AdEMAMixOptions : torch::optim::OptimizerCloneableOptions<AdEMAMixOptions> {
  explicit AdEMAMixOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;          // decay rate of the fast moving average of the gradient
  TORCH_ARG(double, beta2) = 0.999;        // decay rate of the moving average of the squared gradient
  TORCH_ARG(double, beta3) = 0.9999;       // decay rate of the slow moving average of the gradient
  TORCH_ARG(double, alpha) = 5.0;          // weight of the slow average in the step
  TORCH_ARG(double, eps) = 1e-8;           // added to the root of the squared-gradient average
  TORCH_ARG(double, weight_decay) = 1e-2;  // decoupled; bitsandbytes' default (the Trainer sets it per group)
  TORCH_ARG(std::int64_t, t_alpha) = 0;    // steps over which alpha warms up linearly from 0; 0: none
  TORCH_ARG(std::int64_t, t_beta3) = 0;    // steps over which beta3 warms up from beta1; 0: none

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// AdEMAMix: Adam whose step mixes two moving averages of the gradient, a fast one (beta1, bias
/// corrected) and a slow one (beta3, weighted by alpha), over the root of the average squared
/// gradient. State per parameter, under bitsandbytes' keys: its step; "state1", float32 of shape
/// [2, *parameter], the fast average then the slow one; "state2", float32 of the parameter's
/// shape, the squared-gradient average. Three float32 copies of every parameter in all.
/// Computes in float32 whatever the parameter's type, in the order of bitsandbytes' CPU kernel:
/// the averages, weight decay, then the step. alpha and beta3 follow the schedules of
/// bitsandbytes (and the paper) by each parameter's step when t_alpha or t_beta3 is set.
class AdEMAMix : public PerParameterOptimizer<AdEMAMixOptions> {
 public:
  explicit AdEMAMix(std::vector<torch::optim::OptimizerParamGroup> groups,
                    const AdEMAMixOptions& defaults = AdEMAMixOptions())
      : PerParameterOptimizer(std::move(groups), defaults) {}

  /// alpha at `step`: rises linearly from 0 to alpha over t_alpha steps (constant when t_alpha is 0).
  static double alpha_at(const AdEMAMixOptions& settings, double step);

  /// beta3 at `step`: rises from beta1 to beta3 over t_beta3 steps so that the slow average's
  /// half-life grows linearly (constant when t_beta3 is 0).
  static double beta3_at(const AdEMAMixOptions& settings, double step);

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;
};

/// `--optim ademamix` as the Python Trainer builds it: bitsandbytes' 32-bit AdEMAMix with
/// learning_rate, weight_decay on all but biases and norm weights, and optim_args beta1
/// (adam_beta1), beta2 (adam_beta2), beta3 (0.9999), alpha (5.0), eps (adam_epsilon), t_alpha
/// and t_beta3 (unset; 0 is unset too, as in bitsandbytes).
/// Throws ArgumentError for a beta outside [0, 1) or a negative eps (bitsandbytes refuses them),
/// for t_beta3 with beta1 or beta3 at 0 (Python fails at the first step: the schedule takes their
/// logarithms), and for a negative t_alpha or t_beta3 or a non-finite alpha (Python runs on
/// with a negative or undefined alpha).
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_ademamix(const torch::nn::Module& model,
                                                                         const TrainingArguments& args,
                                                                         torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/parameter_groups.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE double AdEMAMix::alpha_at(const AdEMAMixOptions& settings, double step) {
  if (settings.t_alpha() <= 0) return settings.alpha();
  return std::min(step * settings.alpha() / static_cast<double>(settings.t_alpha()), settings.alpha());
}

TORCHTRAIN_INLINE double AdEMAMix::beta3_at(const AdEMAMixOptions& settings, double step) {
  if (settings.t_beta3() <= 0) return settings.beta3();
  const double log_beta1 = std::log(settings.beta1()), log_beta3 = std::log(settings.beta3());
  const double scale = step / static_cast<double>(settings.t_beta3());
  return std::min(std::exp((log_beta1 * log_beta3) / (((1 - scale) * log_beta3) + (scale * log_beta1))),
                  settings.beta3());
}

TORCHTRAIN_INLINE void AdEMAMix::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& settings = options(group);
  auto& state = state_of(parameter);
  if (state.tensors.empty()) state.tensors = fresh_tensors(group, parameter);
  auto& averages = state.tensors.at("state1");
  auto& squared_average = state.tensors.at("state2");
  state.step += 1;
  const double step = static_cast<double>(state.step);
  const double beta1 = settings.beta1(), beta2 = settings.beta2(), beta3 = beta3_at(settings, step);
  const double alpha = alpha_at(settings, step), lr = settings.lr();

  auto weights = parameter.to(torch::kFloat);  // the parameter itself when it is float32
  const auto grad = gradient.to(torch::kFloat);
  auto fast = averages[0], slow = averages[1];
  fast.mul_(beta1).add_(grad, 1.0 - beta1);
  slow.mul_(beta3).add_(grad, 1.0 - beta3);
  squared_average.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);

  const double correction1 = 1.0 - std::pow(beta1, step);
  const double correction2 = std::sqrt(1.0 - std::pow(beta2, step));
  if (settings.weight_decay() > 0) weights.mul_(1.0 - lr * settings.weight_decay());
  const auto mixed = fast / correction1 + alpha * slow;
  const auto scale = squared_average.sqrt() / correction2 + settings.eps();
  weights.add_(mixed / scale, -lr);
  if (!weights.is_same(parameter)) parameter.copy_(weights);
}

// Its fast and slow averages, stacked, and its second moment, in float32.
TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> AdEMAMix::state_layout(std::size_t,
                                                                                  const torch::Tensor& parameter,
                                                                                  const NamedState&) const {
  auto averages = parameter.sizes().vec();
  averages.insert(averages.begin(), 2);
  return std::vector<StateTensor>{{"state1", averages, torch::kFloat}, {"state2", parameter.sizes().vec(), torch::kFloat}};
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_ademamix(const torch::nn::Module& model,
                                                                         const TrainingArguments& args,
                                                                         torchtrain::detail::OptimArgs& extra) {
  const auto options = AdEMAMixOptions(args.learning_rate)
                           .beta1(extra.take("beta1", args.adam_beta1))
                           .beta2(extra.take("beta2", args.adam_beta2))
                           .beta3(extra.take("beta3", 0.9999))
                           .alpha(extra.take("alpha", 5.0))
                           .eps(extra.take("eps", args.adam_epsilon))
                           .t_alpha(extra.take<std::int64_t>("t_alpha", 0))
                           .t_beta3(extra.take<std::int64_t>("t_beta3", 0));
  extra.require_all_taken("ademamix");

  for (const auto& [name, beta] : {std::pair{"beta1 (by default --adam_beta1)", options.beta1()},
                                   std::pair{"beta2 (by default --adam_beta2)", options.beta2()},
                                   std::pair{"beta3", options.beta3()}})
    if (!(beta >= 0 && beta < 1))
      throw ArgumentError(fmt::format("--optim_args {} must be in [0, 1) for --optim ademamix, got {}", name, beta));
  if (!(options.eps() >= 0 && std::isfinite(options.eps())))
    throw ArgumentError(fmt::format(
        "--optim_args eps (by default --adam_epsilon) must be a finite number >= 0 for --optim ademamix, got {}",
        options.eps()));
  if (!std::isfinite(options.alpha()))
    throw ArgumentError(fmt::format("--optim_args alpha must be a finite number for --optim ademamix, got {}",
                                    options.alpha()));
  for (const auto& [name, steps] : {std::pair{"t_alpha", options.t_alpha()}, std::pair{"t_beta3", options.t_beta3()}})
    if (steps < 0)
      throw ArgumentError(fmt::format(
          "--optim_args {} must be a number of steps (0 or left out for no schedule) for --optim ademamix, got {}",
          name, steps));
  if (options.t_beta3() > 0 && (options.beta1() == 0 || options.beta3() == 0))
    throw ArgumentError(fmt::format(
        "--optim_args t_beta3 needs beta1 and beta3 above 0 for --optim ademamix (its schedule works on their "
        "logarithms), got beta1 {} and beta3 {}", options.beta1(), options.beta3()));
  return std::make_unique<AdEMAMix>(torchtrain::detail::groups_with_decay(model, options, args.weight_decay), options);
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
