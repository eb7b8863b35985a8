// Adafactor (Shazeer and Stern, 2018) with the arithmetic of the Python transformers implementation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// Adafactor's settings, with the Python defaults. The Python Trainer (`--optim adafactor`)
/// uses scale_parameter = false and relative_step = false with its learning_rate.
struct AdafactorOptions : torch::optim::OptimizerCloneableOptions<AdafactorOptions> {
  explicit AdafactorOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, eps1) = 1e-30;           // regularizes the squared gradient
  TORCH_ARG(double, eps2) = 1e-3;            // floor of the parameter scale
  TORCH_ARG(double, clip_threshold) = 1.0;   // of the update's root mean square
  TORCH_ARG(double, decay_rate) = -0.8;      // beta2 at step t is 1 - t^decay_rate
  TORCH_ARG(std::optional<double>, beta1);   // first moment, off by default
  TORCH_ARG(double, weight_decay) = 0.0;
  TORCH_ARG(bool, scale_parameter) = true;
  TORCH_ARG(bool, relative_step) = true;
  TORCH_ARG(bool, warmup_init) = false;

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }

  void serialize(torch::serialize::OutputArchive& archive) const override;
  void serialize(torch::serialize::InputArchive& archive) override;

 private:
  // Every setting but beta1 (which may be unset), under its name in an archive.
  template <class Self, class Visit>
  static void visit_settings(Self& self, Visit visit) {
    visit("lr", self.lr());
    visit("eps1", self.eps1());
    visit("eps2", self.eps2());
    visit("clip_threshold", self.clip_threshold());
    visit("decay_rate", self.decay_rate());
    visit("weight_decay", self.weight_decay());
    visit("scale_parameter", self.scale_parameter());
    visit("relative_step", self.relative_step());
    visit("warmup_init", self.warmup_init());
  }
};

/// Per-parameter state: the step, factored (row and column) or full second moments, and
/// the first moment when beta1 is set.
struct AdafactorParamState : torch::optim::OptimizerCloneableParamState<AdafactorParamState> {
  std::int64_t step = 0;
  torch::Tensor exp_avg_sq_row, exp_avg_sq_col, exp_avg_sq, exp_avg;

  void serialize(torch::serialize::OutputArchive& archive) const override;
  void serialize(torch::serialize::InputArchive& archive) override;

 private:
  template <class Self, class Visit>
  static void visit_moments(Self& self, Visit visit) {
    visit("exp_avg_sq_row", self.exp_avg_sq_row);
    visit("exp_avg_sq_col", self.exp_avg_sq_col);
    visit("exp_avg_sq", self.exp_avg_sq);
    visit("exp_avg", self.exp_avg);
  }
};

/// Adafactor: second moments of matrices kept as a row and a column vector (memory grows
/// with rows + columns, not rows x columns), updates clipped by their root mean square.
class Adafactor : public torch::optim::Optimizer {
 public:
  Adafactor(std::vector<torch::optim::OptimizerParamGroup> groups, AdafactorOptions defaults = AdafactorOptions());
  Adafactor(std::vector<torch::Tensor> parameters, AdafactorOptions defaults = AdafactorOptions())
      : Adafactor({torch::optim::OptimizerParamGroup(std::move(parameters))}, defaults) {}

  torch::Tensor step(LossClosure closure = nullptr) override;

  /// Writes each parameter's state and each group's options, in LibTorch's layout.
  void save(torch::serialize::OutputArchive& archive) const override;
  /// Reads what save() wrote for the same parameter groups, in the same order.
  void load(torch::serialize::InputArchive& archive) override;

 private:
  void update(torch::Tensor& parameter, const AdafactorOptions& options);
};

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <torch/optim/serialize.h>

#include <torchtrain/optim/detail/optimizer_closure.hpp>
#include <torchtrain/optim/resumable.hpp>

namespace torchtrain::optim {

namespace detail {

// The root mean square of a tensor's elements, as a 0-dim tensor.
inline torch::Tensor adafactor_rms(const torch::Tensor& tensor) {
  return tensor.norm(2) / std::sqrt(static_cast<double>(tensor.numel()));
}

// The shapes of Adafactor's factored second moment for a gradient of `sizes` (two dimensions
// or more): the mean square of its rows (the last dimension averaged away) and of its columns
// (the second to last).
inline std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> factored_moment_shapes(
    torch::IntArrayRef sizes) {
  std::vector<std::int64_t> rows(sizes.begin(), sizes.end() - 1), columns = sizes.vec();
  columns.erase(columns.end() - 2);
  return {std::move(rows), std::move(columns)};
}

// Adafactor's learning rate at `step` (counted from 1): the relative step or `lr`, times
// the parameter's root mean square (at least eps2) when scale_parameter is on.
inline double adafactor_learning_rate(const AdafactorOptions& options, double step, const torch::Tensor& parameter) {
  double lr = options.lr();
  if (options.relative_step())
    lr = std::min(options.warmup_init() ? 1e-6 * step : 1e-2, 1.0 / std::sqrt(step));
  if (options.scale_parameter()) lr *= std::max(options.eps2(), adafactor_rms(parameter).item<double>());
  return lr;
}

// What one Adafactor step subtracts from a parameter (weight decay aside), from the float
// gradient `grad`; updates the moments in place: `row` and `column` when `grad` has two
// dimensions or more, else `full`; `first_moment` when beta1 is set. Shared with GaLore's
// Adafactor, which calls it on a projected gradient.
inline torch::Tensor adafactor_change(const torch::Tensor& grad, const torch::Tensor& row, const torch::Tensor& column,
                                      const torch::Tensor& full, const torch::Tensor& first_moment, double step,
                                      double lr, const AdafactorOptions& options) {
  const double beta2 = 1.0 - std::pow(step, options.decay_rate());
  auto squared = grad.pow(2) + options.eps1();
  torch::Tensor change;
  if (grad.dim() >= 2) {
    row.mul_(beta2).add_(squared.mean(-1), 1.0 - beta2);
    column.mul_(beta2).add_(squared.mean(-2), 1.0 - beta2);
    auto row_factor = (row / row.mean(-1, true)).rsqrt_().unsqueeze(-1);
    auto column_factor = column.unsqueeze(-2).rsqrt();
    change = (row_factor * column_factor).mul_(grad);
  } else {
    full.mul_(beta2).add_(squared, 1.0 - beta2);
    change = full.rsqrt().mul_(grad);
  }
  change.div_((adafactor_rms(change) / options.clip_threshold()).clamp_(1.0));
  change.mul_(lr);
  if (options.beta1()) {
    first_moment.mul_(*options.beta1()).add_(change, 1.0 - *options.beta1());
    change = first_moment;
  }
  return change;
}

}  // namespace detail

TORCHTRAIN_INLINE void AdafactorOptions::serialize(torch::serialize::OutputArchive& archive) const {
  visit_settings(*this, [&](const char* name, const auto& value) { archive.write(name, c10::IValue(value)); });
  if (beta1()) archive.write("beta1", c10::IValue(*beta1()));
}

TORCHTRAIN_INLINE void AdafactorOptions::serialize(torch::serialize::InputArchive& archive) {
  visit_settings(*this, [&](const char* name, auto& value) {
    c10::IValue saved;
    archive.read(name, saved);
    value = saved.to<std::remove_cvref_t<decltype(value)>>();
  });
  c10::IValue saved_beta1;  // written only when set
  beta1(archive.try_read("beta1", saved_beta1) ? std::optional(saved_beta1.toDouble()) : std::nullopt);
}

TORCHTRAIN_INLINE void AdafactorParamState::serialize(torch::serialize::OutputArchive& archive) const {
  archive.write("step", c10::IValue(step));
  visit_moments(*this, [&](const char* name, const torch::Tensor& moment) {
    if (moment.defined()) archive.write(name, moment, /*is_buffer=*/true);
  });
}

TORCHTRAIN_INLINE void AdafactorParamState::serialize(torch::serialize::InputArchive& archive) {
  c10::IValue saved_step;
  archive.read("step", saved_step);
  step = saved_step.toInt();
  visit_moments(*this, [&](const char* name, torch::Tensor& moment) {
    moment = torch::Tensor();  // a moment the archive lacks is one this parameter does not use
    archive.try_read(name, moment, /*is_buffer=*/true);
  });
}

TORCHTRAIN_INLINE Adafactor::Adafactor(std::vector<torch::optim::OptimizerParamGroup> groups, AdafactorOptions defaults)
    : Optimizer(groups, std::make_unique<AdafactorOptions>(defaults)) {
  // LibTorch 2 merges a group's own options into the defaults only for its own optimizer
  // types: ours would get the defaults (and lose, say, a group's weight decay).
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (groups[g].has_options())
      static_cast<AdafactorOptions&>(param_groups_[g].options()) =
          static_cast<const AdafactorOptions&>(groups[g].options());
}

TORCHTRAIN_INLINE torch::Tensor Adafactor::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = torchtrain::detail::evaluate_closure(closure);
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const AdafactorOptions&>(group.options());
    for (auto& parameter : group.params())
      if (parameter.grad().defined()) update(parameter, options);
  }
  return loss;
}

TORCHTRAIN_INLINE void Adafactor::save(torch::serialize::OutputArchive& archive) const {
  torch::optim::serialize<AdafactorParamState, AdafactorOptions>(archive, *this);
}

TORCHTRAIN_INLINE void Adafactor::load(torch::serialize::InputArchive& archive) {
  torch::optim::serialize<AdafactorParamState, AdafactorOptions>(archive, *this);
  torchtrain::detail::load_group_options<AdafactorOptions>(archive, *this);
}

TORCHTRAIN_INLINE void Adafactor::update(torch::Tensor& parameter, const AdafactorOptions& options) {
  const auto grad = parameter.grad().to(torch::kFloat);
  const bool factored = grad.dim() >= 2;
  void* key = parameter.unsafeGetTensorImpl();  // the key torch::optim::Optimizer uses
  if (state_.find(key) == state_.end()) {
    auto fresh = std::make_unique<AdafactorParamState>();
    if (factored) {
      const auto [rows, columns] = detail::factored_moment_shapes(grad.sizes());
      fresh->exp_avg_sq_row = torch::zeros(rows, grad.options());
      fresh->exp_avg_sq_col = torch::zeros(columns, grad.options());
    } else {
      fresh->exp_avg_sq = torch::zeros_like(grad);
    }
    if (options.beta1()) fresh->exp_avg = torch::zeros_like(grad);
    state_[key] = std::move(fresh);
  }
  auto& state = static_cast<AdafactorParamState&>(*state_[key]);
  state.step += 1;
  const double step = static_cast<double>(state.step);
  const double lr = detail::adafactor_learning_rate(options, step, parameter);
  auto change = detail::adafactor_change(grad, state.exp_avg_sq_row, state.exp_avg_sq_col, state.exp_avg_sq,
                                         state.exp_avg, step, lr, options);
  if (options.weight_decay() != 0) parameter.add_(parameter, -options.weight_decay() * lr);
  parameter.add_(-change);
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
