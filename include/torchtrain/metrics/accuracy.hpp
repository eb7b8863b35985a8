// accuracy: the share of samples whose highest-scoring class is the label.
#pragma once

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain::metrics {

/// compute_metrics for classification: {"accuracy": mean(argmax(predictions, -1) == labels)}.
/// Labels equal to -100 are ignored, as in the Python examples.
struct Accuracy {
  Metrics operator()(const EvalPrediction& batches) const;
};
inline constexpr Accuracy accuracy{};

}  // namespace torchtrain::metrics

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torchtrain/core/ignore_index.hpp>
#include <torchtrain/metrics/detail/class_counts.hpp>

namespace torchtrain::metrics {

TORCHTRAIN_INLINE Metrics Accuracy::operator()(const EvalPrediction& batches) const {
  const auto prediction = concatenated(batches);
  auto counted = prediction.label_ids != loss::ignore_index;
  auto correct = (torchtrain::detail::predicted_classes(prediction) == prediction.label_ids).logical_and(counted).sum();
  return {{"accuracy", correct.item<double>() / counted.sum().item<double>()}};
}

}  // namespace torchtrain::metrics

#endif  // TORCHTRAIN_DEFINITIONS
