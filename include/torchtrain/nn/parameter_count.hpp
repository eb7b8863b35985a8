// non_embedding_parameters: the parameter count that Python's total_flos multiplies.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::nn {

/// The elements of `model`'s parameters but the weights of its torch::nn::Embedding
/// modules, as Python's `PreTrainedModel.num_parameters(exclude_embeddings=True)` counts.
TORCHTRAIN_INLINE std::int64_t non_embedding_parameters(const torch::nn::Module& model);

/// The parameters that train (requires_grad), as the Python Trainer counts them.
TORCHTRAIN_INLINE std::int64_t trainable_parameters(const torch::nn::Module& model);

}  // namespace torchtrain::nn

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <set>

#include <torch/nn/modules/embedding.h>

namespace torchtrain::nn {

TORCHTRAIN_INLINE std::int64_t non_embedding_parameters(const torch::nn::Module& model) {
  std::set<const torch::TensorImpl*> embeddings;
  const auto note = [&](const torch::nn::Module& module) {
    if (const auto* embedding = dynamic_cast<const torch::nn::EmbeddingImpl*>(&module))
      embeddings.insert(embedding->weight.unsafeGetTensorImpl());
  };
  note(model);  // modules(include_self) would need the model held by a shared_ptr
  for (const auto& module : model.modules(/*include_self=*/false)) note(*module);
  std::int64_t count = 0;
  for (const auto& parameter : model.parameters())
    if (!embeddings.contains(parameter.unsafeGetTensorImpl())) count += parameter.numel();
  return count;
}

TORCHTRAIN_INLINE std::int64_t trainable_parameters(const torch::nn::Module& model) {
  std::int64_t count = 0;
  for (const auto& parameter : model.parameters())
    if (parameter.requires_grad()) count += parameter.numel();
  return count;
}

}  // namespace torchtrain::nn

#endif  // TORCHTRAIN_DEFINITIONS
