// NEFTuneEmbedding: an embedding that adds NEFTune's noise to its output while training.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::nn {

/// torch::nn::Embedding (same options, same `weight`) whose output, in training mode
/// and with `noise_alpha` > 0, gets uniform noise in [-m, m], m = noise_alpha /
/// sqrt(sequence length x embedding width): NEFTune (Jain et al., 2023), which the Python
/// Trainer adds to the model's input embeddings for `--neftune_noise_alpha`. A generic
/// LibTorch module has no forward hooks, so the model says which embedding is its input
/// by using this module there; the Trainer sets `noise_alpha` for the length of train().
/// Inputs are `[batch, sequence]` token ids.
class NEFTuneEmbeddingImpl : public torch::nn::EmbeddingImpl {
 public:
  using torch::nn::EmbeddingImpl::EmbeddingImpl;

  torch::Tensor forward(const torch::Tensor& input_ids);

  double noise_alpha = 0;
};
TORCH_MODULE(NEFTuneEmbedding);

/// Sets `noise_alpha` on every NEFTuneEmbedding in `model` (0 turns the noise off);
/// returns how many there are.
TORCHTRAIN_INLINE int set_neftune_noise_alpha(torch::nn::Module& model, double noise_alpha);

}  // namespace torchtrain::nn

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>

namespace torchtrain::nn {

TORCHTRAIN_INLINE torch::Tensor NEFTuneEmbeddingImpl::forward(const torch::Tensor& input_ids) {
  auto output = torch::nn::EmbeddingImpl::forward(input_ids);
  if (!is_training() || noise_alpha <= 0) return output;
  const double magnitude = noise_alpha / std::sqrt(static_cast<double>(output.size(1) * output.size(2)));
  return output + torch::empty_like(output).uniform_(-magnitude, magnitude);
}

TORCHTRAIN_INLINE int set_neftune_noise_alpha(torch::nn::Module& model, double noise_alpha) {
  int found = 0;
  for (const auto& module : model.modules(/*include_self=*/true))
    if (auto* embedding = dynamic_cast<NEFTuneEmbeddingImpl*>(module.get())) {
      embedding->noise_alpha = noise_alpha;
      ++found;
    }
  return found;
}

}  // namespace torchtrain::nn

#endif  // TORCHTRAIN_DEFINITIONS
