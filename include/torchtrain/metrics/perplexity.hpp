// perplexity: exp of the mean cross-entropy of a language model's logits over its labels.
#pragma once

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain::metrics {

/// compute_metrics for language models: {"perplexity": exp(mean cross-entropy)} over the
/// labels that count (not -100), with logits [N, T, V] (or [N, V]) and labels [N, T] (or
/// [N]) aligned position by position, as tt::loss::CrossEntropy takes them (shift the
/// labels in the dataset for next-token prediction). Needs the logits: do not reduce them
/// with preprocess_logits_for_metrics.
struct Perplexity {
  Metrics operator()(const EvalPrediction& batches) const;
};
inline constexpr Perplexity perplexity{};

}  // namespace torchtrain::metrics

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>

#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include <torchtrain/core/ignore_index.hpp>

namespace torchtrain::metrics {

TORCHTRAIN_INLINE Metrics Perplexity::operator()(const EvalPrediction& batches) const {
  const auto prediction = concatenated(batches);
  TORCH_CHECK(prediction.predictions.dim() == prediction.label_ids.dim() + 1,
              "metrics::perplexity needs logits with one dimension more than the labels (got predictions ",
              prediction.predictions.sizes(), " and labels ", prediction.label_ids.sizes(),
              "); do not reduce the logits with preprocess_logits_for_metrics");
  const auto logits = prediction.predictions.flatten(0, -2).to(torch::kFloat);
  const auto labels = prediction.label_ids.flatten().to(torch::kLong);
  const auto loss = torch::nn::functional::cross_entropy(
      logits, labels, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(loss::ignore_index));
  return {{"perplexity", std::exp(loss.item<double>())}};
}

}  // namespace torchtrain::metrics

#endif  // TORCHTRAIN_DEFINITIONS
