// Evaluator: the eval datasets and compute_metrics of a Trainer, and one evaluation pass with its metrics.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/loader_setup.hpp>
#include <torchtrain/data/named_datasets.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/metrics/preprocess_logits.hpp>
#include <torchtrain/trainer/evaluation_loop.hpp>
#include <torchtrain/trainer/prediction_output.hpp>
#include <torchtrain/trainer/step_overrides.hpp>
#include <torchtrain/trainer/training_progress.hpp>

namespace torchtrain {

namespace detail {

// The loader of one evaluation of `size` samples, as the arguments and customize_loader
// (set_eval_dataloader, set_test_dataloader) ask; throws ArgumentError for a set too small.
TORCHTRAIN_INLINE data::DataLoaderOptions evaluation_loader(std::int64_t size, bool prediction,
                                                            const TrainingArguments& args, int world_size,
                                                            torch::Device device,
                                                            const data::LoaderCustomization& customize_loader);

// What evaluate() and predict() return for an evaluation that began at `start`, its
// loss_sum summed over every process: the outputs, and the metrics under `prefix`:
// <prefix>_loss, compute_metrics' (a name that has the prefix keeps it), the speed.
TORCHTRAIN_INLINE PredictionOutput prediction_output(EvalLoopOutput output, std::string_view prefix,
                                                     std::chrono::steady_clock::time_point start);

}  // namespace detail

/// Evaluation as the arguments ask: batches of per_device_eval_batch_size, each process
/// its shard of the set, outputs gathered in dataset order; metrics under a prefix:
/// <prefix>_loss, compute_metrics' (a name that has the prefix keeps it), the speed.
template <class EvalDataset, class Compute>
class Evaluator {
 public:
  static constexpr bool has_eval_dataset = !std::is_same_v<EvalDataset, data::NoDataset>;
  static constexpr bool has_compute_metrics = !std::is_same_v<Compute, NoMetrics>;

  Evaluator(EvalDataset eval_dataset, Compute compute_metrics)
      : eval_dataset_(std::move(eval_dataset)), compute_metrics_(std::move(compute_metrics)) {}

  /// Arguments that need an eval dataset or a kind of compute_metrics this Trainer lacks.
  template <class Batch>
  void check(const TrainingArguments& args) const {
    if (!has_eval_dataset && args.eval_on_start)
      throw ArgumentError("--eval_on_start needs an eval dataset: pass one to the Trainer, or drop --eval_on_start");
    if (!has_eval_dataset && args.eval_strategy != IntervalStrategy::no)
      throw ArgumentError(fmt::format("--eval_strategy {} needs an eval dataset: pass one to the "
                                      "Trainer, or use --eval_strategy no",
                                      detail::format_value(args.eval_strategy)));
    if constexpr (has_compute_metrics && !ComputesPerBatch<Compute>)
      if (args.batch_eval_metrics)
        throw ArgumentError("--batch_eval_metrics calls compute_metrics(prediction, compute_result) after every "
                            "batch, but this compute_metrics takes no `bool compute_result`; give it one (keep "
                            "what you need per batch and return the metrics of the whole set when it is true), "
                            "or drop --batch_eval_metrics");
    if constexpr (!requires(const Batch& batch) { torch::Tensor(batch.inputs); })
      if (includes(args, "inputs"))
        throw ArgumentError("--include_for_metrics inputs: this Trainer's batches have no `inputs` tensor to hand "
                            "to compute_metrics; drop it from --include_for_metrics");
  }

  /// Calls `evaluate(dataset, prefix)` for the eval dataset, or for each named one under
  /// `<prefix>_<name>`, and returns their metrics merged.
  template <class Evaluate>
  Metrics for_each_eval_dataset(std::string_view prefix, Evaluate&& evaluate) {
    if constexpr (data::is_named_datasets<EvalDataset>) {
      Metrics all;
      for (auto& [name, dataset] : eval_dataset_.datasets)
        for (const auto& [key, value] : evaluate(dataset, fmt::format("{}_{}", prefix, name))) all.set(key, value);
      return all;
    } else if constexpr (has_eval_dataset) {
      return evaluate(eval_dataset_, prefix);
    } else {
      throw ArgumentError("evaluate() needs an eval dataset: pass one to the Trainer, or call evaluate(dataset)");
    }
  }

  /// One pass over `dataset` with `model` under the run's precision and strategy, each batch
  /// through the loss object's prediction_step when it has one (else the Trainer's);
  /// `customize_loader` (when set) changes the loader's options; `on_prediction_step`
  /// after each batch.
  template <class Dataset, class Model, class Loss, class Precision, class Strategy>
  PredictionOutput run(Dataset& dataset, std::string_view prefix, bool prediction, Model& model, Loss& loss,
                       Precision& precision, Strategy& strategy, const TrainingArguments& args,
                       const data::LoaderCustomization& customize_loader,
                       const std::function<void()>& on_prediction_step) {
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t size = data::dataset_size(dataset);
    const data::DataLoaderOptions loader = detail::evaluation_loader(size, prediction, args, strategy.world_size(),
                                                                     strategy.device(), customize_loader);
    const detail::EvalLoopOptions options{
        .loader = loader,
        .device = strategy.device(),
        .keep_outputs = !args.prediction_loss_only,
        .keep_all_batches = !args.batch_eval_metrics || prediction,
        .compute_per_batch = args.batch_eval_metrics,
        .include_inputs = includes(args, "inputs"),
        .include_losses = includes(args, "loss"),
        .accumulation_steps = args.eval_accumulation_steps,
        .concat_batches = args.eval_do_concat_batches,
        .preprocess_logits = &preprocess_logits_,
        .order = strategy.evaluation_shard(size),
        .world_size = strategy.world_size(),
        .gather = [&](const torch::Tensor& shard, std::int64_t samples) { return strategy.gather_shards(shard, samples); }};
    strategy.synchronize_buffers();  // every rank evaluates the model rank 0 would save, buffers included
    // The step goes to the loop type-erased (one indirect call per batch): the loop is then
    // compiled once, not once per precision policy and Trainer.
    const auto step = [&](const auto& batch) {
      return precision.autocast([&] { return detail::prediction_step(loss, model, batch); });
    };
    auto output = detail::evaluation_loop(*model, dataset, options, step, compute_metrics_, on_prediction_step);
    if (output.loss_sum.defined()) output.loss_sum = strategy.reduce_sum(output.loss_sum);
    return detail::prediction_output(std::move(output), prefix, start);
  }

  void set_preprocess_logits(PreprocessLogits preprocess) { preprocess_logits_ = std::move(preprocess); }

 private:
  static bool includes(const TrainingArguments& args, std::string_view name) {
    return std::ranges::find(args.include_for_metrics, name) != args.include_for_metrics.end();
  }

  EvalDataset eval_dataset_;
  Compute compute_metrics_;
  PreprocessLogits preprocess_logits_;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain::detail {

TORCHTRAIN_INLINE data::DataLoaderOptions evaluation_loader(std::int64_t size, bool prediction,
                                                            const TrainingArguments& args, int world_size,
                                                            torch::Device device,
                                                            const data::LoaderCustomization& customize_loader) {
  const char* what = prediction ? "predict" : "evaluate";
  if (size == 0) throw ArgumentError(fmt::format("{}() got an empty dataset: there is nothing to evaluate", what));
  if (size < world_size)
    throw ArgumentError(fmt::format("{}() got {} samples for {} processes: give every process at least one", what,
                                    size, world_size));
  // Unlike Python, a short last batch is kept: eval_loss and the metrics cover every sample.
  data::LoaderSetup loader{data::loader_options(args, args.per_device_eval_batch_size, /*drop_last=*/false, device), {}};
  if (customize_loader) customize_loader(loader);
  if (loader.sampler)
    throw ArgumentError("set_eval_dataloader / set_test_dataloader: evaluation reads its set in order (each process "
                        "its shard); a sampler applies to the training loader only");
  return loader.options;
}

TORCHTRAIN_INLINE PredictionOutput prediction_output(EvalLoopOutput output, std::string_view prefix,
                                                     std::chrono::steady_clock::time_point start) {
  const std::string p(prefix);
  Metrics metrics;
  if (output.loss_sum.defined()) metrics.set(p + "_loss", output.loss_sum.item<double>() / output.num_samples);
  if (output.metrics)
    for (const auto& [name, value] : *output.metrics)
      metrics.set(name.starts_with(p + "_") ? name : p + "_" + name, value);
  const double runtime = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.set(p + "_runtime", round_to(runtime, 4));
  metrics.set(p + "_samples_per_second", round_to(output.num_samples / runtime, 3));
  metrics.set(p + "_steps_per_second", round_to(output.num_batches / runtime, 3));
  return {output.prediction.predictions, output.prediction.label_ids, std::move(metrics),
          std::move(output.prediction.batches)};
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
