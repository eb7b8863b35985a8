// generate_greedy: a language model's continuation of each prompt, one most likely token at a time.
#pragma once

#include <cstdint>
#include <optional>

#include <fmt/format.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::nn {

/// Greedy decoding, for evaluation by generation (the Python `predict_with_generate`):
/// appends to each prompt of `input_ids` [N, T] the token its logits rank first,
/// `max_new_tokens` times, and returns the new tokens [N, max_new_tokens]. The model's
/// forward takes token ids and returns logits [N, T, V] (a causal LM: the last position's
/// are used) or [N, V] (the next token's). With `context`, the model sees only the last
/// `context` tokens (a model of fixed context). Runs without autograd.
template <class Model>
torch::Tensor generate_greedy(Model& model, torch::Tensor input_ids, std::int64_t max_new_tokens,
                              std::optional<std::int64_t> context = std::nullopt) {
  if (input_ids.dim() != 2)
    throw ArgumentError(fmt::format("generate_greedy: input_ids must be [batch, tokens], got shape {}", input_ids.sizes()));
  if (max_new_tokens < 1)
    throw ArgumentError(fmt::format("generate_greedy: max_new_tokens must be at least 1, got {}", max_new_tokens));
  torch::NoGradGuard no_grad;
  const std::int64_t prompt_length = input_ids.size(1);
  for (std::int64_t i = 0; i < max_new_tokens; ++i) {
    const auto seen = context && input_ids.size(1) > *context ? input_ids.slice(1, -*context) : input_ids;
    torch::Tensor logits = model->forward(seen);
    if (logits.dim() == 3) logits = logits.select(1, -1);
    input_ids = torch::cat({input_ids, logits.argmax(-1, /*keepdim=*/true).to(input_ids.scalar_type())}, 1);
  }
  return input_ids.slice(1, prompt_length);
}

}  // namespace torchtrain::nn
