// MultiTensorAdamW: LibTorch's AdamW arithmetic, applied to all parameters of a group at once.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/optim/adamw.h>
#include <torch/serialize/archive.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// AdamW whose step runs a handful of multi-tensor (`at::_foreach_*`) calls per parameter
/// group instead of a chain of calls per parameter, with the same arithmetic as
/// torch::optim::AdamW (amsgrad is not offered). The parameters of a group are expected to
/// step together: the group keeps one step count. Options are torch::optim::AdamWOptions.
/// save() and load() use torch::optim::AdamW's format, so either resumes from the other's.
/// With `fused`, the step is LibTorch's fused AdamW kernel (`at::_fused_adamw_`, on the CPU
/// and CUDA: what Python's `AdamW(fused=True)` calls), one call for each run of consecutive
/// groups with equal options (the Python Trainer's two groups differ only in weight decay,
/// which is 0 by default).
class MultiTensorAdamW : public torch::optim::Optimizer {
 public:
  MultiTensorAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults,
                   bool fused = false);

  torch::Tensor step(LossClosure closure = nullptr) override;

  /// Writes each parameter's moments, at its group's step, and each group's options, in
  /// torch::optim::AdamW's layout.
  void save(torch::serialize::OutputArchive& archive) const override { to_adamw().save(archive); }

  /// Reads an archive of save() or of torch::optim::AdamW (without amsgrad, and with one
  /// step count in each group) for the same parameter groups, in the same order.
  void load(torch::serialize::InputArchive& archive) override;

  /// A torch::optim::AdamW over the same parameters with this one's options and state: how
  /// the state leaves (save(), Python's state dict).
  torch::optim::AdamW to_adamw() const;

  /// Takes the options and state of `adamw`, an AdamW over the same parameter groups (as
  /// to_adamw() makes, loaded from a file); every parameter of a group must be at one step.
  void load_from_adamw(const torch::optim::AdamW& adamw);

  /// True when the step is LibTorch's fused kernel (Python's `AdamW(fused=True)`).
  bool fused() const { return fused_; }

  /// For a step captured in a CUDA graph (CudaGraphs), with `fused`: from now on the step
  /// reads each group's learning rate from a tensor on the parameters' device, which
  /// stage_learning_rates() fills, so that a replayed step uses the schedule's rate of the
  /// moment (the step counts are on the device already). Python's `capturable=True`.
  void make_capturable();
  bool capturable() const { return capturable_; }

  /// Copies each group's learning rate into its device tensor, outside the graph, before
  /// each step of a capturable optimizer: a kernel launch, no host synchronization.
  void stage_learning_rates();

  /// Counts, on the host, a step that a graph replayed: the groups that stepped in the
  /// captured step advance their step count (save() writes it) as the device's did.
  void count_replayed_step();

 private:
  struct GroupMoments {
    std::int64_t step = 0;
    std::vector<torch::Tensor> exp_avg, exp_avg_sq;  // aligned with the group's params
    // `step` as float32 on the parameters' device, once per stepped parameter: the fused
    // kernel reads the step there (every entry holds the same value, so their order does not matter).
    std::vector<torch::Tensor> device_steps;
    torch::Tensor device_lr;  // capturable: the learning rate, float32 on the parameters' device
  };

  // The tensors that step in one call: the parameters with a gradient, their gradients and
  // moments, and (fused) their step counts on the device.
  struct StepLists {
    std::vector<torch::Tensor> params, grads, exp_avg, exp_avg_sq, device_steps;
  };

  const torch::optim::AdamWOptions& options_of(std::size_t g) const {
    return static_cast<const torch::optim::AdamWOptions&>(param_groups_[g].options());
  }

  // Appends group g's parameters that have a gradient to `lists`, creating their moments at
  // their first step, and advances the group's step count; false when none has a gradient.
  bool gather(std::size_t g, StepLists& lists);

  static void multi_tensor_step(const torch::optim::AdamWOptions& options, std::int64_t step, StepLists& lists);

  static bool same_options(const torch::optim::AdamWOptions& a, const torch::optim::AdamWOptions& b);

  // One kernel call per run of consecutive groups with equal options on one device and dtype.
  void fused_step();

  std::vector<GroupMoments> moments_;
  bool fused_;
  bool capturable_ = false;
};

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <optional>
#include <utility>

#include <ATen/ATen.h>

#include <torchtrain/optim/detail/optimizer_closure.hpp>
#include <torchtrain/optim/resumable.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE MultiTensorAdamW::MultiTensorAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
                                                     torch::optim::AdamWOptions defaults, bool fused)
    : Optimizer(std::move(groups), std::make_unique<torch::optim::AdamWOptions>(defaults)),
      moments_(param_groups_.size()),
      fused_(fused) {
  TORCH_CHECK(!defaults.amsgrad(), "MultiTensorAdamW does not offer amsgrad");
}

TORCHTRAIN_INLINE torch::Tensor MultiTensorAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = torchtrain::detail::evaluate_closure(closure);
  if (moments_.size() < param_groups_.size()) moments_.resize(param_groups_.size());
  if (fused_) {
    fused_step();
    return loss;
  }
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    StepLists lists;
    if (gather(g, lists)) multi_tensor_step(options_of(g), moments_[g].step, lists);
  }
  return loss;
}

TORCHTRAIN_INLINE void MultiTensorAdamW::make_capturable() {
  TORCH_CHECK(fused_, "MultiTensorAdamW: only the fused step can be captured in a CUDA graph");
  capturable_ = true;
}

TORCHTRAIN_INLINE void MultiTensorAdamW::stage_learning_rates() {
  for (std::size_t g = 0; g < moments_.size() && g < param_groups_.size(); ++g)
    if (moments_[g].device_lr.defined()) moments_[g].device_lr.fill_(options_of(g).lr());
}

TORCHTRAIN_INLINE void MultiTensorAdamW::count_replayed_step() {
  for (auto& moments : moments_)
    if (!moments.device_steps.empty()) moments.step += 1;
}

TORCHTRAIN_INLINE void MultiTensorAdamW::load(torch::serialize::InputArchive& archive) {
  torch::optim::AdamW adamw = to_adamw();
  adamw.load(archive);
  torchtrain::detail::load_group_options<torch::optim::AdamWOptions>(archive, adamw);
  load_from_adamw(adamw);
}

TORCHTRAIN_INLINE torch::optim::AdamW MultiTensorAdamW::to_adamw() const {
  torch::optim::AdamW adamw(param_groups_, static_cast<const torch::optim::AdamWOptions&>(defaults()));
  for (std::size_t g = 0; g < moments_.size(); ++g) {
    const auto& params = param_groups_[g].params();
    for (std::size_t i = 0; i < moments_[g].exp_avg.size(); ++i) {
      if (!moments_[g].exp_avg[i].defined()) continue;
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(moments_[g].step).exp_avg(moments_[g].exp_avg[i]).exp_avg_sq(moments_[g].exp_avg_sq[i]);
      adamw.state()[params[i].unsafeGetTensorImpl()] = std::move(state);
    }
  }
  return adamw;
}

TORCHTRAIN_INLINE void MultiTensorAdamW::load_from_adamw(const torch::optim::AdamW& adamw) {
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

TORCHTRAIN_INLINE bool MultiTensorAdamW::gather(std::size_t g, StepLists& lists) {
  auto& all = param_groups_[g].params();
  auto& moments = moments_[g];
  if (moments.exp_avg.size() != all.size()) {
    moments.exp_avg.resize(all.size());
    moments.exp_avg_sq.resize(all.size());
  }
  const auto before = lists.params.size();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!all[i].grad().defined()) continue;
    if (!moments.exp_avg[i].defined()) {
      moments.exp_avg[i] = torch::zeros_like(all[i], at::MemoryFormat::Preserve);
      moments.exp_avg_sq[i] = torch::zeros_like(all[i], at::MemoryFormat::Preserve);
    }
    lists.params.push_back(all[i]);
    lists.grads.push_back(all[i].grad());
    lists.exp_avg.push_back(moments.exp_avg[i]);
    lists.exp_avg_sq.push_back(moments.exp_avg_sq[i]);
  }
  if (lists.params.size() == before) return false;
  moments.step += 1;
  return true;
}

TORCHTRAIN_INLINE void MultiTensorAdamW::multi_tensor_step(const torch::optim::AdamWOptions& options, std::int64_t step,
                                                           StepLists& lists) {
  const double lr = options.lr(), beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));

  at::_foreach_mul_(lists.params, 1 - lr * options.weight_decay());
  at::_foreach_mul_(lists.exp_avg, beta1);
  at::_foreach_add_(lists.exp_avg, lists.grads, 1 - beta1);
  at::_foreach_mul_(lists.exp_avg_sq, beta2);
  at::_foreach_addcmul_(lists.exp_avg_sq, lists.grads, lists.grads, 1 - beta2);
  auto denominator = at::_foreach_sqrt(lists.exp_avg_sq);
  at::_foreach_div_(denominator, std::sqrt(bias_correction2));
  at::_foreach_add_(denominator, options.eps());
  at::_foreach_addcdiv_(lists.params, lists.exp_avg, denominator, -lr / bias_correction1);
}

TORCHTRAIN_INLINE bool MultiTensorAdamW::same_options(const torch::optim::AdamWOptions& a,
                                                      const torch::optim::AdamWOptions& b) {
  return a.lr() == b.lr() && a.betas() == b.betas() && a.eps() == b.eps() && a.weight_decay() == b.weight_decay();
}

TORCHTRAIN_INLINE void MultiTensorAdamW::fused_step() {
  std::vector<std::pair<std::size_t, StepLists>> calls;  // the first group of each call, its tensors
  std::vector<torch::Tensor> advancing;                   // step counts that go up by one, in one call
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const bool joins = !calls.empty() && same_options(options_of(calls.back().first), options_of(g)) &&
                       !param_groups_[g].params().empty() &&
                       param_groups_[g].params().front().options().type_equal(
                           calls.back().second.params.front().options()) &&
                       param_groups_[g].params().front().device() == calls.back().second.params.front().device();
    if (!joins) calls.emplace_back(g, StepLists{});
    auto& lists = calls.back().second;
    const auto before = lists.params.size();
    if (!gather(g, lists)) {
      if (lists.params.empty()) calls.pop_back();
      continue;
    }
    auto& steps = moments_[g].device_steps;
    const auto stepped = lists.params.size() - before;
    if (steps.size() != stepped) {  // first step, after load(), or other parameters
      steps.clear();
      for (std::size_t i = before; i < lists.params.size(); ++i)
        steps.push_back(torch::full({}, static_cast<double>(moments_[g].step),
                                    lists.params[i].options().dtype(torch::kFloat)));
    } else {
      advancing.insert(advancing.end(), steps.begin(), steps.end());
    }
    lists.device_steps.insert(lists.device_steps.end(), steps.begin(), steps.end());
    if (capturable_ && !moments_[g].device_lr.defined())  // made before a capture, by the first (eager) step
      moments_[g].device_lr = torch::full({}, options_of(g).lr(), lists.params[before].options().dtype(torch::kFloat));
  }
  if (!advancing.empty()) at::_foreach_add_(advancing, 1);  // on the device: no host-to-device copy per step
  for (auto& [g, lists] : calls) {
    const auto& options = options_of(g);
    if (capturable_)  // the groups of one call share their options, so the first group's rate serves all
      at::_fused_adamw_(lists.params, lists.grads, lists.exp_avg, lists.exp_avg_sq, /*max_exp_avg_sqs=*/{},
                        lists.device_steps, moments_[g].device_lr, std::get<0>(options.betas()),
                        std::get<1>(options.betas()), options.weight_decay(), options.eps(), /*amsgrad=*/false,
                        /*maximize=*/false);
    else
      at::_fused_adamw_(lists.params, lists.grads, lists.exp_avg, lists.exp_avg_sq, /*max_exp_avg_sqs=*/{},
                        lists.device_steps, options.lr(), std::get<0>(options.betas()), std::get<1>(options.betas()),
                        options.weight_decay(), options.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
