// Per-class counts of a classification's predictions, which accuracy, precision, recall and F1 read.
#pragma once

#include <algorithm>
#include <cstdint>

#include <torch/types.h>

#include <torchtrain/core/ignore_index.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain::detail {

/// The predicted class of each sample: argmax over the last dimension of logits, or the
/// predictions themselves when they are already class ids (same rank as the labels, for
/// example after preprocess_logits_for_metrics = argmax_logits).
inline torch::Tensor predicted_classes(const EvalPrediction& prediction) {
  return prediction.predictions.dim() > prediction.label_ids.dim() ? prediction.predictions.argmax(-1)
                                                                   : prediction.predictions;
}

/// For each class c (0 .. the largest id seen): true positives, samples predicted c and
/// samples labelled c, as doubles. Labels equal to -100 do not count.
struct ClassCounts {
  torch::Tensor true_positives, predicted, actual;

  explicit ClassCounts(const EvalPrediction& prediction) {
    auto labels = prediction.label_ids.flatten().to(torch::kLong);
    auto classes = predicted_classes(prediction).flatten().to(torch::kLong);
    TORCH_CHECK(labels.numel() == classes.numel(), "torchtrain metrics: ", classes.numel(), " predictions but ",
                labels.numel(), " labels; predictions must be logits [..., classes] or class ids shaped like the "
                "labels");
    const auto counted = labels != loss::ignore_index;
    labels = labels.masked_select(counted);
    classes = classes.masked_select(counted);
    TORCH_CHECK(labels.numel() > 0, "torchtrain metrics: every label is -100, so there is nothing to score");
    const std::int64_t num_classes =
        std::max(labels.max().item<std::int64_t>(), classes.max().item<std::int64_t>()) + 1;
    actual = torch::bincount(labels, {}, num_classes).to(torch::kDouble);
    predicted = torch::bincount(classes, {}, num_classes).to(torch::kDouble);
    true_positives = torch::bincount(labels.masked_select(labels == classes), {}, num_classes).to(torch::kDouble);
  }
};

}  // namespace torchtrain::detail
