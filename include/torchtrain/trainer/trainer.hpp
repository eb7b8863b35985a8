// Trainer<Policies...>: give it a model, arguments and data, and it trains.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/hana/tuple.hpp>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/policies/policy_set.hpp>
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
  /// forward takes the batch or its `inputs`; `loss(outputs, batch)` returns a scalar
  /// tensor (the default uses the loss the model returns); `compute_metrics(EvalPrediction)`
  /// returns Metrics; `callbacks` is a tuple made by torchtrain::callbacks(...).
  /// Ensures: the arguments are checked (ArgumentError names the flag), the seed is set,
  /// the model is on the strategy's device, and on_init_end has run.
  template <class Model, data::Dataset TrainDataset, class EvalDataset = data::NoDataset,
            class Loss = loss::ModelLoss, class Compute = NoMetrics,
            class Callbacks = boost::hana::tuple<>>
    requires(std::is_same_v<EvalDataset, data::NoDataset> || data::Dataset<EvalDataset>) &&
            (std::is_same_v<Compute, NoMetrics> || ComputeMetrics<Compute>)
  Trainer(Model model, TrainingArguments args, TrainDataset train_dataset,
          EvalDataset eval_dataset = {}, Loss loss = {}, Compute compute_metrics = {},
          Callbacks callbacks = {})
      : loop_(std::make_unique<TrainingLoop<policies, Model, TrainDataset, EvalDataset, Loss,
                                            Compute, Callbacks>>(
            std::move(model), std::move(args), std::move(train_dataset), std::move(eval_dataset),
            std::move(loss), std::move(compute_metrics), std::move(callbacks))) {}

  /// Trains for max_steps or num_train_epochs; returns the global step, the mean training
  /// loss and the train_* speed metrics. `resume_from_checkpoint`: `true` for the latest
  /// complete checkpoint in output_dir, a checkpoint folder, or a script's
  /// `args.resume_from_checkpoint`; the resumed run repeats the interrupted one exactly.
  TrainOutput train(const ResumeFrom& resume_from_checkpoint = {}) { return loop_->train(resume_from_checkpoint); }

  /// Evaluates on the eval dataset: `<prefix>_loss`, `<prefix>_<metric>` for each metric of
  /// compute_metrics, `<prefix>_runtime`, `<prefix>_samples_per_second`,
  /// `<prefix>_steps_per_second`, and `epoch`.
  Metrics evaluate(std::string_view metric_key_prefix = "eval") {
    return loop_->evaluate(metric_key_prefix);
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
  /// schedule of the arguments is applied to it.
  void set_optimizer_factory(OptimizerFactory factory) { loop_->set_optimizer_factory(std::move(factory)); }

  const TrainerState& state() const { return loop_->state(); }
  const TrainingArguments& args() const { return loop_->args(); }

 private:
  std::unique_ptr<detail::TrainerInterface> loop_;
};

}  // namespace torchtrain
