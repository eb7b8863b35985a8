// TrainingLoop: the Python Trainer's train(): epochs of optimizer steps, each a window of micro-batches, with logs, evaluations and checkpoints where the flow asks.
#pragma once

#include <algorithm>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/callbacks/callback_states.hpp>
#include <torchtrain/callbacks/events.hpp>
#include <torchtrain/checkpoint/resume_from.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/io/training_plot.hpp>
#include <torchtrain/nn/neftune_embedding.hpp>
#include <torchtrain/nn/parameter_count.hpp>
#include <torchtrain/optim/zero_grad.hpp>
#include <torchtrain/policies/accumulation/accumulation_hooks.hpp>
#include <torchtrain/policies/checkpointer/checkpointer_policy.hpp>
#include <torchtrain/policies/strategy/strategy_hooks.hpp>
#include <torchtrain/trainer/best_model.hpp>
#include <torchtrain/trainer/jit_checkpoint.hpp>
#include <torchtrain/trainer/loop_state.hpp>
#include <torchtrain/trainer/non_finite_watch.hpp>
#include <torchtrain/trainer/snapshot.hpp>
#include <torchtrain/trainer/trainer_core.hpp>
#include <torchtrain/trainer/training_data.hpp>
#include <torchtrain/trainer/training_plan.hpp>
#include <torchtrain/trainer/training_step.hpp>

namespace torchtrain {

/// The loop of one Trainer's train(), on the parts TrainerCore holds and the training
/// data. Users meet it through Trainer, not by name.
template <class Policies, class Model, class TrainDataset, class EvalDataset, class Loss, class Compute, class Callbacks>
class TrainingLoop final
    : public TrainerCore<Policies, Model, typename TrainingData<TrainDataset>::Batch, EvalDataset, Loss, Compute, Callbacks> {
  using Batch = typename TrainingData<TrainDataset>::Batch;
  using Core = TrainerCore<Policies, Model, Batch, EvalDataset, Loss, Compute, Callbacks>;
  using Step = TrainingStep<Model, Batch, Loss, typename Policies::precision, typename Policies::strategy>;
  using Core::args_, Core::callbacks_, Core::control_, Core::evaluator_, Core::loss_, Core::memory_, Core::model_,
      Core::optimization_, Core::policies_, Core::progress_, Core::state_, Core::step_logs_;
  using Core::evaluate_eval_datasets, Core::flush_logs, Core::log, Core::notify, Core::should_save;

 public:
  template <class... Given>
  TrainingLoop(PolicyValues<Given...> policies, Model model, TrainingArguments args, TrainDataset train_dataset,
               EvalDataset eval_dataset, Loss loss, Compute compute_metrics, Callbacks callbacks)
      : Core(std::move(policies), std::move(model), std::move(args), std::move(eval_dataset), std::move(loss),
             std::move(compute_metrics), std::move(callbacks)),
        data_(std::move(train_dataset)) {
    data_.check(args_);
  }

  void set_train_dataloader(data::LoaderCustomization customize) override { data_.set_customization(std::move(customize)); }

  TrainOutput train(const ResumeFrom& resume_from_checkpoint) override {
    memory_.start("train");
    auto& strategy = policies_.strategy;
    data_.prepare(args_, strategy.device());
    const auto plan = data_.plan(args_, policies_.accumulation.steps(args_), strategy.world_size(), strategy.rank());
    begin_run(plan);
    // A resumed run continues where the checkpoint was taken, skipping the batches of the
    // current epoch that it already trained on (unless --ignore_data_skip).
    const auto& checkpointer = policies_.checkpointer;
    if (const auto folder = resume_from_checkpoint.folder(args_.output_dir, checkpointer.latest(args_.output_dir))) {
      resume(*folder, plan);
      if (args_.ignore_data_skip) data_.position.batches_taken = 0;
    }
    if (LogLevel::info >= verbosity())
      announce_training(plan, args_, data_.num_examples(plan, strategy.world_size()), strategy.world_size(),
                        nn::trainable_parameters(*model_));
    // As in Python, NEFTune's noise is on for train() only.
    if (args_.neftune_noise_alpha) nn::set_neftune_noise_alpha(*model_, *args_.neftune_noise_alpha);
    progress_.start_clock(state_);
    non_finite_.begin(strategy.device().is_cpu(), state_.log_history);
    jit_checkpoint_.emplace(args_.enable_jit_checkpoint);
    // The signals' own handlers come back however train() ends.
    struct EndJitCheckpoint {
      std::optional<JitCheckpoint>& held;
      ~EndJitCheckpoint() { held.reset(); }
    } end_jit_checkpoint{jit_checkpoint_};
    control_.should_training_stop = false;
    progress_.training = true;
    notify(event::on_train_begin{});
    if (strategy.is_main_process()) logger_hooks::on_train_begin(policies_.logger, state_);
    // A sanity check before the first step: it neither counts for the best metric nor steps a plateau schedule.
    if (args_.eval_on_start) evaluate_eval_datasets("eval");
    for (int epoch = data_.position.epoch;
         epoch < plan.num_epochs && state_.global_step < plan.max_steps && !control_.should_training_stop; ++epoch)
      train_epoch(plan, epoch);
    jit_checkpoint_.reset();
    report_non_finite();  // what the last steps left unread
    optimization_.eval_mode();  // a schedule-free run ends with the weights it evaluates and saves

    Metrics metrics = progress_.train_metrics(strategy, state_, planned_samples(plan, args_, strategy.world_size()), plan.max_steps);
    memory_.stop_and_update("train", metrics);
    policies_.checkpointer.wait();  // every checkpoint is on disk before train() returns
    strategy.barrier("waiting for rank 0 to finish writing checkpoints");  // before any rank reads one
    if (args_.neftune_noise_alpha) nn::set_neftune_noise_alpha(*model_, 0);
    if (args_.load_best_model_at_end && state_.best_model_checkpoint)
      load_best_model(policies_.checkpointer, policies_.strategy, model_, args_, state_, should_save());
    else if (args_.load_best_model_at_end && strategy.is_main_process())
      message(LogLevel::warning, "--load_best_model_at_end: no checkpoint of this run holds a best model (no "
                                 "evaluation gave a best --metric_for_best_model {}; NaN is never the best), so the "
                                 "model keeps the last step's weights",
              args_.metric_for_best_model.value_or("loss"));
    progress_.training = false;
    metrics = log(metrics, /*training_log=*/false);
    notify(event::on_train_end{});
    if (strategy.is_main_process()) {
      logger_hooks::on_train_end(policies_.logger, state_);
      flush_logs();
      // A picture of the run, beside the checkpoints (and trainer_state.json once saved).
      std::filesystem::create_directories(args_.output_dir);
      io::write_training_plot(state_, std::filesystem::path(args_.output_dir) / Checkpoint::training_plot_file);
    }
    return {state_.global_step, metrics.at("train_loss"), metrics};
  }

 private:
  // One epoch: optimizer steps over windows of `accumulation_steps` micro-batches, the last
  // window short when the epoch's batches run out. The whole window is fetched first, so
  // that a token-level loss can be divided by the labels of the window (num_items_in_batch).
  void train_epoch(const TrainingPlan& plan, int epoch) {
    data_.start_epoch(epoch);
    control_.should_epoch_stop = false;
    notify(event::on_epoch_begin{});
    std::vector<Batch> window;
    std::vector<torch::Tensor> window_losses;
    while (data_.next_window(window, plan.accumulation_steps, policies_.strategy.device())) {
      control_.should_log = control_.should_evaluate = control_.should_save = false;
      optimization_.train_mode();  // as the Python training_step, after an evaluation or a save
      notify(event::on_step_begin{});
      Step step(model_, loss_, policies_.precision, policies_.strategy, args_, step_logs_, std::span<const Batch>(window),
                state_.global_step);
      StepParts parts{*this, step, window_losses};
      // A step the --fp16 loss scaler skipped overflowed by design: its values are no divergence.
      if (accumulation_hooks::run_step(policies_.accumulation, std::span(window), policies_.strategy, parts))
        for (const auto& loss : window_losses) non_finite_.add(NonFiniteWatch::loss, state_.global_step + 1, loss);
      window_losses.clear();
      state_.global_step += 1;
      state_.epoch = epoch + data_.epoch_progress(plan);
      notify(event::on_step_end{});
      if (policies_.strategy.is_main_process()) logger_hooks::on_step_end(policies_.logger, state_);
      if (non_finite_check_due()) report_non_finite();
      if (jit_checkpoint_->requested(policies_.strategy)) {
        message(LogLevel::warning, "{}: saving a checkpoint at step {} and stopping (--enable_jit_checkpoint); "
                                   "resume with --resume_from_checkpoint true",
                JitCheckpoint::signal_name(), state_.global_step);
        control_.should_save = control_.should_training_stop = true;
      }
      log_evaluate_save();
      if (control_.should_epoch_stop || control_.should_training_stop) break;
    }
    data_.end_epoch(args_, control_.should_training_stop);
    notify(event::on_epoch_end{});
    log_evaluate_save();
  }

  // The user's training_step when the loss object has one, else the Trainer's: either way
  // the loss goes to backward through the step, which scales it for the window.
  void training_step(Step& step, const Batch& batch) {
    if constexpr (ReplacesTrainingStep<Loss, Step, Batch>)
      loss_.training_step(step, batch);
    else
      step.default_training_step(batch);
  }

  // One optimizer step's parts, for the accumulation policy (accumulation_hooks::run_step):
  // each micro-step and the optimizer step whole, or split into host bookkeeping and device
  // work, the part a CUDA graph captures (CudaGraphs).
  struct StepParts {
    using precision = typename Policies::precision;
    TrainingLoop& loop;
    Step& step;
    std::vector<torch::Tensor>& window_losses;

    void micro_step(const Batch& batch, bool last) {
      begin_micro_batch(batch, last);
      end_micro_batch(device_micro_batch(batch), last);
    }
    void begin_micro_batch(const Batch& batch, bool last) {
      loop.progress_.count_batch(batch, loop.policies_.strategy, loop.state_);
      loop.policies_.strategy.synchronize_buffers();
      step.begin_micro_batch(last);
    }
    torch::Tensor device_micro_batch(const Batch& batch) {
      loop.training_step(step, batch);
      return step.end_micro_batch();
    }
    void end_micro_batch(torch::Tensor loss, bool last) {
      window_losses.push_back(std::move(loss));
      loop.progress_.add_loss(window_losses.back(), loop.args_, loop.state_);
      if (!last) loop.notify(event::on_substep_end{});
    }
    bool optimizer_step() { return loop.optimizer_step(); }
    std::optional<torch::Tensor> device_optimizer_step() {
      auto grad_norm = loop.unscale_and_clip();
      checkpointer_hooks::wait_for_copy(loop.policies_.checkpointer);
      loop.policies_.precision.optimizer_step(*loop.optimization_.optimizer());
      return grad_norm;
    }
    bool end_device_optimizer_step(std::optional<torch::Tensor> grad_norm) {
      if (grad_norm) loop.progress_.grad_norm = std::move(*grad_norm);
      loop.notify(event::on_pre_optimizer_step{});
      loop.end_optimizer_step(/*stepped=*/true);
      return true;
    }
  };

  // Unscale, clip, step, schedule, zero: in the Python Trainer's order. Returns whether the
  // optimizer stepped (the --fp16 loss scaler skips a step whose gradients overflowed).
  bool optimizer_step() {
    if (auto grad_norm = unscale_and_clip()) progress_.grad_norm = std::move(*grad_norm);
    notify(event::on_pre_optimizer_step{});
    checkpointer_hooks::wait_for_copy(policies_.checkpointer);  // the last save's copy of what the step changes
    const bool stepped = policies_.precision.optimizer_step(*optimization_.optimizer());
    end_optimizer_step(stepped);
    return stepped;
  }
  // The gradients unscaled and clipped: the norm before clipping, where they are clipped.
  std::optional<torch::Tensor> unscale_and_clip() {
    policies_.precision.unscale_gradients(*optimization_.optimizer());
    // An optimizer that updated in backward left no gradients to clip.
    if (args_.max_grad_norm > 0 && !optimization_.updates_in_backward())
      return strategy_hooks::clip_grad_norm(policies_.strategy, optimization_.parameters(), args_.max_grad_norm);
    return std::nullopt;
  }
  // What follows the optimizer's step: the watch on the norm, the callbacks, the schedule, zero.
  void end_optimizer_step(bool stepped) {
    auto& optimizer = *optimization_.optimizer();
    auto& scheduler = *optimization_.scheduler();
    if (stepped && progress_.grad_norm.defined())
      non_finite_.add(NonFiniteWatch::grad_norm, state_.global_step + 1, progress_.grad_norm);
    strategy_hooks::after_optimizer_step(policies_.strategy);
    notify(event::on_optimizer_step{});
    progress_.learning_rate = scheduler.last_lr();  // the rate this step used
    if (stepped && !scheduler.steps_on_metrics()) scheduler.step();
    optim::zero_grad_set_to_none(optimizer);
  }

  // Says once per run at which step the loss or the gradient norm first was not a finite
  // number, and records it in log_history (so in trainer_state.json). The run goes on, as
  // Python's does, unless --debug underflow_overflow asks to stop there. A collective.
  void report_non_finite() {
    for (const auto& found : non_finite_.take_findings(policies_.strategy)) {
      state_.log_history.push_back(Metrics{{found.key(), found.value}, {"step", found.step}});
      if (stops_at_non_finite()) {
        policies_.checkpointer.wait();
        this->save_state();
        throw NonFiniteWatch::stop_error(
            found, (std::filesystem::path(args_.output_dir) / Checkpoint::trainer_state_file).string());
      }
      if (policies_.strategy.is_main_process()) NonFiniteWatch::warn(found, args_.logging_nan_inf_filter);
    }
  }
  bool stops_at_non_finite() const {
    return std::ranges::find(args_.debug, "underflow_overflow") != args_.debug.end();
  }
  // Every step where reading the values is free (one process on the CPU) or asked for,
  // else where a log reads values anyway and every check_every steps. The same answer on
  // every process, since with several report_non_finite is a collective.
  bool non_finite_check_due() const {
    return stops_at_non_finite() || (non_finite_.reads_each_value() && policies_.strategy.world_size() == 1) ||
           control_.should_log || state_.global_step % NonFiniteWatch::check_every == 0;
  }

  // Acts on the control flags that the flow and the callbacks set.
  void log_evaluate_save() {
    if (control_.should_log && !progress_.logged_at(state_.global_step))
      log(progress_.interval_logs(policies_.strategy, state_), /*training_log=*/true);
    if (control_.should_evaluate && Evaluator<EvalDataset, Compute>::has_eval_dataset) {
      auto metrics = evaluate_eval_datasets("eval");
      // As in Python, a plateau rule watches metric_for_best_model (default: loss).
      if (optimization_.scheduler()->steps_on_metrics()) optimization_.scheduler()->step(best_model_metric(args_, metrics));
      const bool speaks = policies_.strategy.is_main_process();
      if (update_best_metric(args_, metrics, state_, speaks) && args_.save_strategy == SaveStrategy::best)
        control_.should_save = true;
    }
    control_.should_evaluate = false;
    if (control_.should_save) {
      save_checkpoint();
      control_.should_save = false;
      notify(event::on_save{});
    }
  }

  // Saves output_dir/checkpoint-<step> through the checkpointer, on the processes that save;
  // every process takes part (the strategy gathers their random states).
  void save_checkpoint() {
    if constexpr (Policies::checkpointer::writes_checkpoints) {
      const auto folder = policies_.checkpointer.folder_for(args_.output_dir, state_.global_step);
      // This checkpoint holds the best model when the evaluation just before it was the best.
      if (state_.best_global_step == state_.global_step) state_.best_model_checkpoint = folder.string();
      flush_logs();  // a checkpoint's logs are in the log files too
      message(LogLevel::info, "Saving model checkpoint to {}", folder.string());
      progress_.store_flos(policies_.strategy, state_);  // as Python, the checkpoint's total_flos is up to date
      const bool saves = should_save();
      optimization_.eval_mode();  // the weights to keep; the next step's train_mode() moves back
      auto rng_states = args_.save_only_model ? decltype(random_states(policies_.strategy, args_, false)){}
                                              : random_states(policies_.strategy, args_, saves);
      if (saves) {
        save_callback_states(callbacks_, control_, state_);
        // The last save must be on disk first: a strategy's processes may write files of this one beside it.
        policies_.checkpointer.wait();
      }
      auto snapshot = take_snapshot(model_, policies_.strategy, policies_.precision, args_, state_, optimization_,
                                    loop_state_bytes(progress_, data_.position), std::move(rng_states), folder, saves);
      if (saves)
        policies_.checkpointer.save(std::move(snapshot), {folder, args_.save_total_limit, state_.best_model_checkpoint,
                                                          copy_beside_training(), buffer_names()});
    }
  }
  // Whether the weights and the optimizer's state stay as they are until the next optimizer
  // step (which, and every callback given the model, first waits for the copy): not when
  // the optimizer updates inside backward or switches the weights between its modes, nor
  // when the user's training_step may touch them.
  bool copy_beside_training() const {
    return !optimization_.updates_in_backward() && !optimization_.switches_weights() &&
           !ReplacesTrainingStep<Loss, Step, Batch>;
  }
  std::vector<std::string> buffer_names() const {
    std::vector<std::string> names;
    for (const auto& item : model_->named_buffers()) names.push_back(item.key());
    return names;
  }

  // Restores everything a checkpoint holds: weights, optimizer, schedule, precision state,
  // trainer state, callback states, the running loss, the data position, the random state.
  void resume(const std::filesystem::path& folder, const TrainingPlan& plan) {
    const Checkpoint checkpoint = policies_.checkpointer.read(folder, /*model_only=*/false);
    restore_training_objects(checkpoint, folder, model_, policies_.strategy, optimization_, policies_.precision);
    state_ = restored_trainer_state(checkpoint, folder, state_, plan);
    // As in Python, callbacks start afresh on resume unless asked to take their saved state.
    if (args_.restore_callback_states_from_checkpoint)
      restore_callback_states(callbacks_, state_, (folder / Checkpoint::trainer_state_file).string());
    data_.resume_at(state_.global_step, plan);
    if (checkpoint.from_python)
      progress_.restart_at(state_.global_step);
    else
      data_.resume_stream_at(load_loop_state(checkpoint.loop_state, (folder / Checkpoint::loop_state_file).string(),
                                             progress_, policies_.strategy.device()));
    restore_random_state(checkpoint, folder, policies_.strategy.rank(), policies_.strategy.world_size());
  }

  // Fresh optimizer, schedule, data order, state and counters for a run.
  void begin_run(const TrainingPlan& plan) {
    auto& strategy = policies_.strategy;
    optimization_.begin(*model_, args_, plan);
    optimization_.check_updates_in_backward(args_, strategy.world_size());
    strategy_hooks::prepare_optimizer(strategy, *optimization_.optimizer());
    accumulation_hooks::begin_run(policies_.accumulation, args_, strategy.device(), *optimization_.optimizer());
    data_.begin(args_, plan, strategy.world_size(), strategy.rank());
    const TrainerState previous = std::exchange(state_, fresh_trainer_state(plan, args_));
    state_.is_world_process_zero = previous.is_world_process_zero;
    state_.is_local_process_zero = previous.is_local_process_zero;
    progress_.begin(*model_, strategy.device());
    model_->train();
  }

  TrainingData<TrainDataset> data_;
  NonFiniteWatch non_finite_;
  std::optional<JitCheckpoint> jit_checkpoint_;  // during train()
};

}  // namespace torchtrain
