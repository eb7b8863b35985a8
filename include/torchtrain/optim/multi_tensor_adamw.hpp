// MultiTensorAdamW: LibTorch's AdamW arithmetic, applied to all parameters of a group at once.
#pragma once

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <torchtrain/detail/optimizer_closure.hpp>

namespace torchtrain::optim {

/// AdamW whose step runs a handful of multi-tensor (`at::_foreach_*`) calls per parameter
/// group instead of a chain of calls per parameter, with the same arithmetic as
/// torch::optim::AdamW (amsgrad is not offered). The parameters of a group are expected to
/// step together: the group keeps one step count. Options are torch::optim::AdamWOptions.
class MultiTensorAdamW : public torch::optim::Optimizer {
 public:
  MultiTensorAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults)
      : Optimizer(std::move(groups), std::make_unique<torch::optim::AdamWOptions>(defaults)),
        moments_(param_groups_.size()) {
    TORCH_CHECK(!defaults.amsgrad(), "MultiTensorAdamW does not offer amsgrad");
  }

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::NoGradGuard no_grad;
    torch::Tensor loss = torchtrain::detail::evaluate_closure(closure);
    if (moments_.size() < param_groups_.size()) moments_.resize(param_groups_.size());
    for (std::size_t g = 0; g < param_groups_.size(); ++g) step_group(param_groups_[g], moments_[g]);
    return loss;
  }

 private:
  struct GroupMoments {
    std::int64_t step = 0;
    std::vector<torch::Tensor> exp_avg, exp_avg_sq;  // aligned with the group's params
  };

  static void step_group(torch::optim::OptimizerParamGroup& group, GroupMoments& moments) {
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

  std::vector<GroupMoments> moments_;
};

}  // namespace torchtrain::optim
