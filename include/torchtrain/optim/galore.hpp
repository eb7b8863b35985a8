// GaLore (Zhao et al., 2024): AdamW and Adafactor whose moments live in a low-rank projection
// of each target weight's gradient, with the arithmetic of galore_torch; --optim galore_adamw,
// galore_adafactor and their layer-wise forms.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/adafactor.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>
#include <torchtrain/optim/galore_projector.hpp>

namespace torchtrain::detail {
class OptimArgs;  // optim/detail/optim_args.hpp
}  // namespace torchtrain::detail

namespace torchtrain::optim {

/// One group's GaLoreAdamW settings, with galore_torch's defaults (which the Python Trainer
/// keeps: it passes the learning rate only). A group with `galore` settings is projected
/// (its parameters must be matrices); one without is stepped as the package's plain AdamW.
struct GaLoreAdamWOptions : torch::optim::OptimizerCloneableOptions<GaLoreAdamWOptions> {
  using Betas = std::tuple<double, double>;  // (beta1, beta2): TORCH_ARG takes no comma
  explicit GaLoreAdamWOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(Betas, betas) = std::make_tuple(0.9, 0.999);
  TORCH_ARG(double, eps) = 1e-6;           // added after the square root
  TORCH_ARG(double, weight_decay) = 0.0;   // decoupled, after the step
  TORCH_ARG(bool, correct_bias) = true;    // bias correction, folded into the step size
  TORCH_ARG(std::optional<GaLoreSettings>, galore);  // none: not projected

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// galore_torch's GaLoreAdamW. Each step, for each parameter with a gradient G:
/// G is projected (projected groups only: R = G Pᵀ or Pᵀ G, see GaLoreProjector), the moments
/// of R updated, and the parameter moved by -step_size · scale · back(m / (√v + eps)), where
/// step_size = lr · √(1 - beta2^t) / (1 - beta1^t); then weight decay, p -= lr · wd · p.
/// State per parameter, under galore_torch's keys: "step", "exp_avg" and "exp_avg_sq" (of the
/// projected shape: rank x n or m x rank), "ortho_matrix" (rank x n or m x rank; for full
/// projection "ortho_matrix_0" and "ortho_matrix_1").
class GaLoreAdamW : public PerParameterOptimizer<GaLoreAdamWOptions> {
 public:
  explicit GaLoreAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
                       const GaLoreAdamWOptions& defaults = GaLoreAdamWOptions())
      : PerParameterOptimizer(std::move(groups), defaults) {}

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;
};

/// One group's GaLoreAdafactor settings: transformers' Adafactor settings and, for a projected
/// group, the GaLore settings.
struct GaLoreAdafactorOptions : torch::optim::OptimizerCloneableOptions<GaLoreAdafactorOptions> {
  explicit GaLoreAdafactorOptions(AdafactorOptions adafactor = AdafactorOptions()) : adafactor_(std::move(adafactor)) {}
  TORCH_ARG(AdafactorOptions, adafactor);
  TORCH_ARG(std::optional<GaLoreSettings>, galore);  // none: not projected

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return adafactor_.lr(); }
  void set_lr(const double value) override { adafactor_.lr(value); }
};

/// galore_torch's GaLoreAdafactor: transformers' Adafactor (optim::Adafactor's arithmetic) on
/// the projected gradient of projected groups, its update (after clipping, the learning rate and
/// the first moment) moved back and multiplied by scale. Computes in float32 for float16 and
/// bfloat16 parameters, as galore_torch does.
/// State per parameter, under galore_torch's keys: "step", "RMS" (the parameter's root mean
/// square, 0-dim), "exp_avg_sq_row" and "exp_avg_sq_col" for matrices (of the projected
/// shape) or "exp_avg_sq" for vectors, "exp_avg" when beta1 is set, and "ortho_matrix" (or
/// "ortho_matrix_0" and "ortho_matrix_1") for projected parameters.
class GaLoreAdafactor : public PerParameterOptimizer<GaLoreAdafactorOptions> {
 public:
  explicit GaLoreAdafactor(std::vector<torch::optim::OptimizerParamGroup> groups,
                           const GaLoreAdafactorOptions& defaults = GaLoreAdafactorOptions())
      : PerParameterOptimizer(std::move(groups), defaults) {}

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;

 private:
  static bool is_half(const torch::Tensor& tensor);
  // transformers' Adafactor moments of a gradient of `shape` (projected or not) and type `dtype`.
  static std::vector<StateTensor> moments_of(torch::IntArrayRef shape, torch::Dtype dtype, bool first_moment);
};

/// `--optim galore_adamw`, `galore_adafactor` and their `_layerwise` forms, as the Python
/// Trainer builds them: group 0 the parameters --optim_target_modules leaves out (see
/// low_rank_targets), stepped as the package's plain AdamW or Adafactor; group 1 the weights it
/// names, projected. optim_args: rank (128), update_proj_gap (200), scale (0.25), proj_type
/// ("std"; also reverse_std, right, left, full).
/// As in the Python Trainer, both groups take the learning rate only: galore_adamw keeps
/// galore_torch's betas (0.9, 0.999), eps 1e-6 and no weight decay (--adam_beta1, --adam_beta2,
/// --adam_epsilon and --weight_decay do not apply); galore_adafactor runs with scale_parameter
/// and relative_step off, no first moment, no weight decay.
/// The layer-wise forms update each parameter inside backward (one optimizer per parameter in
/// Python, the same arithmetic since all the state is per parameter); the Trainer refuses
/// gradient accumulation with them (Optimization::check_updates_in_backward). (The Python Trainer fails to build
/// galore_adafactor_layerwise: it passes its learning rate to Adafactors that still have
/// relative_step on. This builds what it means: galore_adafactor's settings, per parameter.)
/// Throws ArgumentError for a bad rank, update_proj_gap or proj_type, a negative learning rate
/// (galore_adamw), or a --optim_target_modules that names no Linear module.
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_galore(const torch::nn::Module& model,
                                                                       const TrainingArguments& args,
                                                                       torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/target_modules.hpp>

namespace torchtrain::optim {

namespace detail {

// What `galore` (none: no projection) makes of the gradient of `parameter`, of type `dtype`:
// the low-rank shape (the parameter's when not projected) and the projection matrices.
TORCHTRAIN_INLINE GaLoreProjector::Layout low_rank_layout(const std::optional<GaLoreSettings>& galore,
                                                          const torch::Tensor& parameter, torch::Dtype dtype) {
  if (!galore || parameter.dim() != 2) return {parameter.sizes().vec(), {}};  // others fail at the step
  return GaLoreProjector(*galore).layout(parameter.sizes(), dtype);
}

}  // namespace detail

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> GaLoreAdamW::state_layout(std::size_t group,
                                                                                     const torch::Tensor& parameter,
                                                                                     const NamedState&) const {
  const auto dtype = parameter.scalar_type();
  auto [shape, layout] = detail::low_rank_layout(options(group).galore(), parameter, dtype);
  layout.push_back({"exp_avg", shape, dtype});
  layout.push_back({"exp_avg_sq", shape, dtype});
  return layout;
}

TORCHTRAIN_INLINE std::vector<StateTensor> GaLoreAdafactor::moments_of(torch::IntArrayRef shape, torch::Dtype dtype,
                                                                       bool first_moment) {
  std::vector<StateTensor> moments;
  if (shape.size() >= 2) {
    auto [rows, columns] = detail::factored_moment_shapes(shape);
    moments = {{"exp_avg_sq_row", std::move(rows), dtype}, {"exp_avg_sq_col", std::move(columns), dtype}};
  } else {
    moments = {{"exp_avg_sq", shape.vec(), dtype}};
  }
  if (first_moment) moments.push_back({"exp_avg", shape.vec(), dtype});
  return moments;
}

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> GaLoreAdafactor::state_layout(
    std::size_t group, const torch::Tensor& parameter, const NamedState&) const {
  const auto dtype = is_half(parameter) ? torch::kFloat : parameter.scalar_type();  // as update() computes
  auto [shape, layout] = detail::low_rank_layout(options(group).galore(), parameter, dtype);
  for (auto& moment : moments_of(shape, dtype, options(group).adafactor().beta1().has_value()))
    layout.push_back(std::move(moment));
  layout.push_back({"RMS", {}, dtype});
  return layout;
}

TORCHTRAIN_INLINE void GaLoreAdamW::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& settings = options(group);
  auto& state = state_of(parameter);
  std::optional<GaLoreProjector> projector;
  if (settings.galore()) projector.emplace(*settings.galore());
  const auto grad = projector ? projector->project(gradient, state) : gradient;

  auto& exp_avg = state.tensors["exp_avg"];
  auto& exp_avg_sq = state.tensors["exp_avg_sq"];
  if (!exp_avg.defined()) exp_avg = torch::zeros_like(grad);
  if (!exp_avg_sq.defined()) exp_avg_sq = torch::zeros_like(grad);
  const auto [beta1, beta2] = settings.betas();
  state.step += 1;

  exp_avg.mul_(beta1).add_(grad, 1.0 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
  const auto denominator = exp_avg_sq.sqrt().add_(settings.eps());
  double step_size = settings.lr();
  if (settings.correct_bias()) {
    const double t = static_cast<double>(state.step);
    step_size = step_size * std::sqrt(1.0 - std::pow(beta2, t)) / (1.0 - std::pow(beta1, t));
  }
  auto normalized = exp_avg / denominator;
  if (projector) normalized = projector->project_back(normalized, gradient, state);
  parameter.add_(normalized, -step_size);
  if (settings.weight_decay() > 0.0) parameter.add_(parameter, -settings.lr() * settings.weight_decay());
}

TORCHTRAIN_INLINE void GaLoreAdafactor::update(std::size_t group, torch::Tensor& parameter,
                                               const torch::Tensor& gradient) {
  const auto& settings = options(group).adafactor();
  auto& state = state_of(parameter);
  torch::Tensor grad = is_half(gradient) ? gradient.to(torch::kFloat) : gradient;
  std::optional<GaLoreProjector> projector;
  if (options(group).galore()) {
    projector.emplace(*options(group).galore());
    grad = projector->project(grad, state);
  }

  // The moments of the projected shape, zeros at the first step (a loaded state has them:
  // state_layout); those this parameter does not use stay undefined.
  if (state.step == 0)
    for (const auto& moment : moments_of(grad.sizes(), grad.scalar_type(), settings.beta1().has_value()))
      state.tensors[moment.name] = torch::zeros(moment.shape, grad.options());
  const auto kept = [&](const char* name) {
    const auto found = state.tensors.find(name);
    return found == state.tensors.end() ? torch::Tensor() : found->second;
  };
  const auto row = kept("exp_avg_sq_row"), column = kept("exp_avg_sq_col"), full = kept("exp_avg_sq"),
             first_moment = kept("exp_avg");

  auto weights = is_half(parameter) ? parameter.to(torch::kFloat) : parameter;
  state.step += 1;
  const double step = static_cast<double>(state.step);
  state.tensors["RMS"] = detail::adafactor_rms(weights);
  const double lr = detail::adafactor_learning_rate(settings, step, weights);
  auto change = detail::adafactor_change(grad, row, column, full, first_moment, step, lr, settings);
  if (projector) change = projector->project_back(change, gradient, state);
  if (settings.weight_decay() != 0) weights.add_(weights, -settings.weight_decay() * lr);
  weights.add_(-change);
  if (!weights.is_same(parameter)) parameter.copy_(weights);
}

TORCHTRAIN_INLINE bool GaLoreAdafactor::is_half(const torch::Tensor& tensor) {
  return tensor.scalar_type() == torch::kHalf || tensor.scalar_type() == torch::kBFloat16;
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_galore(const torch::nn::Module& model,
                                                                       const TrainingArguments& args,
                                                                       torchtrain::detail::OptimArgs& extra) {
  const bool adamw = args.optim == OptimizerNames::galore_adamw || args.optim == OptimizerNames::galore_adamw_layerwise;
  const bool layerwise =
      args.optim == OptimizerNames::galore_adamw_layerwise || args.optim == OptimizerNames::galore_adafactor_layerwise;
  const std::string_view name = enum_names(OptimizerNames{})[static_cast<std::size_t>(args.optim)];
  GaLoreSettings galore;
  galore.rank = extra.take<std::int64_t>("rank", galore.rank);
  galore.update_proj_gap = extra.take<std::int64_t>("update_proj_gap", galore.update_proj_gap);
  galore.scale = extra.take("scale", galore.scale);
  galore.proj_type = extra.take("proj_type", galore.proj_type);
  extra.require_all_taken(name);
  if (galore.rank < 1)
    throw ArgumentError(fmt::format("--optim_args: {} needs rank >= 1 (the rank of the projection), got {}", name,
                                    galore.rank));
  if (galore.update_proj_gap < 1)
    throw ArgumentError(fmt::format("--optim_args: {} needs update_proj_gap >= 1 (steps between two SVDs), got {}",
                                    name, galore.update_proj_gap));
  if (!std::isfinite(galore.scale))
    throw ArgumentError(fmt::format("--optim_args: {} needs a finite scale, got {}", name, galore.scale));
  if (adamw && !(args.learning_rate >= 0))
    throw ArgumentError(fmt::format("--learning_rate must not be negative for --optim {}, got {}", name,
                                    args.learning_rate));

  auto [targets, others] = low_rank_targets(model, args.optim_target_modules, name);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (adamw) {
    const auto plain = GaLoreAdamWOptions(args.learning_rate);
    groups.emplace_back(std::move(others), std::make_unique<GaLoreAdamWOptions>(plain));
    groups.emplace_back(std::move(targets), std::make_unique<GaLoreAdamWOptions>(GaLoreAdamWOptions(plain).galore(galore)));
    auto optimizer = std::make_unique<GaLoreAdamW>(std::move(groups), plain);
    if (layerwise) optimizer->update_in_backward();
    return optimizer;
  }
  const auto plain = GaLoreAdafactorOptions(AdafactorOptions(args.learning_rate).scale_parameter(false).relative_step(false));
  groups.emplace_back(std::move(others), std::make_unique<GaLoreAdafactorOptions>(plain));
  groups.emplace_back(std::move(targets), std::make_unique<GaLoreAdafactorOptions>(GaLoreAdafactorOptions(plain).galore(galore)));
  auto optimizer = std::make_unique<GaLoreAdafactor>(std::move(groups), plain);
  if (layerwise) optimizer->update_in_backward();
  return optimizer;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
