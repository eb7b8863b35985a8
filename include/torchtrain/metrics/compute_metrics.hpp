// What may be passed as compute_metrics.
#pragma once

#include <concepts>

#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain {

/// Like the Python `compute_metrics(eval_pred, compute_result)` that --batch_eval_metrics
/// calls after every batch: `compute_result` is false for all but the last batch, whose
/// call returns the metrics of the whole set (the callable keeps what it needs between calls).
template <class F>
concept ComputesPerBatch = requires(F& compute, const EvalPrediction& prediction, bool compute_result) {
  { compute(prediction, compute_result) } -> std::convertible_to<Metrics>;
};

/// A callable from the predictions of an evaluation set to named numbers, like the
/// Python `compute_metrics(eval_pred) -> dict`, or one that computes per batch
/// (ComputesPerBatch). The trainer prefixes the names ("eval_").
template <class F>
concept ComputeMetrics = ComputesPerBatch<F> || requires(F& compute, const EvalPrediction& prediction) {
  { compute(prediction) } -> std::convertible_to<Metrics>;
};

/// Marks "no compute_metrics": evaluation reports the loss only.
struct NoMetrics {};

}  // namespace torchtrain
