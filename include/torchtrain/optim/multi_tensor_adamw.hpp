// MultiTensorAdamW: LibTorch's AdamW arithmetic, applied to all parameters of a group at once.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/archive.h>

#include <torchtrain/detail/optimizer_closure.hpp>
#include <torchtrain/optim/resumable.hpp>

namespace torchtrain::optim {

/// AdamW whose step runs a handful of multi-tensor (`at::_foreach_*`) calls per parameter
/// group instead of a chain of calls per parameter, with the same arithmetic as
/// torch::optim::AdamW (amsgrad is not offered). The parameters of a group are expected to
/// step together: the group keeps one step count. Options are torch::optim::AdamWOptions.
/// save() and load() use torch::optim::AdamW's format, so either resumes from the other's.
/// With `fused`, a group steps in one call of LibTorch's fused AdamW kernel
/// (`at::_fused_adamw_`, on the CPU and CUDA: what Python's `AdamW(fused=True)` calls).
class MultiTensorAdamW : public torch::optim::Optimizer {
 public:
  MultiTensorAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults,
                   bool fused = false)
      : Optimizer(std::move(groups), std::make_unique<torch::optim::AdamWOptions>(defaults)),
        moments_(param_groups_.size()),
        fused_(fused) {
    TORCH_CHECK(!defaults.amsgrad(), "MultiTensorAdamW does not offer amsgrad");
  }

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::NoGradGuard no_grad;
    torch::Tensor loss = torchtrain::detail::evaluate_closure(closure);
    if (moments_.size() < param_groups_.size()) moments_.resize(param_groups_.size());
    for (std::size_t g = 0; g < param_groups_.size(); ++g) step_group(param_groups_[g], moments_[g], fused_);
    return loss;
  }

  /// Writes each parameter's moments, at its group's step, and each group's options.
  void save(torch::serialize::OutputArchive& archive) const override {
    torch::optim::AdamW adamw = as_adamw();
    for (std::size_t g = 0; g < moments_.size(); ++g) {
      const auto& params = param_groups_[g].params();
      for (std::size_t i = 0; i < moments_[g].exp_avg.size(); ++i) {
        if (!moments_[g].exp_avg[i].defined()) continue;
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(moments_[g].step).exp_avg(moments_[g].exp_avg[i]).exp_avg_sq(moments_[g].exp_avg_sq[i]);
        adamw.state()[params[i].unsafeGetTensorImpl()] = std::move(state);
      }
    }
    adamw.save(archive);
  }

  /// Reads an archive of save() or of torch::optim::AdamW (without amsgrad, and with one
  /// step count in each group) for the same parameter groups, in the same order.
  void load(torch::serialize::InputArchive& archive) override {
    torch::optim::AdamW adamw = as_adamw();
    adamw.load(archive);
    torchtrain::detail::load_group_options<torch::optim::AdamWOptions>(archive, adamw);
    std::vector<GroupMoments> loaded(param_groups_.size());
    for (std::size_t g = 0; g < param_groups_.size(); ++g) {
      const auto& options = static_cast<const torch::optim::AdamWOptions&>(adamw.param_groups()[g].options());
      TORCH_CHECK(!options.amsgrad(), "MultiTensorAdamW cannot load parameter group ", g, ": it uses amsgrad");
      const auto& params = param_groups_[g].params();
      loaded[g].exp_avg.resize(params.size());
      loaded[g].exp_avg_sq.resize(params.size());
      std::optional<std::int64_t> step;
      for (std::size_t i = 0; i < params.size(); ++i) {
        auto found = adamw.state().find(params[i].unsafeGetTensorImpl());
        if (found == adamw.state().end()) continue;
        const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
        TORCH_CHECK(!step || *step == state.step(), "MultiTensorAdamW cannot load parameter group ", g,
                    ": its parameters are at different steps (", *step, " and ", state.step(), ")");
        step = state.step();
        loaded[g].exp_avg[i] = state.exp_avg();
        loaded[g].exp_avg_sq[i] = state.exp_avg_sq();
      }
      loaded[g].step = step.value_or(0);
    }
    for (std::size_t g = 0; g < param_groups_.size(); ++g)
      static_cast<torch::optim::AdamWOptions&>(param_groups_[g].options()) =
          static_cast<const torch::optim::AdamWOptions&>(adamw.param_groups()[g].options());
    moments_ = std::move(loaded);
  }

 private:
  // An AdamW over the same parameters and options, with no state: the carrier of our state
  // in and out of an archive.
  torch::optim::AdamW as_adamw() const {
    return torch::optim::AdamW(param_groups_, static_cast<const torch::optim::AdamWOptions&>(defaults()));
  }

  struct GroupMoments {
    std::int64_t step = 0;
    std::vector<torch::Tensor> exp_avg, exp_avg_sq;  // aligned with the group's params
    // `step` as float32 on the parameters' device, once per stepped parameter: the fused
    // kernel reads the step there (every entry holds the same value, so their order does not matter).
    std::vector<torch::Tensor> device_steps;
  };

  static void step_group(torch::optim::OptimizerParamGroup& group, GroupMoments& moments, bool fused) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    auto& all = group.params();
    if (moments.exp_avg.size() != all.size()) {
      moments.exp_avg.resize(all.size());
      moments.exp_avg_sq.resize(all.size());
    }
    std::vector<torch::Tensor> params, grads, exp_avg, exp_avg_sq;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (!all[i].grad().defined()) continue;
      if (!moments.exp_avg[i].defined()) {
        moments.exp_avg[i] = torch::zeros_like(all[i], at::MemoryFormat::Preserve);
        moments.exp_avg_sq[i] = torch::zeros_like(all[i], at::MemoryFormat::Preserve);
      }
      params.push_back(all[i]);
      grads.push_back(all[i].grad());
      exp_avg.push_back(moments.exp_avg[i]);
      exp_avg_sq.push_back(moments.exp_avg_sq[i]);
    }
    if (params.empty()) return;
    moments.step += 1;
    if (fused) {
      fused_step(options, moments, params, grads, exp_avg, exp_avg_sq);
      return;
    }
    const double lr = options.lr(), beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(moments.step));
    const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(moments.step));

    at::_foreach_mul_(params, 1 - lr * options.weight_decay());
    at::_foreach_mul_(exp_avg, beta1);
    at::_foreach_add_(exp_avg, grads, 1 - beta1);
    at::_foreach_mul_(exp_avg_sq, beta2);
    at::_foreach_addcmul_(exp_avg_sq, grads, grads, 1 - beta2);
    auto denominator = at::_foreach_sqrt(exp_avg_sq);
    at::_foreach_div_(denominator, std::sqrt(bias_correction2));
    at::_foreach_add_(denominator, options.eps());
    at::_foreach_addcdiv_(params, exp_avg, denominator, -lr / bias_correction1);
  }

  static void fused_step(const torch::optim::AdamWOptions& options, GroupMoments& moments,
                         const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                         const std::vector<torch::Tensor>& exp_avg, const std::vector<torch::Tensor>& exp_avg_sq) {
    if (moments.device_steps.size() != params.size()) {  // first step, after load(), or other parameters
      moments.device_steps.clear();
      const auto step = static_cast<double>(moments.step);
      for (const auto& param : params)
        moments.device_steps.push_back(torch::full({}, step, param.options().dtype(torch::kFloat)));
    } else {
      at::_foreach_add_(moments.device_steps, 1);  // on the device: no host-to-device copy per step
    }
    at::_fused_adamw_(params, grads, exp_avg, exp_avg_sq, /*max_exp_avg_sqs=*/{}, moments.device_steps, options.lr(),
                      std::get<0>(options.betas()), std::get<1>(options.betas()), options.weight_decay(),
                      options.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }

  std::vector<GroupMoments> moments_;
  bool fused_;
};

}  // namespace torchtrain::optim
