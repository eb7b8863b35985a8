// Lion (Chen et al., 2023) with the arithmetic of bitsandbytes' 32-bit Lion, the optimizer of the
// Python Trainer's `--optim lion_32bit`.
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

/// Lion's settings, with bitsandbytes' defaults. The Python Trainer (`--optim lion_32bit`) sets
/// beta1 and beta2 from adam_beta1 and adam_beta2 (so 0.9 and 0.999 unless given).
struct LionOptions : torch::optim::OptimizerCloneableOptions<LionOptions> {
  explicit LionOptions(double lr = 1e-4) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;         // mixes momentum and gradient into the direction of the step
  TORCH_ARG(double, beta2) = 0.99;        // decay rate of the momentum kept between steps
  TORCH_ARG(double, weight_decay) = 0.0;  // decoupled: weights shrink by lr * weight_decay each step

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// Lion: moves every weight by exactly lr, in the direction of the sign of a mix of its momentum
/// and its gradient. State per parameter: its step and one float32 tensor of its shape, the
/// momentum, under bitsandbytes' key "state1".
/// Computes in float32 whatever the parameter's type, in the order of bitsandbytes' CPU kernel:
/// weight decay, the signed step, then the momentum.
class Lion : public PerParameterOptimizer<LionOptions> {
 public:
  explicit Lion(std::vector<torch::optim::OptimizerParamGroup> groups, const LionOptions& defaults = LionOptions())
      : PerParameterOptimizer(std::move(groups), defaults) {}

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;
};

/// `--optim lion_32bit` as the Python Trainer builds it: bitsandbytes' Lion with learning_rate,
/// betas (adam_beta1, adam_beta2), weight_decay on all but biases and norm weights. It takes no
/// optim_args (the Python Trainer ignores them; we refuse them, so that a typo is not lost).
/// Throws ArgumentError for a beta outside [0, 1), as bitsandbytes does.
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_lion(const torch::nn::Module& model,
                                                                     const TrainingArguments& args,
                                                                     torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/parameter_groups.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE void Lion::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& settings = options(group);
  auto& state = state_of(parameter);
  if (state.tensors.empty()) state.tensors = fresh_tensors(group, parameter);
  auto& momentum = state.tensors.at("state1");
  state.step += 1;

  auto weights = parameter.to(torch::kFloat);  // the parameter itself when it is float32
  const auto grad = gradient.to(torch::kFloat);
  const double lr = settings.lr();
  if (settings.weight_decay() > 0) weights.mul_(1.0 - lr * settings.weight_decay());
  const auto direction = momentum.mul(settings.beta1()).add(grad, 1.0 - settings.beta1());
  weights.add_(direction.sign(), -lr);
  momentum.mul_(settings.beta2()).add_(grad, 1.0 - settings.beta2());
  if (!weights.is_same(parameter)) parameter.copy_(weights);
}

// Its momentum, in float32.
TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> Lion::state_layout(std::size_t,
                                                                              const torch::Tensor& parameter,
                                                                              const NamedState&) const {
  return std::vector<StateTensor>{{"state1", parameter.sizes().vec(), torch::kFloat}};
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_lion(const torch::nn::Module& model,
                                                                     const TrainingArguments& args,
                                                                     torchtrain::detail::OptimArgs& extra) {
  extra.require_all_taken("lion_32bit");
  for (const auto& [flag, beta] : {std::pair{"adam_beta1", args.adam_beta1}, std::pair{"adam_beta2", args.adam_beta2}})
    if (!(beta >= 0 && beta < 1))
      throw ArgumentError(fmt::format("--{} (a beta of --optim lion_32bit) must be in [0, 1), got {}", flag, beta));
  const auto options = LionOptions(args.learning_rate).beta1(args.adam_beta1).beta2(args.adam_beta2);
  return std::make_unique<Lion>(torchtrain::detail::groups_with_decay(model, options, args.weight_decay), options);
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
