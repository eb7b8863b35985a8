// Learning-rate schedules with the Python Trainer's formulas, and the scheduler that applies them.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/optim/optimizer.h>

#include <torchtrain/arguments/training_arguments.hpp>

namespace torchtrain::optim {

/// Warmup steps as the Python Trainer resolves them: warmup_steps >= 1 counts steps, a
/// warmup_steps in (0, 1) is a ratio, else warmup_ratio; a ratio r gives ceil(r x total).
inline int resolve_warmup_steps(const TrainingArguments& args, int total_steps) {
  if (args.warmup_steps >= 1) return static_cast<int>(args.warmup_steps);
  double ratio = args.warmup_steps > 0 ? args.warmup_steps : args.warmup_ratio;
  return static_cast<int>(std::ceil(ratio * total_steps));
}

/// The multiplier of the base learning rate at scheduler step s (0 at the first step).
struct LRSchedule {
  SchedulerType type = SchedulerType::linear;
  int warmup_steps = 0;
  int total_steps = 0;

  double factor(int step) const {
    if (type == SchedulerType::constant) return 1.0;
    if (step < warmup_steps) return static_cast<double>(step) / std::max(1, warmup_steps);
    switch (type) {
      case SchedulerType::linear:
        return std::max(0.0, static_cast<double>(total_steps - step) /
                                 std::max(1, total_steps - warmup_steps));
      case SchedulerType::constant_with_warmup:
      case SchedulerType::constant:
        return 1.0;
    }
    return 1.0;
  }
};

/// Sets each parameter group's learning rate to base x factor(step), like PyTorch's
/// LambdaLR: the factor of step 0 applies from construction, step() moves to the next.
class LRScheduler {
 public:
  LRScheduler(torch::optim::Optimizer& optimizer, LRSchedule schedule)
      : optimizer_(&optimizer), schedule_(schedule) {
    for (auto& group : optimizer.param_groups()) base_learning_rates_.push_back(group.options().get_lr());
    apply();
  }

  void step() {
    ++step_;
    apply();
  }
  /// The learning rate of the first parameter group, as the Python Trainer logs it.
  double last_lr() const { return optimizer_->param_groups().front().options().get_lr(); }
  int steps_taken() const { return step_; }
  const LRSchedule& schedule() const { return schedule_; }

 private:
  void apply() {
    const double factor = schedule_.factor(step_);
    auto& groups = optimizer_->param_groups();
    for (std::size_t i = 0; i < groups.size(); ++i)
      groups[i].options().set_lr(base_learning_rates_[i] * factor);
  }

  torch::optim::Optimizer* optimizer_;
  LRSchedule schedule_;
  std::vector<double> base_learning_rates_;
  int step_ = 0;
};

}  // namespace torchtrain::optim
