// Losses: how a model's outputs and a batch become the scalar that is minimized.
#pragma once

#include <concepts>

#include <torch/nn/functional/loss.h>
#include <torch/types.h>

namespace torchtrain::loss {

/// The default: the model computes its own loss. Its forward returns either the loss
/// tensor itself or an object with a `loss` member (and `logits` for evaluation).
struct ModelLoss {
  template <class Outputs, class Batch>
  torch::Tensor operator()(const Outputs& outputs, const Batch&) const {
    if constexpr (std::convertible_to<Outputs, torch::Tensor>)
      return outputs;
    else
      return outputs.loss;
  }
};

/// Cross-entropy between logits [N, C, ...] and class labels; labels equal to
/// `ignore_index` (-100, as in PyTorch and the Python Trainer) do not count.
struct CrossEntropy {
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;

  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& logits, const Batch& batch) const {
    return torch::nn::functional::cross_entropy(
        logits, batch.labels,
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(ignore_index).label_smoothing(
            label_smoothing));
  }
};
inline constexpr CrossEntropy cross_entropy{};

/// Mean squared error between outputs and labels (for regression).
struct MeanSquaredError {
  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& outputs, const Batch& batch) const {
    return torch::mse_loss(outputs, batch.labels.view_as(outputs));
  }
};
inline constexpr MeanSquaredError mean_squared_error{};

}  // namespace torchtrain::loss
