// TrainingStep: what a training step (the Trainer's, or one the user writes) works with for one micro-batch: the model, autocast, the loss, backward, logs.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/step_logs.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/trainer/detail/forward.hpp>
#include <torchtrain/trainer/step_overrides.hpp>

namespace torchtrain {

/// How a loss handed to TrainingStep::backward was averaged.
enum class LossScale {
  micro_batch_mean,      // the mean over this micro-batch: the Trainer divides by the micro-batches of the window
  divided_by_num_items,  // already divided by step.num_items_in_batch(): the Trainer leaves it as it is
};

/// The window of micro-batches of one optimizer step, as a training step sees it: the
/// policies' autocast and backward, the loss of the Trainer, the labels of the window, and
/// the logs. One object serves every micro-batch of the window; a user's `training_step`
/// (see ReplacesTrainingStep) takes it as `auto& step`.
template <class Model, class Batch, class Loss, class Precision, class Strategy>
class TrainingStep {
 public:
  TrainingStep(Model& model, Loss& loss, Precision& precision, Strategy& strategy, const TrainingArguments& args,
               StepLogs& logs, std::span<const Batch> window, int global_step)
      : model_(model), loss_(loss), precision_(precision), strategy_(strategy), args_(args), logs_(logs),
        window_(window), global_step_(global_step) {}

  Model& model() const { return model_; }
  const TrainingArguments& args() const { return args_; }
  /// The model on `batch` as the Trainer calls it: `forward(batch.inputs)`, or `forward(batch)`.
  decltype(auto) forward(const Batch& batch) const { return detail::forward(model_, batch); }
  /// Runs `compute` under the precision policy's autocast (a no-op in FP32).
  template <class Compute>
  decltype(auto) autocast(Compute&& compute) const {
    return precision_.autocast(std::forward<Compute>(compute));
  }
  /// The Trainer's loss of `batch` (compute_loss's, or the loss's of the forward's outputs),
  /// the batch's mean: call it under autocast.
  torch::Tensor compute_loss(const Batch& batch) const { return trainer_loss(batch, torch::Tensor()); }

  /// The labels that count in the whole window (loss::count_items), summed over every
  /// process with --average_tokens_across_devices: divide a summed token loss by it and
  /// pass LossScale::divided_by_num_items to backward. Computed once per window.
  const torch::Tensor& num_items_in_batch() {
    if (!num_items_in_batch_.defined()) {
      auto count = loss::count_items(loss_, window_.front());
      for (std::size_t i = 1; i < window_.size(); ++i) count = count + loss::count_items(loss_, window_[i]);
      num_items_in_batch_ = across_devices() ? strategy_.reduce_sum(count) : count;
    }
    return num_items_in_batch_;
  }

  /// Backpropagates `loss` through the precision policy (scaled for FP16), made the share of
  /// the window's gradient that this micro-batch contributes; the gradients of every
  /// micro-batch but the window's last stay on this process under DDP (no-sync). Every
  /// training step must call it; calling it more than once adds up the gradients.
  void backward(torch::Tensor loss, LossScale scale = LossScale::micro_batch_mean) {
    if (scale == LossScale::micro_batch_mean && window_.size() > 1) loss = loss / static_cast<double>(window_.size());
    // The count covers every process's labels, and DDP averages the gradients: undo that.
    if (scale == LossScale::divided_by_num_items && across_devices()) loss = loss * strategy_.world_size();
    if (args_.torch_empty_cache_steps && global_step_ % *args_.torch_empty_cache_steps == 0 && strategy_.device().is_cuda())
      c10::getDeviceAllocator(c10::DeviceType::CUDA)->emptyCache();
    precision_.backward(loss);
    micro_batch_loss_ = micro_batch_loss_.defined() ? micro_batch_loss_ + loss.detach() : loss.detach();
  }

  /// Adds `value` under `key` to the next training log (the mean over the steps it covers).
  void log(std::string_view key, const torch::Tensor& value) { logs_.add(key, value); }
  void log(std::string_view key, double value) { logs_.add(key, value); }

  /// The micro-batches of this optimizer step, and whether the current one is the last.
  std::size_t micro_batches() const { return window_.size(); }
  bool is_last_micro_batch() const { return last_; }

  /// The Trainer's own step (the Python `super().training_step`): forward and loss under
  /// autocast, then backward. A counting loss divides by the labels of the window, except
  /// in a window of one micro-batch on one process, whose mean is already exact.
  void default_training_step(const Batch& batch) {
    if constexpr (detail::counts_items<Loss, Model, Batch>) {
      if (window_.size() > 1 || across_devices()) {
        const auto& count = num_items_in_batch();
        backward(autocast([&] { return trainer_loss(batch, count); }), LossScale::divided_by_num_items);
        return;
      }
    }
    backward(autocast([&] { return compute_loss(batch); }));
  }

  // For the loop: around each micro-batch's step.
  void begin_micro_batch(bool last) {
    last_ = last;
    micro_batch_loss_ = torch::Tensor();
  }
  /// The loss that went to backward for this micro-batch, for the training log.
  torch::Tensor end_micro_batch() {
    if (!micro_batch_loss_.defined())
      throw std::logic_error("the training step returned without calling step.backward(loss): nothing was trained; "
                             "hand the micro-batch's loss to step.backward");
    return std::exchange(micro_batch_loss_, torch::Tensor());
  }

 private:
  // The Trainer's loss of `batch`; a counting loss divides by `num_items_in_batch` when it is defined.
  torch::Tensor trainer_loss(const Batch& batch, const torch::Tensor& num_items_in_batch) const {
    return detail::loss_of(detail::compute_loss(loss_, model_, batch, num_items_in_batch));
  }
  bool across_devices() const { return args_.average_tokens_across_devices && strategy_.world_size() > 1; }

  Model& model_;
  Loss& loss_;
  Precision& precision_;
  Strategy& strategy_;
  const TrainingArguments& args_;
  StepLogs& logs_;
  std::span<const Batch> window_;
  int global_step_;
  torch::Tensor num_items_in_batch_;  // computed on first use
  torch::Tensor micro_batch_loss_;
  bool last_ = false;
};

}  // namespace torchtrain
