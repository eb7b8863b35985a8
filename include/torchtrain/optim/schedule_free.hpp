// Schedule-free AdamW and SGD (Defazio et al., 2024) with the arithmetic of the Python `schedulefree` package.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <optional>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>
#include <torchtrain/optim/train_eval_modes.hpp>

namespace torchtrain::detail {
class OptimArgs;  // optim/detail/optim_args.hpp
}  // namespace torchtrain::detail

namespace torchtrain::optim {

/// ScheduleFreeAdamW's settings, with the defaults of Python's `schedulefree.AdamWScheduleFree`.
struct ScheduleFreeAdamWOptions : torch::optim::OptimizerCloneableOptions<ScheduleFreeAdamWOptions> {
  using betas_t = std::tuple<double, double>;
  explicit ScheduleFreeAdamWOptions(double lr = 0.0025) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);  // beta1 also places the train point
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 0.0;     // an L2 term added to the normalized gradient at y
  TORCH_ARG(double, warmup_steps) = 0.0;     // linear warmup of the learning rate, in steps
  TORCH_ARG(double, r) = 0.0;                // step k's weight in the average grows as k^r
  TORCH_ARG(double, weight_lr_power) = 2.0;  // ... and as (largest learning rate so far)^weight_lr_power

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// ScheduleFreeSGD's settings, with the defaults of Python's `schedulefree.SGDScheduleFree`.
struct ScheduleFreeSGDOptions : torch::optim::OptimizerCloneableOptions<ScheduleFreeSGDOptions> {
  explicit ScheduleFreeSGDOptions(double lr = 1.0) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, momentum) = 0.9;         // in (0, 1): places the train point between z and x
  TORCH_ARG(double, weight_decay) = 0.0;     // an L2 term added to the gradient at y
  TORCH_ARG(double, warmup_steps) = 0.0;
  TORCH_ARG(double, r) = 0.0;
  TORCH_ARG(double, weight_lr_power) = 2.0;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// What ScheduleFreeAdamW and ScheduleFreeSGD share: the schedule-free averaging and the two
/// modes. Each parameter keeps `z` (the base sequence, state "z"); its average x is not
/// stored: the parameter itself holds y = (1 - m) z + m x in train mode (where gradients are
/// taken) and x in eval mode (the weights to evaluate and keep), m being the momentum.
/// Each group keeps, under the Python package's keys and in checkpoints: "k" (its steps),
/// "weight_sum", "lr_max", "scheduled_lr" (the warmed-up rate of the last step) and
/// "train_mode" (1 or 0). A new optimizer is in eval mode, as in Python: call train()
/// before the first step(); step() throws c10::Error in eval mode.
template <class Options>
class ScheduleFree : public PerParameterOptimizer<Options>, public TrainEvalModes {
 public:
  ScheduleFree(std::vector<torch::optim::OptimizerParamGroup> groups, const Options& defaults)
      : PerParameterOptimizer<Options>(std::move(groups), defaults) {
    for (std::size_t g = 0; g < this->param_groups().size(); ++g)
      this->group_values(g) = {{"k", 0.0}, {"weight_sum", 0.0}, {"lr_max", -1.0}, {"scheduled_lr", 0.0},
                               {"train_mode", 0.0}};
    this_step_.resize(this->param_groups().size());
  }

  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    for (std::size_t g = 0; g < this->param_groups().size(); ++g)
      TORCH_CHECK(in_train_mode(g), "a schedule-free optimizer was stepped in eval mode: call its train() before "
                  "each training step (and its eval() before evaluating)");
    return PerParameterOptimizer<Options>::step(std::move(closure));
  }

  /// Moves each parameter from x to y and marks its group as training; nothing when already.
  void train() override {
    torch::NoGradGuard no_grad;
    for (std::size_t g = 0; g < this->param_groups().size(); ++g) {
      if (in_train_mode(g)) continue;
      move_towards_z(g, 1.0 - momentum(g));  // x -> (1 - m) z + m x
      this->group_values(g)["train_mode"] = 1.0;
    }
  }

  /// Moves each parameter from y to x and marks its group as evaluating; nothing when already.
  void eval() override {
    torch::NoGradGuard no_grad;
    for (std::size_t g = 0; g < this->param_groups().size(); ++g) {
      if (!in_train_mode(g)) continue;
      move_towards_z(g, 1.0 - 1.0 / momentum(g));  // y -> (y - (1 - m) z) / m
      this->group_values(g)["train_mode"] = 0.0;
    }
  }

  bool in_train_mode(std::size_t group) { return this->group_values(group)["train_mode"] != 0.0; }

  /// Not for schedule-free: the averaging weight and the warmup are computed once per step
  /// for a whole group (begin_step), which updates inside backward never call.
  void update_in_backward() = delete;

 protected:
  /// The momentum m of `group`'s interpolation y = (1 - m) z + m x.
  virtual double momentum(std::size_t group) = 0;

  /// Numbers of the step under way, the same for every parameter of a group.
  struct StepValues {
    double lr = 0.0;              // the learning rate after warmup
    double average_weight = 0.0;  // the new point's weight in the average x (Python's ckp1)
    double k = 0.0;               // the group's steps before this one
  };
  const StepValues& this_step(std::size_t group) const { return this_step_[group]; }

  void begin_step(std::size_t group) override {
    auto& values = this->group_values(group);
    const auto& options = this->options(group);
    const double k = values["k"];
    const double warmup = k < options.warmup_steps() ? (k + 1) / options.warmup_steps() : 1.0;
    const double lr = options.lr() * warmup;
    values["scheduled_lr"] = lr;
    const double lr_max = values["lr_max"] = std::max(lr, values["lr_max"]);
    const double weight = std::pow(k + 1, options.r()) * std::pow(lr_max, options.weight_lr_power());
    const double weight_sum = values["weight_sum"] += weight;
    // Python catches the division by zero (a zero learning rate so far) and takes 0.
    this_step_[group] = {lr, weight_sum == 0.0 ? 0.0 : weight / weight_sum, k};
    values["k"] = k + 1;
  }

  /// Moves y to its next point from the step direction `direction` (the gradient, normalized
  /// and decayed as the optimizer does): y towards z by the average weight, then along the
  /// direction; z along the direction by the learning rate.
  void move_along(std::size_t group, torch::Tensor& parameter, torch::Tensor& z, const torch::Tensor& direction) {
    const auto& now = this_step(group);
    parameter.lerp_(z, now.average_weight);
    parameter.add_(direction, now.lr * (momentum(group) * (1 - now.average_weight) - 1));
    z.sub_(direction, now.lr);
  }

 private:
  void move_towards_z(std::size_t group, double weight) {
    for (auto& parameter : this->param_groups()[group].params()) {
      auto state = this->state().find(parameter.unsafeGetTensorImpl());  // none before its first step
      if (state == this->state().end()) continue;
      const auto& tensors = static_cast<const NamedState&>(*state->second).tensors;
      auto z = tensors.find("z");
      if (z != tensors.end()) parameter.lerp_(z->second.to(parameter.device()), weight);
    }
  }

  std::vector<StepValues> this_step_;
};

/// Schedule-free AdamW: AdamW's second moment (state "exp_avg_sq") normalizes the gradient,
/// beta1 is the interpolation momentum, and no learning-rate schedule is needed beyond the
/// optimizer's own warmup. State per parameter: z and exp_avg_sq (two parameter copies).
class ScheduleFreeAdamW : public ScheduleFree<ScheduleFreeAdamWOptions> {
 public:
  using ScheduleFree::ScheduleFree;
  ScheduleFreeAdamW(std::vector<torch::Tensor> parameters, const ScheduleFreeAdamWOptions& defaults)
      : ScheduleFree({torch::optim::OptimizerParamGroup(std::move(parameters))}, defaults) {}

 protected:
  double momentum(std::size_t group) override { return std::get<0>(options(group).betas()); }

  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;
};

/// Schedule-free SGD: the plain gradient (plus weight decay) as the step direction, with
/// `momentum` as the interpolation momentum. State per parameter: z (one parameter copy).
class ScheduleFreeSGD : public ScheduleFree<ScheduleFreeSGDOptions> {
 public:
  using ScheduleFree::ScheduleFree;
  ScheduleFreeSGD(std::vector<torch::Tensor> parameters, const ScheduleFreeSGDOptions& defaults)
      : ScheduleFree({torch::optim::OptimizerParamGroup(std::move(parameters))}, defaults) {}

 protected:
  double momentum(std::size_t group) override { return options(group).momentum(); }

  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;
};

/// The optimizer of `--optim schedule_free_adamw` or `schedule_free_sgd`, set up as the
/// Python Trainer sets it up: learning_rate, weight_decay on its decay group (none on biases
/// and norm weights), warmup_steps as the optimizer's own warmup, and optim_args
/// weight_lr_power (2.0) and r (0.0); AdamW also adam_beta1, adam_beta2, adam_epsilon; SGD
/// its package's momentum 0.9. warmup_ratio is not used (Python passes only warmup_steps).
/// Throws ArgumentError, naming the flag, for a warmup_steps that is not a whole number of
/// steps (Python would take a ratio such as 0.1 as a tenth of a step and multiply the first
/// learning rate by ten), a negative learning rate or weight decay, and betas outside
/// 0 < beta1 < 1, 0 <= beta2 < 1 or a negative epsilon (eval() divides by beta1).
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_schedule_free(const torch::nn::Module& model,
                                                                              const TrainingArguments& args,
                                                                              torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/parameter_groups.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE void ScheduleFreeAdamW::update(std::size_t group, torch::Tensor& parameter,
                                                 const torch::Tensor& gradient) {
  const auto& settings = options(group);
  const auto [beta1, beta2] = settings.betas();
  auto& state = state_of(parameter).tensors;
  if (!state.contains("z")) {  // y as the first z, as in Python
    state["z"] = parameter.clone();
    state["exp_avg_sq"] = torch::zeros_like(parameter);
  }
  auto& z = state.at("z");
  auto& exp_avg_sq = state.at("exp_avg_sq");

  exp_avg_sq.mul_(beta2).addcmul_(gradient, gradient, 1 - beta2);
  const double bias_correction2 = 1 - std::pow(beta2, this_step(group).k + 1);
  auto direction = exp_avg_sq.div(bias_correction2).sqrt_().add_(settings.eps());
  torch::div_out(direction, gradient, direction);  // the normalized gradient, in the denominator's memory
  if (settings.weight_decay() != 0) direction.add_(parameter, settings.weight_decay());
  move_along(group, parameter, z, direction);
}

TORCHTRAIN_INLINE void ScheduleFreeSGD::update(std::size_t group, torch::Tensor& parameter,
                                               const torch::Tensor& gradient) {
  const double weight_decay = options(group).weight_decay();
  auto& state = state_of(parameter).tensors;
  if (!state.contains("z")) state["z"] = parameter.clone();  // y as the first z, as in Python
  auto& z = state.at("z");
  move_along(group, parameter, z, weight_decay != 0 ? gradient.add(parameter, weight_decay) : gradient);
}

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> ScheduleFreeAdamW::state_layout(
    std::size_t, const torch::Tensor& parameter, const NamedState&) const {
  return std::vector<StateTensor>{{"z", parameter.sizes().vec(), parameter.scalar_type()},
                                  {"exp_avg_sq", parameter.sizes().vec(), parameter.scalar_type()}};
}

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> ScheduleFreeSGD::state_layout(
    std::size_t, const torch::Tensor& parameter, const NamedState&) const {
  return std::vector<StateTensor>{{"z", parameter.sizes().vec(), parameter.scalar_type()}};
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_schedule_free(const torch::nn::Module& model,
                                                                              const TrainingArguments& args,
                                                                              torchtrain::detail::OptimArgs& extra) {
  const double weight_lr_power = extra.take("weight_lr_power", 2.0);
  const double r = extra.take("r", 0.0);
  const bool adamw = args.optim == OptimizerNames::schedule_free_adamw;
  if (!adamw && args.optim != OptimizerNames::schedule_free_sgd)
    throw ArgumentError("--optim: make_schedule_free makes schedule_free_adamw and schedule_free_sgd only");
  extra.require_all_taken(adamw ? "schedule_free_adamw" : "schedule_free_sgd");

  if (!(args.warmup_steps >= 0 && args.warmup_steps == std::floor(args.warmup_steps)))
    throw ArgumentError(fmt::format(
        "--warmup_steps must be a whole number of steps with --optim {} (its warmup is the optimizer's own, "
        "counted in steps, not a ratio of the total), got {}",
        adamw ? "schedule_free_adamw" : "schedule_free_sgd", args.warmup_steps));
  if (!(args.learning_rate >= 0))
    throw ArgumentError(fmt::format("--learning_rate must not be negative, got {}", args.learning_rate));
  if (!(args.weight_decay >= 0))
    throw ArgumentError(fmt::format("--weight_decay must not be negative (0 for none), got {}", args.weight_decay));

  if (adamw) {
    if (!(args.adam_beta1 > 0 && args.adam_beta1 < 1))
      throw ArgumentError(fmt::format("--adam_beta1 must be in (0, 1) with --optim schedule_free_adamw (the "
                                      "default is 0.9), got {}", args.adam_beta1));
    if (!(args.adam_beta2 >= 0 && args.adam_beta2 < 1))
      throw ArgumentError(fmt::format("--adam_beta2 must be in [0, 1) (the default is 0.999), got {}", args.adam_beta2));
    if (!(args.adam_epsilon >= 0))
      throw ArgumentError(fmt::format("--adam_epsilon must not be negative (the default is 1e-08), got {}",
                                      args.adam_epsilon));
    auto options = ScheduleFreeAdamWOptions(args.learning_rate)
                       .betas({args.adam_beta1, args.adam_beta2})
                       .eps(args.adam_epsilon)
                       .warmup_steps(args.warmup_steps)
                       .r(r)
                       .weight_lr_power(weight_lr_power);
    return std::make_unique<ScheduleFreeAdamW>(torchtrain::detail::groups_with_decay(model, options, args.weight_decay),
                                               options);
  }
  auto options = ScheduleFreeSGDOptions(args.learning_rate)
                     .warmup_steps(args.warmup_steps)
                     .r(r)
                     .weight_lr_power(weight_lr_power);
  return std::make_unique<ScheduleFreeSGD>(torchtrain::detail::groups_with_decay(model, options, args.weight_decay),
                                           options);
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
