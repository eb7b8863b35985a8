// PredictionOutput: what predict() returns, as in the Python Trainer.
#pragma once

#include <vector>

#include <torch/types.h>

#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain {

/// What one prediction step gives for a batch (the Python `prediction_step`'s `(loss,
/// logits, labels)`): the loss (undefined: none), the predictions kept for compute_metrics
/// (logits, or generated token ids), and the labels to score them against (undefined: the
/// batch's). Predictions of different lengths are padded with -100 across batches.
struct PredictionStepOutput {
  torch::Tensor loss;
  torch::Tensor logits;
  torch::Tensor labels;
};

/// The predictions (logits, or what preprocess_logits_for_metrics made of them) and label
/// ids of a whole dataset, on the CPU, concatenated over batches (padded with -100 where
/// sequence lengths differ; undefined with --prediction_loss_only, and label_ids undefined
/// for a dataset without labels), and the metrics: `test_loss` (with labels), `test_<metric>`,
/// `test_runtime`, `test_samples_per_second`, `test_steps_per_second`.
/// With --eval_do_concat_batches false, `batches` holds each batch's predictions and label
/// ids instead, as Python's lists.
struct PredictionOutput {
  torch::Tensor predictions;
  torch::Tensor label_ids;
  Metrics metrics;
  std::vector<EvalPrediction> batches;
};

}  // namespace torchtrain
