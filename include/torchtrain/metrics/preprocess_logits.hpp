// preprocess_logits_for_metrics: what the trainer keeps of each evaluation batch's logits.
#pragma once

#include <functional>

#include <torch/types.h>

namespace torchtrain {

/// Like the Python `preprocess_logits_for_metrics(logits, labels)`: called on each
/// evaluation batch's logits (with its labels) before they are kept for compute_metrics,
/// so that a large output (a language model's vocabulary) is reduced before it piles up.
using PreprocessLogits = std::function<torch::Tensor(const torch::Tensor& logits, const torch::Tensor& labels)>;

namespace metrics {
/// The most common reduction: the predicted class ids, argmax over the last dimension
/// (accuracy, precision, recall and F1 take them as they are).
inline torch::Tensor argmax_logits(const torch::Tensor& logits, const torch::Tensor&) { return logits.argmax(-1); }
}  // namespace metrics

}  // namespace torchtrain
