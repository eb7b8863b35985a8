// APOLLO (Zhu et al., 2024): AdamW whose moments live in a low-rank projection of each target
// weight's gradient and only rescale the full gradient, with the arithmetic of apollo_torch's
// APOLLOAdamW; --optim apollo_adamw and apollo_adamw_layerwise.
#pragma once

#include <cstddef>
#include <cstdint>
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
#include <torchtrain/optim/apollo_projector.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>

namespace torchtrain::detail {
class OptimArgs;  // optim/detail/optim_args.hpp
}  // namespace torchtrain::detail

namespace torchtrain::optim {

/// One group's APOLLOAdamW settings, with apollo_torch's defaults. A group with a `rank` is
/// projected (its parameters must be matrices); one without is stepped as plain AdamW (the
/// package's AdamW, with eps added after the square root and bias correction in the step size).
struct APOLLOAdamWOptions : torch::optim::OptimizerCloneableOptions<APOLLOAdamWOptions> {
  explicit APOLLOAdamWOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  using Betas = std::tuple<double, double>;  // a type name, as TORCH_ARG needs
  TORCH_ARG(Betas, betas) = std::make_tuple(0.9, 0.999);
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0.0;  // decoupled, after the step
  TORCH_ARG(bool, correct_bias) = true;
  TORCH_ARG(std::optional<std::int64_t>, rank);                        // none: not projected
  TORCH_ARG(apollo::Projection, proj) = apollo::Projection::random;
  TORCH_ARG(apollo::ScaleType, scale_type) = apollo::ScaleType::channel;
  TORCH_ARG(std::int64_t, update_proj_gap) = 200;                      // steps between new projections
  TORCH_ARG(double, scale) = 1.0;                                      // the update is multiplied by sqrt(scale)
  TORCH_ARG(apollo::ProjType, proj_type) = apollo::ProjType::standard;

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// How APOLLOAdamW seeds each parameter's random projection. `by_position`: as one
/// apollo_torch optimizer over all the groups, the parameter's position in them (from 1).
/// `one_optimizer_per_parameter`: as the Python Trainer's layer-wise form, which makes an
/// optimizer for each parameter, so that every seed is 1.
enum class ApolloSeeds { by_position, one_optimizer_per_parameter };

/// apollo_torch's APOLLOAdamW. For each weight of a group with a `rank`, each step:
/// 1. projects the gradient G to rank r (G Pᵀ or Pᵀ G, proj_type) with a matrix P made anew
///    every update_proj_gap steps (Gaussian numbers from a seed that advances at each renewal,
///    or the gradient's singular vectors);
/// 2. updates AdamW's moments of the projected gradient R and takes its Adam step A;
/// 3. scales G by ‖A‖/‖R‖, per channel (one factor per row of a tall G, per column of a wide
///    one) or per tensor,
///    limits that scaled gradient's norm to 1.01 times the last step's (Fira's norm-growth
///    limiter), multiplies it by sqrt(scale), and steps the weight by it with Adam's step
///    size.
/// State per parameter, under apollo_torch's names: "step", "seed" (set at construction),
/// "exp_avg" and "exp_avg_sq" (r x n or m x r for a projected weight, else the parameter's
/// shape), and for a projected weight "ortho_matrix" (P), "scaled_grad" (the last scaled
/// gradient norm), and, with random projections, "projector_seed" (the seed of the next P: the
/// Python projector's `seed`).
class APOLLOAdamW : public PerParameterOptimizer<APOLLOAdamWOptions> {
 public:
  explicit APOLLOAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
                       const APOLLOAdamWOptions& defaults = APOLLOAdamWOptions(),
                       ApolloSeeds seeds = ApolloSeeds::by_position);

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;

 private:
  // Step 1: the gradient in the low-rank space, with a new projection matrix at the first step
  // and every update_proj_gap steps after.
  static torch::Tensor project(const APOLLOAdamWOptions& settings, NamedState& state, const torch::Tensor& gradient);

  // Step 3: the full gradient scaled by how much Adam changed the low-rank one, its norm growth
  // limited, times sqrt(scale).
  static torch::Tensor scaled_gradient(const APOLLOAdamWOptions& settings, NamedState& state,
                                       const torch::Tensor& gradient, const torch::Tensor& low_rank_gradient,
                                       const torch::Tensor& adam_step);
};

/// --optim apollo_adamw and apollo_adamw_layerwise, set up as the Python Trainer sets them up:
/// the weights of the Linear modules args.optim_target_modules names are projected (group 1:
/// learning_rate, adam_beta1, adam_beta2, adam_epsilon and the optim_args below), every other
/// parameter is stepped as plain AdamW with apollo_torch's defaults (group 0: learning_rate,
/// betas 0.9 and 0.999, eps 1e-6). Neither group has weight decay: Python passes none, whatever
/// args.weight_decay says. optim_args, with Python's defaults: rank (128), proj (random | svd),
/// scale_type (channel | tensor), update_proj_gap (200), scale (1.0), proj_type (std |
/// reverse_std | right | left). The layer-wise form updates each parameter inside backward and
/// frees its gradient.
/// Throws ArgumentError for a bad optim_args value, missing or unmatched optim_target_modules.
/// (The Trainer refuses gradient accumulation with the layer-wise form: Optimization::check_updates_in_backward.)
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_apollo(const torch::nn::Module& model,
                                                                       const TrainingArguments& args,
                                                                       torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <string_view>

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/target_modules.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE APOLLOAdamW::APOLLOAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
                                           const APOLLOAdamWOptions& defaults, ApolloSeeds seeds)
    : PerParameterOptimizer(std::move(groups), defaults) {
  std::int64_t position = 0;
  for (auto& group : param_groups_)
    for (auto& parameter : group.params()) {
      ++position;  // frozen parameters count too, as in apollo_torch
      if (!parameter.requires_grad()) continue;
      const std::int64_t seed = seeds == ApolloSeeds::by_position ? position : 1;
      state_of(parameter).tensors["seed"] = torch::scalar_tensor(seed, torch::kLong);
    }
}

TORCHTRAIN_INLINE void APOLLOAdamW::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& settings = options(group);
  auto& state = state_of(parameter);
  const bool projected = settings.rank().has_value();
  const torch::Tensor low_rank_gradient = projected ? project(settings, state, gradient) : gradient;

  auto& exp_avg = state.tensors["exp_avg"];
  auto& exp_avg_sq = state.tensors["exp_avg_sq"];
  if (!exp_avg.defined()) {
    exp_avg = torch::zeros_like(low_rank_gradient);
    exp_avg_sq = torch::zeros_like(low_rank_gradient);
  }
  state.step += 1;
  const auto [beta1, beta2] = settings.betas();
  exp_avg.mul_(beta1).add_(low_rank_gradient, 1.0 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(low_rank_gradient, low_rank_gradient, 1.0 - beta2);
  const auto denominator = exp_avg_sq.sqrt().add_(settings.eps());
  double step_size = settings.lr();
  if (settings.correct_bias()) {
    const double correction1 = 1.0 - std::pow(beta1, static_cast<double>(state.step));
    const double correction2 = 1.0 - std::pow(beta2, static_cast<double>(state.step));
    step_size = step_size * std::sqrt(correction2) / correction1;
  }
  torch::Tensor step = exp_avg / denominator;
  if (projected) step = scaled_gradient(settings, state, gradient, low_rank_gradient, step);

  parameter.add_(step, -step_size);
  if (settings.weight_decay() > 0.0) parameter.add_(parameter, -settings.lr() * settings.weight_decay());
}

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> APOLLOAdamW::state_layout(std::size_t group,
                                                                                     const torch::Tensor& parameter,
                                                                                     const NamedState& saved) const {
  const auto& settings = options(group);
  const auto dtype = parameter.scalar_type();
  std::vector<StateTensor> layout;
  // The first projection's seed, which the constructor gives each parameter that then required
  // gradients: it may be missing, but not of another kind.
  if (saved.tensors.contains("seed")) layout.push_back({"seed", {}, torch::kLong});
  if (saved.step == 0) return layout;  // made, never stepped
  auto shape = parameter.sizes().vec();
  if (settings.rank() && parameter.dim() == 2) {  // others fail at the step
    const std::int64_t rows = shape[0], columns = shape[1];
    const bool random = settings.proj() == apollo::Projection::random;
    // A random projection has the rank asked for; an SVD's at most the matrix's smaller side.
    const std::int64_t rank = random ? *settings.rank() : std::min({*settings.rank(), rows, columns});
    if (apollo::side_of(settings.proj_type(), parameter.sizes()) == apollo::Side::right) {
      layout.push_back({"ortho_matrix", {rank, columns}, dtype});
      shape = {rows, rank};
    } else {
      layout.push_back({"ortho_matrix", {rows, rank}, dtype});
      shape = {rank, columns};
    }
    if (random) layout.push_back({"projector_seed", {}, torch::kLong});
    layout.push_back({"scaled_grad", {}, dtype});
  }
  layout.push_back({"exp_avg", shape, dtype});
  layout.push_back({"exp_avg_sq", shape, dtype});
  return layout;
}

TORCHTRAIN_INLINE torch::Tensor APOLLOAdamW::project(const APOLLOAdamWOptions& settings, NamedState& state,
                                                     const torch::Tensor& gradient) {
  TORCH_CHECK(gradient.dim() == 2, "APOLLOAdamW projects matrices; a parameter of ", gradient.dim(),
              " dimensions is in a group with a rank");
  const auto side = apollo::side_of(settings.proj_type(), gradient.sizes());
  auto& matrix = state.tensors["ortho_matrix"];
  if (!matrix.defined() || state.step % settings.update_proj_gap() == 0) {
    if (settings.proj() == apollo::Projection::random) {
      auto& seed = state.tensors["projector_seed"];
      if (!seed.defined()) {
        auto initial = state.tensors.find("seed");
        TORCH_CHECK(initial != state.tensors.end(), "APOLLOAdamW has no seed for a parameter that did not require ",
                    "gradients when it was made");
        seed = initial->second.clone();
      }
      const auto current = seed.item<std::int64_t>();
      matrix = apollo::random_projection(gradient, *settings.rank(), side, current);
      seed = torch::scalar_tensor(apollo::next_seed(current), torch::kLong);
    } else {
      matrix = apollo::svd_projection(gradient, *settings.rank(), side);
    }
  }
  return apollo::project(gradient, matrix, side);
}

TORCHTRAIN_INLINE torch::Tensor APOLLOAdamW::scaled_gradient(const APOLLOAdamWOptions& settings, NamedState& state,
                                                             const torch::Tensor& gradient,
                                                             const torch::Tensor& low_rank_gradient,
                                                             const torch::Tensor& adam_step) {
  torch::Tensor factor;
  if (settings.scale_type() == apollo::ScaleType::channel) {
    // The norm runs over the projected (shorter) side, leaving one factor per channel.
    const std::int64_t dim = gradient.size(0) < gradient.size(1) ? 0 : 1;
    factor = at::linalg_vector_norm(adam_step, 2, dim, false, std::nullopt) /
             (at::linalg_vector_norm(low_rank_gradient, 2, dim, false, std::nullopt) + 1e-8);
    if (dim == 1) factor = factor.unsqueeze(1);
  } else {
    factor = at::linalg_vector_norm(adam_step, 2, std::nullopt, false, std::nullopt) /
             (at::linalg_vector_norm(low_rank_gradient, 2, std::nullopt, false, std::nullopt) + 1e-8);
  }
  auto scaled = gradient * factor;

  auto norm = at::linalg_vector_norm(scaled, 2, std::nullopt, false, std::nullopt);
  auto& previous_norm = state.tensors["scaled_grad"];
  if (previous_norm.defined()) {
    // Growth beyond 1.01 times the last norm is divided away; below it, the limiter is 1
    // (a tensor, so that the GPU need not report the growth to the CPU).
    const auto growth = norm / (previous_norm + 1e-8);
    const auto limiter = torch::where(growth < 1.01, torch::ones_like(growth), growth / 1.01);
    scaled = scaled / limiter;
    norm = norm / limiter;
  }
  previous_norm = norm;
  return scaled.mul_(std::sqrt(settings.scale()));
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_apollo(const torch::nn::Module& model,
                                                                       const TrainingArguments& args,
                                                                       torchtrain::detail::OptimArgs& extra) {
  const bool layerwise = args.optim == OptimizerNames::apollo_adamw_layerwise;
  const std::string_view name = layerwise ? "apollo_adamw_layerwise" : "apollo_adamw";
  auto projected = APOLLOAdamWOptions(args.learning_rate);
  projected.rank(extra.take<std::int64_t>("rank", 128))
      .proj(extra.take("proj", apollo::Projection::random))
      .scale_type(extra.take("scale_type", apollo::ScaleType::channel))
      .update_proj_gap(extra.take<std::int64_t>("update_proj_gap", 200))
      .scale(extra.take("scale", 1.0))
      .proj_type(extra.take("proj_type", apollo::ProjType::standard))
      .betas(std::make_tuple(args.adam_beta1, args.adam_beta2))
      .eps(args.adam_epsilon);
  extra.require_all_taken(name);
  if (*projected.rank() < 1)
    throw ArgumentError(fmt::format("--optim_args: {} needs rank >= 1, got {}", name, *projected.rank()));
  if (projected.update_proj_gap() < 1)
    throw ArgumentError(fmt::format("--optim_args: {} needs update_proj_gap >= 1 (steps between new projections), got {}",
                                    name, projected.update_proj_gap()));
  if (!(projected.scale() >= 0.0))
    throw ArgumentError(fmt::format("--optim_args: {} needs scale >= 0 (the update is multiplied by its square "
                                    "root), got {}", name, projected.scale()));

  auto [targets, others] = low_rank_targets(model, args.optim_target_modules, name);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(others), std::make_unique<APOLLOAdamWOptions>(args.learning_rate));
  groups.emplace_back(std::move(targets), std::make_unique<APOLLOAdamWOptions>(projected));
  auto optimizer = std::make_unique<APOLLOAdamW>(
      std::move(groups), APOLLOAdamWOptions(args.learning_rate),
      layerwise ? ApolloSeeds::one_optimizer_per_parameter : ApolloSeeds::by_position);
  if (layerwise) optimizer->update_in_backward();
  return optimizer;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
