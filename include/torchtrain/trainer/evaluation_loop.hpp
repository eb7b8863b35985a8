// evaluation_loop: the model over a dataset in eval mode without autograd, keeping what metrics need (as Python does).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/sequential_sampler.hpp>
#include <torchtrain/detail/eval_loop_container.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>
#include <torchtrain/metrics/preprocess_logits.hpp>
#include <torchtrain/trainer/metrics.hpp>

namespace torchtrain::detail {

/// What one evaluation keeps and computes, from the arguments and the caller.
struct EvalLoopOptions {
  data::DataLoaderOptions loader;  // per_device_eval_batch_size and the --dataloader_* arguments
  torch::Device device;
  bool keep_outputs;              // false with --prediction_loss_only: the loss only
  bool keep_all_batches;          // false when --batch_eval_metrics scores each batch (predict() keeps them)
  bool compute_per_batch;         // --batch_eval_metrics
  bool include_inputs, include_losses;  // --include_for_metrics
  std::optional<int> accumulation_steps;  // --eval_accumulation_steps
  const PreprocessLogits* preprocess_logits;
  // With several processes: the samples this one evaluates (undefined: all, in order), and
  // how its kept outputs join every process's, in dataset order, before compute_metrics.
  torch::Tensor order = {};
  std::function<torch::Tensor(const torch::Tensor&)> gather = {};
};

/// The outputs kept (on the CPU), the sum over samples of their batch's loss (on the
/// device, for the caller to reduce across processes; undefined when no batch had labels),
/// compute_metrics' result (unprefixed; none when it did not run) and the counts.
struct EvalLoopOutput {
  EvalPrediction prediction;
  torch::Tensor loss_sum;
  std::optional<Metrics> metrics;
  std::int64_t num_samples = 0;
  std::int64_t num_batches = 0;
};

/// Puts a module in eval mode (dropout off, normalization statistics frozen) and gives
/// it back in the mode it had, also when evaluation throws.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeGuard() { module_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

// compute_metrics called as it accepts: with compute_result when it takes one.
template <class Compute>
Metrics call_compute_metrics(Compute& compute, const EvalPrediction& prediction, bool compute_result) {
  if constexpr (ComputesPerBatch<Compute>)
    return compute(prediction, compute_result);
  else
    return compute(prediction);
}

/// Runs `step(batch) -> {logits, loss}` (loss undefined for a batch without labels) over
/// `dataset` in order, in batches, with `module` in eval mode and no autograd graph;
/// calls `on_prediction_step()` after each batch (outside no-grad, as callbacks run), then
/// compute_metrics as Python does: on the whole set, or per batch with compute_result
/// true for the last one only.
template <class Dataset, class Step, class Compute, class OnPredictionStep>
EvalLoopOutput evaluation_loop(torch::nn::Module& module, Dataset& dataset, const EvalLoopOptions& options,
                               Step&& step, Compute& compute_metrics, OnPredictionStep&& on_prediction_step) {
  constexpr bool has_compute_metrics = !std::is_same_v<Compute, NoMetrics>;
  const std::int64_t size = data::dataset_size(dataset);
  data::DataLoader loader(dataset, options.loader);
  const auto order = options.order.defined() ? options.order : data::SequentialSampler{}.order(size);
  loader.start_epoch(order);
  EvalLoopOutput output;
  output.num_samples = size;
  output.num_batches = loader.num_batches(order.size(0));
  EvalLoopContainer predictions, labels, inputs, losses;
  const EvalModeGuard eval_mode(module);
  for (std::int64_t b = 0; b < output.num_batches; ++b) {
    EvalPrediction kept;  // this batch's
    {
      torch::NoGradGuard no_grad;
      auto batch = loader.next().to(options.device, /*non_blocking=*/true);
      auto [logits, loss] = step(batch);
      const std::int64_t samples = batch.size();
      if (loss.defined()) {
        const auto weighted = loss.to(torch::kDouble) * static_cast<double>(samples);
        output.loss_sum = output.loss_sum.defined() ? output.loss_sum + weighted : weighted;
        if (options.include_losses) kept.losses = loss.detach().reshape({1}).repeat({samples});
      }
      if (options.keep_outputs) {
        kept.label_ids = batch.labels;
        kept.predictions =
            options.preprocess_logits && *options.preprocess_logits ? (*options.preprocess_logits)(logits, batch.labels)
                                                                    : logits;
        if (options.include_inputs) {
          if constexpr (requires { torch::Tensor(batch.inputs); }) kept.inputs = batch.inputs;
        }
      }
    }
    if (options.keep_all_batches) {
      predictions.add(kept.predictions);
      labels.add(kept.label_ids);
      inputs.add(kept.inputs);
      losses.add(kept.losses);
    }
    on_prediction_step();
    if constexpr (has_compute_metrics) {
      if (options.compute_per_batch && kept.predictions.defined() && kept.label_ids.defined())
        output.metrics = call_compute_metrics(compute_metrics, kept, /*compute_result=*/b + 1 == output.num_batches);
    }
    if (options.accumulation_steps && (b + 1) % *options.accumulation_steps == 0)
      for (auto* container : {&predictions, &labels, &inputs, &losses}) container->to_cpu();
  }
  output.prediction = {predictions.get(), labels.get(), inputs.get(), losses.get()};
  if (options.gather)
    for (auto* kept : {&output.prediction.predictions, &output.prediction.label_ids, &output.prediction.inputs,
                       &output.prediction.losses})
      *kept = options.gather(*kept);
  if constexpr (has_compute_metrics) {
    if (!options.compute_per_batch && output.prediction.predictions.defined() && output.prediction.label_ids.defined())
      output.metrics = call_compute_metrics(compute_metrics, output.prediction, /*compute_result=*/true);
  }
  return output;
}

}  // namespace torchtrain::detail
