// TrainerCore: the parts of a Trainer's run (model, arguments, policies, callbacks, state) and all it does besides training: evaluation, prediction, logs, saving.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/hana/prepend.hpp>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/arguments/training_arguments_json.hpp>
#include <torchtrain/arguments/validate.hpp>
#include <torchtrain/callbacks/default_flow.hpp>
#include <torchtrain/callbacks/events.hpp>
#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/step_logs.hpp>
#include <torchtrain/data/loader_setup.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/safetensors.hpp>
#include <torchtrain/io/trainer_state_json.hpp>
#include <torchtrain/io/training_plot.hpp>
#include <torchtrain/nn/checkpoint.hpp>
#include <torchtrain/policies/checkpointer/checkpointer_policy.hpp>
#include <torchtrain/policies/logger/logger_policy.hpp>
#include <torchtrain/policies/policy_objects.hpp>
#include <torchtrain/policies/strategy/strategy_hooks.hpp>
#include <torchtrain/trainer/argument_checks.hpp>
#include <torchtrain/trainer/evaluator.hpp>
#include <torchtrain/trainer/memory_metrics.hpp>
#include <torchtrain/trainer/optimization.hpp>
#include <torchtrain/trainer/process_setup.hpp>
#include <torchtrain/trainer/results_files.hpp>
#include <torchtrain/trainer/step_overrides.hpp>
#include <torchtrain/trainer/trainer_interface.hpp>
#include <torchtrain/trainer/training_progress.hpp>

namespace torchtrain {

/// What a Trainer holds, and what it does besides training: set-up (arguments checked,
/// policies set up), evaluate(), predict(), the logs, save_model() and the rest of the
/// Trainer's calls. TrainingLoop adds train() on top. `Policies` is a PolicySet; the
/// callbacks run after the built-in DefaultFlow.
template <class Policies, class Model, class Batch, class EvalDataset, class Loss, class Compute, class Callbacks>
class TrainerCore : public detail::TrainerInterface {
  static_assert(check_callbacks<TrainingObjects<Model>>(static_cast<Callbacks*>(nullptr)));
  static_assert(detail::check_step_overrides<Loss, Model, Batch>());

 public:
  template <class... Given>
  TrainerCore(PolicyValues<Given...> policies, Model model, TrainingArguments args, EvalDataset eval_dataset, Loss loss, Compute compute_metrics, Callbacks callbacks)
      : model_(std::move(model)), args_(std::move(args)), loss_(std::move(loss)), policies_(std::move(policies)),
        callbacks_(boost::hana::prepend(std::move(callbacks), DefaultFlow{})),
        evaluator_(std::move(eval_dataset), std::move(compute_metrics)), progress_(args_), memory_(args_.skip_memory_metrics) {
    memory_.start("init");
    derive_defaults(args_);
    policies_.precision.configure(args_);
    check_run_arguments<Policies, Batch>(args_, model_);
    evaluator_.template check<Batch>(args_);
    Optimization::check(*model_, args_);
    policies_.accumulation.steps(args_);
    nn::set_gradient_checkpointing(*model_, args_.gradient_checkpointing);
    apply_label_smoothing(args_, loss_);
    auto& strategy = policies_.strategy;
    strategy.setup(model_, args_);
    policies_.precision.setup(strategy.device());
    state_.is_world_process_zero = strategy.is_main_process();
    state_.is_local_process_zero = strategy.local_rank() == 0;
    set_up_process(args_, strategy.device(), args_.log_on_each_node ? strategy.local_rank() == 0 : strategy.is_main_process());
    if (strategy.is_main_process()) logger_hooks::setup(policies_.logger, args_);
    Metrics none;  // init's metrics go with the first stage reported, as in Python
    memory_.stop_and_update("init", none);
    notify(event::on_init_end{});
  }

  Metrics evaluate(std::string_view prefix) override {
    return evaluation("eval", [&] { return evaluate_eval_datasets(prefix); });
  }
  Metrics evaluate(const detail::AnyDataset& dataset, std::string_view prefix) override {
    dataset.check_batch_type<Batch>("evaluate(dataset)");
    detail::TypedDataset<Batch> typed{dataset};
    return evaluation("eval", [&] { return evaluate_dataset(typed, prefix); });
  }
  // As in Python, prediction logs nothing and tells callbacks through on_predict.
  PredictionOutput predict(const detail::AnyDataset& dataset, std::string_view prefix) override {
    dataset.check_batch_type<Batch>("predict(dataset)");
    detail::TypedDataset<Batch> typed{dataset};
    PredictionOutput output;
    output.metrics = evaluation("test", [&] {
      output = run_evaluation(typed, prefix, /*prediction=*/true);
      notify(event::on_predict{}, output.metrics);
      return output.metrics;
    });
    return output;
  }

  void set_preprocess_logits_for_metrics(PreprocessLogits preprocess) override {
    evaluator_.set_preprocess_logits(std::move(preprocess));
  }
  void log_metrics(std::string_view split, const Metrics& metrics) override {
    if (policies_.strategy.is_main_process()) policies_.logger.log_metrics(split, metrics);
  }
  void save_metrics(std::string_view split, const Metrics& metrics) override {
    if (policies_.strategy.is_main_process()) torchtrain::save_metrics(args_.output_dir, split, metrics);
  }
  void save_model(const std::filesystem::path& folder) override {
    optimization_.eval_mode();  // a schedule-free optimizer's weights to keep
    const auto weights = policies_.strategy.state_dict(model_);  // every process: a sharded strategy gathers them
    if (should_save()) {
      torchtrain::save_model(*model_, weights, folder);
      io::replace_file(folder / Checkpoint::training_args_file, training_arguments_json(args_));
    }
    policies_.strategy.barrier("waiting for rank 0 to save the model");
  }
  void load_model(const std::filesystem::path& folder) override {
    const auto file = folder / Checkpoint::model_file;
    strategy_hooks::load_state_dict(policies_.strategy, model_, io::load_safetensors(file), file.string());
  }
  void save_state() override {
    if (!policies_.strategy.is_main_process()) return;
    const std::filesystem::path output_dir = args_.output_dir;
    std::filesystem::create_directories(output_dir);
    io::replace_file(output_dir / Checkpoint::trainer_state_file, trainer_state_json(state_));
    io::write_training_plot(state_, output_dir / Checkpoint::training_plot_file);
  }
  const TrainerState& state() const override { return state_; }
  const TrainingArguments& args() const override { return args_; }
  void set_optimizers(std::unique_ptr<torch::optim::Optimizer> optimizer,
                      std::optional<optim::LRScheduler> scheduler) override {
    optimization_.set_optimizers(std::move(optimizer), std::move(scheduler));
  }
  void set_optimizer_factory(OptimizerFactory factory) override { optimization_.set_factory(std::move(factory)); }
  void set_scheduler_factory(SchedulerFactory factory) override { optimization_.set_scheduler_factory(std::move(factory)); }
  void set_eval_dataloader(data::LoaderCustomization customize) override { eval_loader_ = std::move(customize); }
  void set_test_dataloader(data::LoaderCustomization customize) override { test_loader_ = std::move(customize); }
  Model& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimization_.optimizer(); }
  optim::LRScheduler& lr_scheduler() { return *optimization_.scheduler(); }
  PolicyObjects<Policies>& policies() { return policies_; }

 protected:
  // Adds the epoch (and tokens), appends to log_history with the step, tells callbacks and
  // the logger; returns the logs as the Python Trainer's `log` leaves them.
  Metrics log(Metrics logs, bool training_log) {
    logs.set("epoch", state_.epoch);
    progress_.add_to_log(logs, state_, training_log);
    if (training_log) step_logs_.move_means_into(logs);  // after the Trainer's own, which they may not replace
    Metrics entry = logs;
    entry.set("step", state_.global_step);
    state_.log_history.push_back(std::move(entry));
    control_.should_log = false;
    notify(event::on_log{}, logs);
    if (policies_.strategy.is_main_process()) policies_.logger.log(logs, state_);
    return logs;
  }

  // An evaluation or prediction outside the loop's own: --bf16_full_eval and --fp16_full_eval
  // turn the model itself to that type first, and leave it so, as Python does.
  template <class Run>
  Metrics evaluation(const char* stage, Run&& run) {
    memory_.start(stage);
    optimization_.eval_mode();  // as the Python evaluation_loop's optimizer.eval() (schedule-free)
    if (!progress_.training && (args_.bf16_full_eval || args_.fp16_full_eval))
      model_->to(args_.bf16_full_eval ? torch::kBFloat16 : torch::kFloat16);
    auto metrics = run();
    flush_logs();
    memory_.stop_and_update(stage, metrics);
    return metrics;
  }
  Metrics evaluate_eval_datasets(std::string_view prefix) {
    return evaluator_.for_each_eval_dataset(prefix, [&](auto& dataset, std::string_view name) {
      return evaluate_dataset(dataset, name);
    });
  }
  // One evaluation, logged (which adds the epoch) and told to the callbacks.
  template <class Dataset>
  Metrics evaluate_dataset(Dataset& dataset, std::string_view prefix) {
    auto metrics = log(run_evaluation(dataset, prefix, /*prediction=*/false).metrics, /*training_log=*/false);
    control_.should_evaluate = false;
    notify(event::on_evaluate{}, metrics);
    return metrics;
  }
  template <class Dataset>
  PredictionOutput run_evaluation(Dataset& dataset, std::string_view prefix, bool prediction) {
    return evaluator_.run(dataset, prefix, prediction, model_, loss_, policies_.precision, policies_.strategy, args_,
                          prediction ? test_loader_ : eval_loader_, [&] { notify(event::on_prediction_step{}); });
  }

  template <class Event, class... Extra>
  void notify(Event, const Extra&... extra) {
    // A callback given the model may change its weights: the last save's copy comes first.
    if constexpr (gives_objects<Event, TrainingObjects<Model>, const Extra...>(static_cast<decltype(callbacks_)*>(nullptr)))
      checkpointer_hooks::wait_for_copy(policies_.checkpointer);
    TrainingObjects<Model> objects{model_, optimization_.optimizer(), optimization_.scheduler(), &step_logs_};
    torchtrain::notify<Event>(callbacks_, args_, state_, control_, objects, extra...);
  }
  // Returns once the logger has written every log so far (a logger writing on a thread of its own).
  void flush_logs() {
    if (policies_.strategy.is_main_process()) logger_hooks::flush(policies_.logger);
  }
  // As Python's should_save: only rank 0 saves, or each machine's first process too
  // (--save_on_each_node, for machines that share no disk).
  bool should_save() const {
    return args_.save_on_each_node ? policies_.strategy.local_rank() == 0 : policies_.strategy.is_main_process();
  }

  Model model_;
  TrainingArguments args_;
  Loss loss_;
  PolicyObjects<Policies> policies_;
  decltype(boost::hana::prepend(std::declval<Callbacks>(), DefaultFlow{})) callbacks_;
  TrainerState state_;
  TrainerControl control_;
  Evaluator<EvalDataset, Compute> evaluator_;
  Optimization optimization_;
  TrainingProgress progress_;
  MemoryMetrics memory_;  // with --skip_memory_metrics false, Python's memory metrics
  StepLogs step_logs_;    // the user's values for the next training log
  data::LoaderCustomization eval_loader_, test_loader_;  // set_eval_dataloader, set_test_dataloader
};

}  // namespace torchtrain
