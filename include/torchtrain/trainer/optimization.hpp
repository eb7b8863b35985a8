// Optimization: the optimizer and learning-rate schedule of a run, the user's or made from the arguments.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/optimizers.hpp>
#include <torchtrain/optim/schedulers.hpp>
#include <torchtrain/optim/train_eval_modes.hpp>
#include <torchtrain/optim/updates_in_backward.hpp>
#include <torchtrain/trainer/training_plan.hpp>

namespace torchtrain {

/// Makes the optimizer of a run from the model and the arguments (see Trainer::set_optimizer_factory).
using OptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(torch::nn::Module&, const TrainingArguments&)>;

/// Makes the learning-rate schedule of a run for its optimizer, given the run's optimizer
/// steps (see Trainer::set_scheduler_factory; the Python `create_scheduler`).
using SchedulerFactory = std::function<optim::LRScheduler(torch::optim::Optimizer& optimizer,
                                                          const TrainingArguments& args, int num_training_steps)>;

/// What train() optimizes with: the optimizer given by set_optimizers, else the factory's,
/// else the one --optim names; the scheduler given with it, else the scheduler factory's,
/// else --lr_scheduler_type's.
class Optimization {
 public:
  /// Fails now, naming the flag, on a bad --optim_args or --lr_scheduler_kwargs.
  static void check(torch::nn::Module& model, const TrainingArguments& args);

  /// A fresh optimizer and schedule for a run of `plan`.
  void begin(torch::nn::Module& model, const TrainingArguments& args, const TrainingPlan& plan);

  /// The Python `optimizers=(optimizer, scheduler)`, for the next train().
  void set_optimizers(std::unique_ptr<torch::optim::Optimizer> optimizer, std::optional<optim::LRScheduler> scheduler);
  void set_factory(OptimizerFactory factory) { factory_ = std::move(factory); }
  void set_scheduler_factory(SchedulerFactory factory) { scheduler_factory_ = std::move(factory); }

  torch::optim::Optimizer* optimizer() const { return optimizer_.get(); }

  /// The optimizer's eval mode before an evaluation or a save, its train mode before a
  /// training step (schedule-free: optim::TrainEvalModes); nothing for other optimizers.
  void eval_mode();
  void train_mode();

  /// True when the optimizer updates each parameter inside backward (LOMO, AdaLomo, the
  /// layerwise forms): no gradients are left to clip, and the step itself does nothing.
  bool updates_in_backward() const { return updates_in_backward_; }

  /// True when the optimizer has a train and an eval mode (schedule-free), whose switch
  /// changes the weights.
  bool switches_weights() const { return modes_ != nullptr; }

  /// Refuses, before the first step, what an optimizer that updates inside backward cannot
  /// do: accumulate gradients, unscale them (--fp16) or wait for other processes' (DDP).
  void check_updates_in_backward(const TrainingArguments& args, int world_size) const;
  optim::LRScheduler* scheduler() const { return scheduler_.get(); }
  std::vector<torch::Tensor>& parameters() { return parameters_; }

 private:
  // What the loop must do differently for the optimizer: switch its modes, or not clip.
  void note_optimizer_kind();

  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LRScheduler> scheduler_;
  std::unique_ptr<torch::optim::Optimizer> given_optimizer_;  // by set_optimizers, for the next train()
  std::optional<optim::LRScheduler> given_scheduler_;
  OptimizerFactory factory_;
  SchedulerFactory scheduler_factory_;
  std::vector<torch::Tensor> parameters_;
  optim::TrainEvalModes* modes_ = nullptr;
  bool updates_in_backward_ = false;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE void Optimization::check(torch::nn::Module& model, const TrainingArguments& args) {
  parse_scheduler_kwargs(args.lr_scheduler_kwargs);
  Optimization made;
  made.optimizer_ = optim::make_optimizer(model, args);
  made.note_optimizer_kind();
  made.check_updates_in_backward(args, /*world_size=*/1);
}

TORCHTRAIN_INLINE void Optimization::begin(torch::nn::Module& model, const TrainingArguments& args, const TrainingPlan& plan) {
  optimizer_.reset();  // the last run's, before a new one takes over the same parameters
  if (given_optimizer_)
    optimizer_ = std::move(given_optimizer_);
  else if (factory_)
    optimizer_ = factory_(model, args);
  else
    optimizer_ = optim::make_optimizer(model, args);
  parameters_ = model.parameters();  // clipped in model order, as Python clips model.parameters()
  note_optimizer_kind();
  if (given_scheduler_) {
    scheduler_ = std::make_unique<optim::LRScheduler>(std::move(*given_scheduler_));
    given_scheduler_.reset();
    return;
  }
  if (scheduler_factory_) {
    scheduler_ = std::make_unique<optim::LRScheduler>(scheduler_factory_(*optimizer_, args, plan.max_steps));
    return;
  }
  const auto options = parse_scheduler_kwargs(args.lr_scheduler_kwargs);
  scheduler_ = std::make_unique<optim::LRScheduler>(
      *optimizer_,
      optim::LRSchedule(args.lr_scheduler_type, optim::resolve_warmup_steps(args, plan.max_steps), plan.max_steps,
                        options, optimizer_->param_groups().front().options().get_lr()),
      options);
}

TORCHTRAIN_INLINE void Optimization::set_optimizers(std::unique_ptr<torch::optim::Optimizer> optimizer, std::optional<optim::LRScheduler> scheduler) {
  if (!optimizer && scheduler)
    throw ArgumentError("set_optimizers: a scheduler needs the optimizer it was made for");
  given_optimizer_ = std::move(optimizer);
  given_scheduler_ = std::move(scheduler);
}

TORCHTRAIN_INLINE void Optimization::eval_mode() {
  if (modes_) modes_->eval();
}

TORCHTRAIN_INLINE void Optimization::train_mode() {
  if (modes_) modes_->train();
}

TORCHTRAIN_INLINE void Optimization::check_updates_in_backward(const TrainingArguments& args, int world_size) const {
  if (!updates_in_backward_) return;
  const auto name = enum_names(args.optim)[static_cast<std::size_t>(args.optim)];
  if (args.gradient_accumulation_steps != 1)
    throw ArgumentError(fmt::format("--optim {} updates each parameter inside backward, so it cannot accumulate "
                                    "gradients: set --gradient_accumulation_steps 1 (it is {}) and raise "
                                    "--per_device_train_batch_size instead",
                                    name, args.gradient_accumulation_steps));
  if (args.fp16)
    throw ArgumentError(fmt::format("--optim {} updates each parameter inside backward, before a loss scaler "
                                    "could unscale or skip it: use --bf16 instead of --fp16",
                                    name));
  if (world_size > 1)
    throw ArgumentError(fmt::format("--optim {} updates each parameter inside backward, before the processes' "
                                    "gradients are averaged; it does not support {} processes (as in Python): "
                                    "train on one process, or choose another --optim",
                                    name, world_size));
}

TORCHTRAIN_INLINE void Optimization::note_optimizer_kind() {
  modes_ = dynamic_cast<optim::TrainEvalModes*>(optimizer_.get());
  const auto* in_backward = dynamic_cast<const optim::UpdatesInBackward*>(optimizer_.get());
  updates_in_backward_ = in_backward && in_backward->updates_in_backward();
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
