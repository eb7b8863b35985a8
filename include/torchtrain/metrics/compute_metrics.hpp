// What may be passed as compute_metrics.
#pragma once

#include <concepts>

#include <torchtrain/metrics/eval_prediction.hpp>
#include <torchtrain/trainer/metrics.hpp>

namespace torchtrain {

/// A callable from the predictions of an evaluation set to named numbers, like the
/// Python `compute_metrics(eval_pred) -> dict`. The trainer prefixes the names ("eval_").
template <class F>
concept ComputeMetrics = requires(const F& compute, const EvalPrediction& prediction) {
  { compute(prediction) } -> std::convertible_to<Metrics>;
};

/// Marks "no compute_metrics": evaluation reports the loss only.
struct NoMetrics {};

}  // namespace torchtrain
