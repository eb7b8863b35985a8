// accuracy: the share of samples whose highest-scoring class is the label.
#pragma once

#include <torchtrain/metrics/eval_prediction.hpp>
#include <torchtrain/trainer/metrics.hpp>

namespace torchtrain::metrics {

/// compute_metrics for classification: {"accuracy": mean(argmax(predictions, -1) == labels)}.
/// Labels equal to -100 are ignored, as in the Python examples.
struct Accuracy {
  Metrics operator()(const EvalPrediction& prediction) const {
    // Logits [N, C] are reduced to class ids; predictions already reduced are used as they are.
    auto predicted = prediction.predictions.dim() > prediction.label_ids.dim()
                         ? prediction.predictions.argmax(-1)
                         : prediction.predictions;
    auto counted = prediction.label_ids != -100;
    auto correct = (predicted == prediction.label_ids).logical_and(counted).sum();
    return {{"accuracy", correct.item<double>() / counted.sum().item<double>()}};
  }
};
inline constexpr Accuracy accuracy{};

}  // namespace torchtrain::metrics
