// Losses: how a model's outputs and a batch become the scalar that is minimized.
#pragma once

#include <concepts>

#include <torch/nn/options/loss.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/ignore_index.hpp>

namespace torchtrain::loss {

/// A loss that can divide its sum by a count of labels given from outside: called as
/// `loss(outputs, batch, num_items_in_batch)`. With gradient accumulation the trainer
/// passes the labels of the whole window, which makes the accumulated gradient exactly
/// the full batch's for token-level losses (the Python Trainer's `num_items_in_batch`).
template <class Loss, class Outputs, class Batch>
concept CountsItems = requires(const Loss& loss, const Outputs& outputs, const Batch& batch,
                               const torch::Tensor& count) {
  { loss(outputs, batch, count) } -> std::convertible_to<torch::Tensor>;
};

/// The labels a counting loss divides by, in one batch: the loss's own `count_items(batch)`
/// when it has one (a causal LM loss counts the shifted labels, as Python does for its
/// causal LMs), else the labels that are not `ignore_index`.
template <class Loss, class Batch>
torch::Tensor count_items(const Loss& loss, const Batch& batch) {
  if constexpr (requires { loss.count_items(batch); })
    return loss.count_items(batch);
  else
    return (batch.labels != ignore_index).sum();
}

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

/// Cross-entropy between logits and class labels; labels equal to `ignore_index` (-100) do
/// not count. Logits are [N, C], or [N, T, C] with labels [N, T] (classes in the last
/// dimension, as language models return them).
struct CrossEntropy {
  double label_smoothing = 0.0;

  /// The mean over the labels that count.
  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& logits, const Batch& batch) const {
    return compute(logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions::reduction_t(torch::kMean));
  }
  /// The sum over the labels that count, divided by `num_items_in_batch`.
  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& logits, const Batch& batch,
                           const torch::Tensor& num_items_in_batch) const {
    return compute(logits, batch.labels, torch::kSum) / num_items_in_batch;
  }

 private:
  torch::Tensor compute(const torch::Tensor& logits, const torch::Tensor& labels,
                        torch::nn::functional::CrossEntropyFuncOptions::reduction_t reduction) const;
};
inline constexpr CrossEntropy cross_entropy{};

/// Next-token cross-entropy of a causal language model: the logits at position t [N, T, V]
/// against the labels at t + 1 [N, T], as the Python models' ForCausalLMLoss shifts them, so
/// a dataset may give the same tokens as inputs and labels (tt::data::text_blocks). As
/// there, the labels move, not the logits: they shift left by one and the last position
/// gets `ignore_index`, so the [N, T, V] logits are never copied into a shorter tensor.
struct CausalLMCrossEntropy {
  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& logits, const Batch& batch) const {
    return CrossEntropy{}(logits, ShiftedLabels{shifted(batch.labels)});
  }
  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& logits, const Batch& batch,
                           const torch::Tensor& num_items_in_batch) const {
    return CrossEntropy{}(logits, ShiftedLabels{shifted(batch.labels)}, num_items_in_batch);
  }
  /// The labels that are targets: every one that counts but each sequence's first (Python
  /// counts `labels[..., 1:]` for a causal LM's num_items_in_batch).
  template <class Batch>
  torch::Tensor count_items(const Batch& batch) const {
    return (batch.labels.slice(1, 1) != ignore_index).sum();
  }

 private:
  struct ShiftedLabels {
    torch::Tensor labels;
  };
  static torch::Tensor shifted(const torch::Tensor& labels) {
    return torch::constant_pad_nd(labels.slice(1, 1), {0, 1}, ignore_index);
  }
};
inline constexpr CausalLMCrossEntropy causal_lm_cross_entropy{};

/// Mean squared error between outputs and labels (for regression).
struct MeanSquaredError {
  template <class Batch>
  torch::Tensor operator()(const torch::Tensor& outputs, const Batch& batch) const {
    return torch::mse_loss(outputs, batch.labels.view_as(outputs));
  }
};
inline constexpr MeanSquaredError mean_squared_error{};

}  // namespace torchtrain::loss

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torch/nn/functional/loss.h>

namespace torchtrain::loss {

TORCHTRAIN_INLINE torch::Tensor CrossEntropy::compute(
    const torch::Tensor& logits, const torch::Tensor& labels,
    torch::nn::functional::CrossEntropyFuncOptions::reduction_t reduction) const {
  auto options = torch::nn::functional::CrossEntropyFuncOptions()
                     .ignore_index(ignore_index)
                     .label_smoothing(label_smoothing)
                     .reduction(reduction);
  if (logits.dim() > 2)
    return torch::nn::functional::cross_entropy(logits.flatten(0, -2), labels.flatten(), options);
  return torch::nn::functional::cross_entropy(logits, labels, options);
}

}  // namespace torchtrain::loss

#endif  // TORCHTRAIN_DEFINITIONS
