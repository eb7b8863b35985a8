// Mean squared and mean absolute error: compute_metrics for regression.
#pragma once

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain::metrics {

/// compute_metrics {"mse": mean((prediction - label)^2)}.
struct MeanSquaredError {
  Metrics operator()(const EvalPrediction& prediction) const;
};

/// compute_metrics {"mae": mean(|prediction - label|)}.
struct MeanAbsoluteError {
  Metrics operator()(const EvalPrediction& prediction) const;
};

inline constexpr MeanSquaredError mean_squared_error{};
inline constexpr MeanAbsoluteError mean_absolute_error{};

}  // namespace torchtrain::metrics

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torch/types.h>

namespace torchtrain::metrics {

namespace detail {
// Predictions minus labels, elementwise; a trailing output dimension of 1 ([N, 1] against
// labels [N]) is matched to the labels' shape.
inline torch::Tensor errors(const EvalPrediction& batches) {
  const auto prediction = concatenated(batches);
  const auto& labels = prediction.label_ids;
  TORCH_CHECK(prediction.predictions.numel() == labels.numel(), "regression metrics: ",
              prediction.predictions.numel(), " predictions but ", labels.numel(),
              " labels; the model must output one number per label");
  return prediction.predictions.to(torch::kDouble).reshape(labels.sizes()) - labels.to(torch::kDouble);
}
}  // namespace detail

TORCHTRAIN_INLINE Metrics MeanSquaredError::operator()(const EvalPrediction& prediction) const {
  return {{"mse", detail::errors(prediction).square().mean().item<double>()}};
}

TORCHTRAIN_INLINE Metrics MeanAbsoluteError::operator()(const EvalPrediction& prediction) const {
  return {{"mae", detail::errors(prediction).abs().mean().item<double>()}};
}

}  // namespace torchtrain::metrics

#endif  // TORCHTRAIN_DEFINITIONS
