// AdaLomo (Lv et al., 2023) with the arithmetic of lomo_optim's AdaLomo: LOMO's update inside backward
// with Adafactor's factored second moments and a learning rate scaled by each parameter's size.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>

namespace torchtrain::optim {

/// AdaLomo's settings, with lomo_optim's defaults. The Python Trainer (`--optim adalomo`) passes
/// only the learning rate.
struct AdaLomoOptions : torch::optim::OptimizerCloneableOptions<AdaLomoOptions> {
  explicit AdaLomoOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, eps1) = 1e-30;           // regularizes the squared gradient (lomo_optim's eps[0])
  TORCH_ARG(double, eps2) = 1e-3;            // floor of the parameter's scale that multiplies lr (eps[1])
  TORCH_ARG(double, clip_threshold) = 1.0;   // of the update's root mean square
  TORCH_ARG(double, decay_rate) = -0.8;      // beta2 at step t is 1 - t^decay_rate
  TORCH_ARG(double, clip_grad_value) = 0.0;  // clamps each gradient to [-value, value]; 0 or less: off
  TORCH_ARG(double, weight_decay) = 0.0;     // 0 or less: off

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// AdaLomo: each parameter moves by lr * max(eps2, rms(parameter)) times its gradient divided by
/// the root of a running mean of squared gradients, that quotient clipped to a root mean square
/// of clip_threshold. For a matrix the running mean is kept as a row and a column vector, as in
/// Adafactor, so the state is rows + columns numbers, not rows x columns.
/// State per parameter, float32, under lomo_optim's names: "exp_avg_sq_row" (the shape without
/// its last dimension) and "exp_avg_sq_col" (without the one before) for a parameter of two or
/// more dimensions, "exp_avg_sq" (its shape) otherwise. lomo_optim keeps them in dictionaries on
/// the optimizer by parameter name (`optimizer.exp_avg_sq_row[name]`), not in `optimizer.state`;
/// it handles only one and two dimensions, of which this is the natural extension.
/// beta2 follows the number of backward passes, lomo_optim's `step_num`: one optimizer-wide
/// count, kept under "step_num" with each group's numbers, so that a parameter that got no
/// gradient for a while (an unused expert) decays as in lomo_optim. It counts one per backward
/// pass in update_in_backward() mode, one per step() otherwise.
/// Computes in float32 whatever the parameter's type, and never waits for the device inside
/// backward (the scaled learning rate stays a tensor).
class AdaLomo : public PerParameterOptimizer<AdaLomoOptions> {
 public:
  explicit AdaLomo(std::vector<torch::optim::OptimizerParamGroup> groups,
                   const AdaLomoOptions& defaults = AdaLomoOptions())
      : PerParameterOptimizer(std::move(groups), defaults) {}

  torch::Tensor step(LossClosure closure = nullptr) override;

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;

 private:
  // One more step of the beta2 schedule, in every group.
  void count_step();

  // Counts a backward pass at the first update inside it (called with mutex_ held); the engine's
  // callback at the end of that pass readies the count for the next one.
  void count_backward_pass();

  std::mutex mutex_;
  bool counted_this_pass_ = false;
};

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <memory>

#include <torch/csrc/autograd/engine.h>

#include <torchtrain/optim/adafactor.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE torch::Tensor AdaLomo::step(LossClosure closure) {
  {
    const std::lock_guard lock(mutex_);
    if (!updates_in_backward())
      count_step();
    else  // after a backward pass, also one that failed and so ran no callback (count_backward_pass)
      counted_this_pass_ = false;
  }
  return PerParameterOptimizer::step(std::move(closure));
}

TORCHTRAIN_INLINE void AdaLomo::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& settings = options(group);
  NamedState* found = nullptr;
  double step = 0;
  {
    // Inside backward, parameters on different devices are updated on different threads.
    const std::lock_guard lock(mutex_);
    if (updates_in_backward()) count_backward_pass();
    found = &state_of(parameter);
    step = group_values(group)["step_num"];
  }
  auto& state = *found;
  const bool factored = parameter.dim() >= 2;
  if (state.tensors.empty()) state.tensors = fresh_tensors(group, parameter);
  state.step += 1;

  auto grad = gradient.to(torch::kFloat);  // the gradient itself when it is float32: not changed in place
  if (settings.clip_grad_value() > 0) grad = grad.clamp(-settings.clip_grad_value(), settings.clip_grad_value());
  const double beta2 = 1.0 - std::pow(step, settings.decay_rate());
  const auto squared = grad.pow(2).add_(settings.eps1());
  torch::Tensor change;
  if (factored) {
    auto& row = state.tensors.at("exp_avg_sq_row");
    auto& column = state.tensors.at("exp_avg_sq_col");
    row.mul_(beta2).add_(squared.mean(-1), 1.0 - beta2);
    column.mul_(beta2).add_(squared.mean(-2), 1.0 - beta2);
    auto row_factor = (row / row.mean(-1, /*keepdim=*/true)).rsqrt_().unsqueeze(-1);
    change = row_factor.mul(column.unsqueeze(-2).rsqrt()).mul_(grad);
  } else {
    auto& second_moment = state.tensors.at("exp_avg_sq");
    second_moment.mul_(beta2).add_(squared, 1.0 - beta2);
    change = second_moment.rsqrt().mul_(grad);
  }
  change.div_((detail::adafactor_rms(change) / settings.clip_threshold()).clamp_(1.0));

  auto weights = parameter.to(torch::kFloat);  // the parameter itself when it is float32
  const auto lr = detail::adafactor_rms(weights).clamp_min_(settings.eps2()).mul_(settings.lr());
  if (settings.weight_decay() > 0) weights.mul_(1.0 - lr * settings.weight_decay());
  // On the CPU the rate is read as a number, as lomo_optim does (add_'s alpha), which makes the
  // update the reference's to the bit; on a device it stays a tensor, so backward never waits.
  if (weights.is_cpu())
    weights.add_(change, -lr.item<double>());
  else
    weights.sub_(change.mul_(lr));
  if (!weights.is_same(parameter)) parameter.copy_(weights);
}

// Its second moment, in float32: factored for a parameter of two dimensions or more.
TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> AdaLomo::state_layout(std::size_t,
                                                                                 const torch::Tensor& parameter,
                                                                                 const NamedState&) const {
  if (parameter.dim() < 2) return std::vector<StateTensor>{{"exp_avg_sq", parameter.sizes().vec(), torch::kFloat}};
  auto [rows, columns] = detail::factored_moment_shapes(parameter.sizes());
  return std::vector<StateTensor>{{"exp_avg_sq_row", std::move(rows), torch::kFloat},
                                  {"exp_avg_sq_col", std::move(columns), torch::kFloat}};
}

TORCHTRAIN_INLINE void AdaLomo::count_step() {
  for (std::size_t g = 0; g < param_groups_.size(); ++g) group_values(g)["step_num"] += 1;
}

TORCHTRAIN_INLINE void AdaLomo::count_backward_pass() {
  if (counted_this_pass_) return;
  counted_this_pass_ = true;
  count_step();
  torch::autograd::Engine::get_default_engine().queue_callback([this] {
    const std::lock_guard end_lock(mutex_);
    counted_this_pass_ = false;
  });
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
