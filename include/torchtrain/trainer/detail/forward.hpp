// Calling a model on a batch, and reading logits from what it returns.
#pragma once

#include <concepts>

#include <torch/types.h>

namespace torchtrain::detail {

/// `model->forward(batch.inputs)` when the model takes a tensor, else `model->forward(batch)`
/// (a model that wants the whole batch, masks and all). Inputs come first because generic
/// containers such as torch::nn::Sequential declare a forward that accepts anything.
template <class Model, class Batch>
decltype(auto) forward(Model& model, const Batch& batch) {
  if constexpr (requires { model->forward(batch.inputs); })
    return model->forward(batch.inputs);
  else
    return model->forward(batch);
}

/// Whether a model output carries logits: it is a tensor, or has `.logits`.
template <class Outputs>
concept HasLogits = std::convertible_to<const Outputs&, const torch::Tensor&> || requires(const Outputs& outputs) {
  { outputs.logits } -> std::convertible_to<const torch::Tensor&>;
};

/// The logits of a model output: the output itself when it is a tensor, else `.logits`.
template <HasLogits Outputs>
const torch::Tensor& logits_of(const Outputs& outputs) {
  if constexpr (std::convertible_to<const Outputs&, const torch::Tensor&>)
    return outputs;
  else
    return outputs.logits;
}

}  // namespace torchtrain::detail
