// TrainingProgress: what a run has done so far for its logs: the running loss, tokens, floating-point operations, time.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/nn/parameter_count.hpp>
#include <torchtrain/trainer/detail/main_input.hpp>
#include <torchtrain/trainer/loss_sum.hpp>

namespace torchtrain {

namespace detail {
inline double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}
}  // namespace detail

/// The counters behind the training logs, as the Python Trainer keeps them: the step losses
/// since the last log (and their total), the input tokens (--include_num_input_tokens_seen)
/// and total_flos (6 x main input elements x parameters outside embeddings), and the time
/// and step this train() began at. Sums over processes go through the strategy.
class TrainingProgress {
  using Clock = std::chrono::steady_clock;

 public:
  explicit TrainingProgress(const TrainingArguments& args)
      : tokens_seen_(*detail::parse_value<TokensSeen>(args.include_num_input_tokens_seen)) {}  // validated

  /// Starts counting a fresh run of `model` on `device` (a resumed one then loads its counts).
  void begin(const torch::nn::Module& model, torch::Device device) {
    loss_since_log_ = LossSum(LossSum::where_for(device));
    total_loss_ = 0;
    last_logged_step_ = 0;
    current_flos_ = 0;
    grad_norm = torch::Tensor();
    non_embedding_parameters_ = nn::non_embedding_parameters(model);
  }
  /// Marks where this train() call starts (after a resume), for the speeds it logs.
  void start_clock(const TrainerState& state) {
    train_start_ = Clock::now();
    initial_global_step_ = state.global_step;
    initial_tokens_seen_ = state.num_input_tokens_seen;
  }

  /// Counts a micro-batch's input tokens (summed over processes) and operations.
  template <class Batch, class Strategy>
  void count_batch(const Batch& batch, const Strategy& strategy, TrainerState& state) {
    if constexpr (requires { detail::main_input(batch); }) {
      const auto inputs = static_cast<double>(detail::main_input(batch).numel());
      current_flos_ += 6.0 * inputs * static_cast<double>(non_embedding_parameters_);
      if (tokens_seen_ == TokensSeen::no) return;
      std::int64_t tokens = detail::main_input(batch).numel();
      if constexpr (requires { batch.attention_mask; })
        if (tokens_seen_ == TokensSeen::non_padding && batch.attention_mask.defined())
          tokens = batch.attention_mask.sum().template item<std::int64_t>();
      if (strategy.world_size() > 1)
        tokens = strategy.reduce_sum(torch::full({1}, tokens, torch::TensorOptions(torch::kLong).device(strategy.device())))
                     .template item<std::int64_t>();
      state.num_input_tokens_seen += tokens;
    }
  }

  /// A micro-batch's loss. With --logging_nan_inf_filter a NaN or infinite loss counts as
  /// the mean of the losses since the last log, by Python's formula (see LossSum).
  void add_loss(const torch::Tensor& loss, const TrainingArguments& args, const TrainerState& state) {
    loss_since_log_.add(loss, args.logging_nan_inf_filter
                                  ? std::optional<double>(1.0 + state.global_step - last_logged_step_)
                                  : std::nullopt);
  }

  /// Adds the operations since the last call (of every process) to total_flos, as Python's
  /// store_flos at each log, save and the end of training.
  template <class Strategy>
  void store_flos(const Strategy& strategy, TrainerState& state) {
    double flos = current_flos_;
    if (strategy.world_size() > 1)
      flos = strategy.reduce_sum(torch::full({1}, flos, torch::TensorOptions(torch::kDouble).device(strategy.device()))).template item<double>();
    state.total_flos += flos;
    current_flos_ = 0;
  }

  /// The interval log: the mean step loss since the last log, the gradient norm and the rate.
  template <class Strategy>
  Metrics interval_logs(const Strategy& strategy, TrainerState& state) {
    const double loss_sum = take_loss_since_log(strategy);
    total_loss_ += loss_sum;
    Metrics logs{{"loss", loss_sum / (state.global_step - last_logged_step_)}};
    if (grad_norm.defined()) logs.set("grad_norm", strategy.reduce_mean(grad_norm).template item<double>());
    logs.set("learning_rate", learning_rate);
    last_logged_step_ = state.global_step;
    store_flos(strategy, state);
    return logs;
  }
  bool logged_at(int global_step) const { return last_logged_step_ >= global_step; }

  /// What every log carries with tokens counted: the tokens seen, and for a training log
  /// the time since this train() began and its tokens per second.
  void add_to_log(Metrics& logs, const TrainerState& state, bool training_log) const {
    if (tokens_seen_ == TokensSeen::no) return;
    logs.set("num_input_tokens_seen", static_cast<double>(state.num_input_tokens_seen));
    if (!training_log) return;
    const double runtime = seconds_since_start();
    logs.set("train_runtime", detail::round_to(runtime, 4));
    logs.set("train_tokens_per_second",
             detail::round_to(static_cast<double>(state.num_input_tokens_seen - initial_tokens_seen_) / runtime, 3));
  }

  /// train()'s own metrics: speed over the planned samples and steps it trained, the mean
  /// loss over every step of the run (a resumed one included; Python's covers this call's).
  template <class Strategy>
  Metrics train_metrics(const Strategy& strategy, TrainerState& state, double planned_samples, int max_steps) {
    const double runtime = seconds_since_start();
    total_loss_ += take_loss_since_log(strategy);
    const int steps_trained = state.global_step - initial_global_step_;
    store_flos(strategy, state);
    return {{"train_runtime", detail::round_to(runtime, 4)},
            {"train_samples_per_second",
             detail::round_to(planned_samples * steps_trained / std::max(max_steps, 1) / runtime, 3)},
            {"train_steps_per_second", detail::round_to(steps_trained / runtime, 3)},
            {"total_flos", state.total_flos},
            {"train_loss", total_loss_ / std::max(state.global_step, 1)}};
  }

  /// A run resumed from a Python checkpoint, which holds no loop state: as the Python
  /// Trainer, the running loss starts again from the resumed step.
  void restart_at(int global_step) { last_logged_step_ = global_step; }
  void save(torch::serialize::OutputArchive& archive) const {
    loss_since_log_.save(archive);
    archive.write("total_loss", c10::IValue(total_loss_));
    archive.write("last_logged_step", c10::IValue(static_cast<std::int64_t>(last_logged_step_)));
  }
  void load(torch::serialize::InputArchive& archive, torch::Device device) {
    loss_since_log_.load(archive, device);
    c10::IValue value;
    archive.read("total_loss", value);
    total_loss_ = value.toDouble();
    archive.read("last_logged_step", value);
    last_logged_step_ = static_cast<int>(value.toInt());
  }

  torch::Tensor grad_norm;     // of the last step, before clipping
  double learning_rate = 0;    // the rate of the last step
  bool training = false;       // inside train(), where evaluation keeps the model's type

 private:
  double seconds_since_start() const { return std::chrono::duration<double>(Clock::now() - train_start_).count(); }
  // The sum of the step losses since the last log (averaged over processes), then resets it.
  template <class Strategy>
  double take_loss_since_log(const Strategy& strategy) {
    const auto& sum = loss_since_log_.sum();
    const double value = sum.defined() ? strategy.reduce_mean(sum).template item<double>() : 0.0;
    loss_since_log_.reset();
    return value;
  }

  TokensSeen tokens_seen_;
  LossSum loss_since_log_;
  double total_loss_ = 0;
  int last_logged_step_ = 0;
  Clock::time_point train_start_;
  int initial_global_step_ = 0;
  std::int64_t initial_tokens_seen_ = 0;
  std::int64_t non_embedding_parameters_ = 0;
  double current_flos_ = 0;  // since the last store_flos
};

}  // namespace torchtrain
