// evaluation_loop: the model over a dataset in eval mode without autograd, keeping what metrics need (as Python does).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/sequential_sampler.hpp>
#include <torchtrain/detail/eval_loop_container.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>
#include <torchtrain/metrics/preprocess_logits.hpp>
#include <torchtrain/trainer/prediction_output.hpp>

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
  bool concat_batches = true;             // false: each batch's outputs kept apart (--eval_do_concat_batches)
  const PreprocessLogits* preprocess_logits;
  // With several processes: the samples this one evaluates (undefined: all, in order; see
  // distributed::detail::evaluation_shard), and how its outputs join every process's in
  // dataset order, given the number of samples they cover together.
  torch::Tensor order = {};
  int world_size = 1;
  std::function<torch::Tensor(const torch::Tensor&, std::int64_t)> gather = {};
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

/// One batch's part of an evaluation: the step's loss (undefined without labels) and
/// logits, the labels (the step's, else the batch's), the inputs (when kept), the samples.
struct EvalBatchOutput {
  torch::Tensor loss, logits, labels, inputs;
  std::int64_t samples = 0;
};

/// evaluation_loop with the batches and compute_metrics seen without their types, so that
/// it is compiled once: `next_batch()` runs the step on the next batch of this process (it
/// is called under no-grad); `compute_metrics` is empty when there are none; `num_batches`
/// are this process's, `steps` those it takes (more when gathering per batch).
TORCHTRAIN_INLINE EvalLoopOutput run_evaluation_loop(torch::nn::Module& module, std::int64_t size,
                                                     std::int64_t num_batches, std::int64_t steps,
                                                     const EvalLoopOptions& options,
                                                     const std::function<EvalBatchOutput()>& next_batch,
                                                     const std::function<Metrics(const EvalPrediction&, bool)>& compute_metrics,
                                                     const std::function<void()>& on_prediction_step);

/// Runs `step(batch) -> PredictionStepOutput` (loss undefined for a batch without labels) over
/// `dataset` in order, in batches, with `module` in eval mode and no autograd graph;
/// calls `on_prediction_step()` after each batch (outside no-grad, as callbacks run), then
/// compute_metrics as Python does: on the whole set, or per batch with compute_result
/// true for the last one only. With several processes, per-batch metrics see batch k of
/// every process together: samples [k R b, (k + 1) R b) of the set, in order.
template <class Dataset, class Step, class Compute>
EvalLoopOutput evaluation_loop(torch::nn::Module& module, Dataset& dataset, const EvalLoopOptions& options,
                               Step&& step, Compute& compute_metrics, const std::function<void()>& on_prediction_step) {
  const std::int64_t size = data::dataset_size(dataset);
  data::DataLoader loader(dataset, options.loader);
  const auto order = options.order.defined() ? options.order : data::SequentialSampler{}.order(size);
  loader.start_epoch(order);
  // Gathering per batch is a collective: every process takes as many steps as the one
  // with the most batches, joining the last ones with no samples of its own.
  const bool gather_per_batch = (options.compute_per_batch || !options.concat_batches) && options.world_size > 1;
  const std::int64_t num_batches = loader.num_batches(order.size(0));
  const std::int64_t steps =
      gather_per_batch ? loader.num_batches((size + options.world_size - 1) / options.world_size) : num_batches;
  const std::function<EvalBatchOutput()> next_batch = [&] {
    auto batch = loader.next().to(options.device, /*non_blocking=*/true);
    auto [loss, logits, labels] = step(batch);
    EvalBatchOutput output{loss, logits, labels.defined() ? labels : batch.labels, {}, batch.size()};
    if constexpr (requires { torch::Tensor(batch.inputs); })
      if (options.include_inputs) output.inputs = batch.inputs;
    return output;
  };
  std::function<Metrics(const EvalPrediction&, bool)> compute;
  if constexpr (!std::is_same_v<Compute, NoMetrics>)
    compute = [&](const EvalPrediction& prediction, bool compute_result) {
      return call_compute_metrics(compute_metrics, prediction, compute_result);
    };
  return run_evaluation_loop(module, size, num_batches, steps, options, next_batch, compute, on_prediction_step);
}

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain::detail {

TORCHTRAIN_INLINE EvalLoopOutput run_evaluation_loop(torch::nn::Module& module, std::int64_t size,
                                                     std::int64_t num_batches, std::int64_t steps,
                                                     const EvalLoopOptions& options,
                                                     const std::function<EvalBatchOutput()>& next_batch,
                                                     const std::function<Metrics(const EvalPrediction&, bool)>& compute_metrics,
                                                     const std::function<void()>& on_prediction_step) {
  EvalLoopOutput output;
  output.num_samples = size;
  output.num_batches = num_batches;
  const bool gather_per_batch = (options.compute_per_batch || !options.concat_batches) && options.world_size > 1;
  const std::int64_t batch_size = options.loader.batch_size, world = options.world_size;
  EvalLoopContainer predictions, labels, inputs, losses;
  const EvalModeGuard eval_mode(module);
  EvalPrediction kept;  // this batch's
  for (std::int64_t b = 0; b < steps; ++b) {
    if (b < output.num_batches) {
      kept = {};
      {
        torch::NoGradGuard no_grad;
        auto batch = next_batch();
        if (batch.loss.defined()) {
          const auto weighted = batch.loss.to(torch::kDouble) * static_cast<double>(batch.samples);
          output.loss_sum = output.loss_sum.defined() ? output.loss_sum + weighted : weighted;
          if (options.include_losses) kept.losses = batch.loss.detach().reshape({1}).repeat({batch.samples});
        }
        if (options.keep_outputs) {
          kept.label_ids = batch.labels;
          kept.predictions = options.preprocess_logits && *options.preprocess_logits
                                 ? (*options.preprocess_logits)(batch.logits, batch.labels)
                                 : batch.logits;
          kept.inputs = batch.inputs;
        }
      }
      if (options.keep_all_batches && options.concat_batches) {
        predictions.add(kept.predictions);
        labels.add(kept.label_ids);
        inputs.add(kept.inputs);
        losses.add(kept.losses);
      }
      on_prediction_step();
    } else {  // no batch of its own: the shapes of its last one, with no rows
      for (auto* part : {&kept.predictions, &kept.label_ids, &kept.inputs, &kept.losses})
        if (part->defined()) *part = part->narrow(0, 0, 0);
    }
    // This batch of every process, in order (batch b of the set with one process).
    EvalPrediction global_batch = kept;
    if (gather_per_batch)
      for (auto* part : {&global_batch.predictions, &global_batch.label_ids, &global_batch.inputs, &global_batch.losses})
        *part = options.gather(*part, std::min(world * batch_size, size - b * world * batch_size));
    if (!options.concat_batches && options.keep_all_batches) {
      EvalPrediction on_cpu;
      bool kept_any = false;
      for (auto part : {&EvalPrediction::predictions, &EvalPrediction::label_ids, &EvalPrediction::inputs,
                        &EvalPrediction::losses})
        if ((global_batch.*part).defined()) {
          on_cpu.*part = (global_batch.*part).to(torch::kCPU);
          kept_any = true;
        }
      if (kept_any) output.prediction.batches.push_back(std::move(on_cpu));
    }
    if (compute_metrics && options.compute_per_batch && global_batch.predictions.defined() &&
        global_batch.label_ids.defined())
      output.metrics = compute_metrics(global_batch, /*compute_result=*/b + 1 == steps);
    if (options.accumulation_steps && (b + 1) % *options.accumulation_steps == 0)
      for (auto* container : {&predictions, &labels, &inputs, &losses}) container->to_cpu();
  }
  if (options.concat_batches) output.prediction = {predictions.get(), labels.get(), inputs.get(), losses.get()};
  if (options.gather && options.concat_batches)
    for (auto* kept : {&output.prediction.predictions, &output.prediction.label_ids, &output.prediction.inputs,
                       &output.prediction.losses})
      *kept = options.gather(*kept, size);
  if (compute_metrics) {
    const auto& first = output.prediction.batches.empty() ? output.prediction : output.prediction.batches.front();
    if (!options.compute_per_batch && first.predictions.defined() && first.label_ids.defined())
      output.metrics = compute_metrics(output.prediction, /*compute_result=*/true);
  }
  return output;
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
