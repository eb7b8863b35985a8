// Trainer<Policies...>: give it a model, arguments and data, and it trains.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/hana/tuple.hpp>
#include <fmt/format.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/data/collated_stream.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/named_datasets.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/metrics/preprocess_logits.hpp>
#include <torchtrain/policies/policy_objects.hpp>
#include <torchtrain/policies/policy_set.hpp>
#include <torchtrain/trainer/detail/any_dataset.hpp>
#include <torchtrain/trainer/prediction_output.hpp>
#include <torchtrain/trainer/training_loop.hpp>

namespace torchtrain {

/// The Hugging Face `Trainer` for LibTorch. The policies fix the shape of a run at compile
/// time, in any order, each category at most once (unnamed categories take defaults):
///
///     Trainer<> trainer(model, args, train_set, eval_set, loss::cross_entropy, metrics::accuracy);
///     Trainer<BF16, DDP, Accum<4>> ...
///
/// The model, dataset, loss, metrics and callback types are deduced from the constructor
/// arguments; the loop that runs them is compiled for exactly those types.
template <class... Policies>
class Trainer {
 public:
  using policies = PolicySet<Policies...>;
  static_assert(sizeof(policies) > 0);  // checks and resolves the policies, naming offenders

  /// Requires: `model` is a torch::nn::ModuleHolder or std::shared_ptr to a Module, whose
  /// forward takes the batch or its `inputs`; `train_dataset` is a dataset with a size, or
  /// a stream (data::IterableDataset, or data::collate(stream, collator)), which needs
  /// --max_steps; `loss(outputs, batch)` returns a scalar tensor (the default uses the
  /// loss the model returns), or `loss` is an object with the Python Trainer's overrides as
  /// members, each optional: `compute_loss(model, batch[, num_items_in_batch])`,
  /// `training_step(step, batch)`, `prediction_step(model, batch)` (docs/customization.md); `eval_dataset` is a dataset or data::named_datasets(...); `compute_metrics(EvalPrediction)` (or, for
  /// --batch_eval_metrics, `compute_metrics(EvalPrediction, bool compute_result)`) returns
  /// Metrics; `callbacks` is a tuple made by torchtrain::callbacks(...).
  /// Ensures: the arguments are checked (ArgumentError names the flag), the seed is set,
  /// the model is on the strategy's device, and on_init_end has run. The precision policy
  /// sets its flag (`Trainer<BF16>` sets --bf16).
  template <class Model, data::TrainingSet TrainDataset, class EvalDataset = data::NoDataset,
            class Loss = loss::ModelLoss, class Compute = NoMetrics,
            class Callbacks = boost::hana::tuple<>>
    requires(std::is_same_v<EvalDataset, data::NoDataset> || data::Dataset<EvalDataset> ||
             data::is_named_datasets<EvalDataset>) &&
            (std::is_same_v<Compute, NoMetrics> || ComputeMetrics<Compute>)
  Trainer(Model model, TrainingArguments args, TrainDataset train_dataset,
          EvalDataset eval_dataset = {}, Loss loss = {}, Compute compute_metrics = {},
          Callbacks callbacks = {})
      : Trainer(with_policies(), std::move(model), std::move(args), std::move(train_dataset), std::move(eval_dataset),
                std::move(loss), std::move(compute_metrics), std::move(callbacks)) {}

  /// The same, with configured policy objects (`with_policies(CsvLogger(dir), ...)`): each
  /// given one is used, the others are default-constructed.
  template <class... Given, class Model, data::TrainingSet TrainDataset, class EvalDataset = data::NoDataset,
            class Loss = loss::ModelLoss, class Compute = NoMetrics, class Callbacks = boost::hana::tuple<>>
    requires(std::is_same_v<EvalDataset, data::NoDataset> || data::Dataset<EvalDataset> ||
             data::is_named_datasets<EvalDataset>) &&
            (std::is_same_v<Compute, NoMetrics> || ComputeMetrics<Compute>)
  Trainer(PolicyValues<Given...> given, Model model, TrainingArguments args, TrainDataset train_dataset,
          EvalDataset eval_dataset = {}, Loss loss = {}, Compute compute_metrics = {}, Callbacks callbacks = {})
      : loop_(std::make_unique<TrainingLoop<policies, Model, data::training_set_t<TrainDataset>, EvalDataset, Loss,
                                            Compute, Callbacks>>(
            std::move(given), std::move(model), std::move(args),
            data::training_set_t<TrainDataset>(std::move(train_dataset)), std::move(eval_dataset), std::move(loss),
            std::move(compute_metrics), std::move(callbacks))) {}

  /// Trains for max_steps or num_train_epochs; returns the global step, the mean training
  /// loss and the train_* speed metrics. `resume_from_checkpoint`: `true` for the latest
  /// complete checkpoint in output_dir, a checkpoint folder, or a script's
  /// `args.resume_from_checkpoint`; the resumed run repeats the interrupted one exactly.
  TrainOutput train(const ResumeFrom& resume_from_checkpoint = {}) { return loop_->train(resume_from_checkpoint); }

  /// Evaluates on the eval dataset: `<prefix>_loss`, `<prefix>_<metric>` for each metric of
  /// compute_metrics, `<prefix>_runtime`, `<prefix>_samples_per_second`,
  /// `<prefix>_steps_per_second`, and `epoch`; with named eval datasets, each one's under
  /// `<prefix>_<name>_`. The model runs in eval mode without autograd and is handed back
  /// in the mode it had. Logged, and on_evaluate is called, once per dataset.
  Metrics evaluate(std::string_view metric_key_prefix = "eval") { return loop_->evaluate(metric_key_prefix); }

  /// Evaluates on `dataset` instead (its batches must be of the train dataset's batch type),
  /// or on each of data::named_datasets(...) under `<prefix>_<name>`.
  template <class D>
    requires data::Dataset<std::remove_cvref_t<D>> || data::is_named_datasets<std::remove_cvref_t<D>>
  Metrics evaluate(D&& dataset, std::string_view metric_key_prefix = "eval") {
    if constexpr (data::is_named_datasets<std::remove_cvref_t<D>>) {
      Metrics all;
      for (auto& [name, one] : dataset.datasets)
        for (const auto& [key, value] :
             loop_->evaluate(detail::AnyDataset(one), fmt::format("{}_{}", metric_key_prefix, name)))
          all.set(key, value);
      return all;
    } else {
      return loop_->evaluate(detail::AnyDataset(dataset), metric_key_prefix);
    }
  }

  /// Runs the model over `dataset` as evaluate() does and returns the predictions and label
  /// ids of every sample with the metrics under `test_` (no `epoch`: prediction is not
  /// logged); on_predict is called with the metrics.
  template <class D>
    requires data::Dataset<std::remove_cvref_t<D>>
  PredictionOutput predict(D&& dataset, std::string_view metric_key_prefix = "test") {
    return loop_->predict(detail::AnyDataset(dataset), metric_key_prefix);
  }

  /// Reduces each evaluation batch's logits before they are kept for compute_metrics (the
  /// Python `preprocess_logits_for_metrics`), for example metrics::argmax_logits.
  void set_preprocess_logits_for_metrics(PreprocessLogits preprocess) {
    loop_->set_preprocess_logits_for_metrics(std::move(preprocess));
  }

  /// Prints metrics as an aligned table under `***** <split> metrics *****` (main process).
  void log_metrics(std::string_view split, const Metrics& metrics) { loop_->log_metrics(split, metrics); }
  /// Writes `output_dir/<split>_results.json` and merges the metrics into `all_results.json`.
  void save_metrics(std::string_view split, const Metrics& metrics) { loop_->save_metrics(split, metrics); }

  /// Writes the model's weights as `model.safetensors`, with `config.json` and
  /// `training_args.json`, into `folder` (default: output_dir).
  void save_model(std::optional<std::filesystem::path> folder = std::nullopt) {
    loop_->save_model(folder.value_or(args().output_dir));
  }
  /// Loads `folder/model.safetensors` (save_model's, a checkpoint's, or Python's) into the model.
  void load_model(const std::filesystem::path& folder) { loop_->load_model(folder); }
  /// Writes the trainer state as `output_dir/trainer_state.json`.
  void save_state() { loop_->save_state(); }

  /// Bring your own (the Python `optimizers=(optimizer, scheduler)`): the next train() uses
  /// `optimizer`, built over this model's parameters, and `scheduler`, made for that
  /// optimizer (for example by get_scheduler), or the schedule of the arguments when none.
  void set_optimizers(std::unique_ptr<torch::optim::Optimizer> optimizer,
                      std::optional<optim::LRScheduler> scheduler = std::nullopt) {
    loop_->set_optimizers(std::move(optimizer), std::move(scheduler));
  }
  /// Customize how every train() makes its optimizer (the Python `create_optimizer`); the
  /// schedule of the arguments (or the scheduler factory's) is applied to it.
  void set_optimizer_factory(OptimizerFactory factory) { loop_->set_optimizer_factory(std::move(factory)); }
  /// Customize how every train() makes its learning-rate schedule for its optimizer (the
  /// Python `create_scheduler`), for example `optim::LambdaLR(optimizer, lr_lambda)`. Its
  /// step is saved in checkpoints and restored on resume.
  void set_scheduler_factory(SchedulerFactory factory) { loop_->set_scheduler_factory(std::move(factory)); }

  /// Customize the training data loader (the Python `get_train_dataloader` and
  /// `_get_train_sampler`): `customize(setup)` may change the loader's options (workers,
  /// prefetch, pinning; the batch size and drop_last stay the flags') and give a sampler
  /// (data::WeightedRandomSampler, or any data::Sampler). The order depends only on
  /// (seed, epoch), so a resumed run stays exact.
  void set_train_dataloader(data::LoaderCustomization customize) { loop_->set_train_dataloader(std::move(customize)); }
  /// The same for evaluate()'s loaders (`get_eval_dataloader`) and predict()'s
  /// (`get_test_dataloader`): their options, the batch size included; no sampler.
  void set_eval_dataloader(data::LoaderCustomization customize) { loop_->set_eval_dataloader(std::move(customize)); }
  void set_test_dataloader(data::LoaderCustomization customize) { loop_->set_test_dataloader(std::move(customize)); }

  const TrainerState& state() const { return loop_->state(); }
  const TrainingArguments& args() const { return loop_->args(); }

 private:
  std::unique_ptr<detail::TrainerInterface> loop_;
};

}  // namespace torchtrain
