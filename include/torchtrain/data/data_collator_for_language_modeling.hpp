// DataCollatorForLanguageModeling: batches for causal (labels = inputs) or masked (80/10/10) language modeling.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/data/example.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/token_batch.hpp>

namespace torchtrain::data {

/// As the Python DataCollatorForLanguageModeling: each sample's `data` is a 1-D tensor of
/// token ids, padded as DataCollatorWithPadding pads them; samples' targets are ignored.
///
/// `mlm = false` (causal): labels are the input ids with padding set to -100; they are
/// not shifted, the model or loss predicts token t + 1 from token t. Padding is found by
/// the attention mask, not by comparing with pad_token_id, so a real token that shares
/// the pad id (GPT-2 pads with its end-of-text token) keeps its label.
///
/// `mlm = true` (the Python default): each token other than padding and
/// `special_token_ids` is chosen with `mlm_probability`; labels are -100 except at the
/// chosen tokens; of the chosen, 80% become `mask_token_id`, 10% a random id in
/// [0, vocab_size), 10% stay. The choice is drawn from a generator seeded with
/// (seed, batch_seed): the same batch is masked the same way whatever the number of
/// loader workers, and again after a resume.
struct DataCollatorForLanguageModeling {
  bool mlm = true;
  double mlm_probability = 0.15;
  std::int64_t pad_token_id = 0;
  std::optional<std::int64_t> mask_token_id;  // needed with mlm
  std::int64_t vocab_size = 0;                // needed with mlm: random replacements are drawn below it
  std::vector<std::int64_t> special_token_ids;  // never masked (besides padding)
  std::optional<int> pad_to_multiple_of;
  std::uint64_t seed = 42;

  TokenBatch operator()(std::vector<torch::data::Example<>> samples, std::uint64_t batch_seed = 0) const;

 private:
  void mask_tokens(TokenBatch& batch, std::uint64_t batch_seed) const;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <torchtrain/core/ignore_index.hpp>
#include <torchtrain/data/detail/mix_seed.hpp>
#include <torchtrain/data/detail/pad_sequences.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE TokenBatch DataCollatorForLanguageModeling::operator()(std::vector<torch::data::Example<>> samples,
                                                                           std::uint64_t batch_seed) const {
  std::vector<torch::Tensor> ids;
  ids.reserve(samples.size());
  for (auto& sample : samples) ids.push_back(std::move(sample.data));
  const auto length = detail::padded_length(ids, pad_to_multiple_of);
  TokenBatch batch{detail::pad_right(ids, length, pad_token_id), detail::attention_mask(ids, length), {}};
  if (mlm) {
    mask_tokens(batch, batch_seed);
  } else {
    batch.labels = batch.input_ids.masked_fill(batch.attention_mask == 0, loss::ignore_index);
  }
  return batch;
}

TORCHTRAIN_INLINE void DataCollatorForLanguageModeling::mask_tokens(TokenBatch& batch,
                                                                    std::uint64_t batch_seed) const {
  if (!mask_token_id)
    throw ArgumentError("DataCollatorForLanguageModeling: masked language modeling (mlm = true) needs "
                        "mask_token_id; set it, or set mlm = false for causal language modeling");
  if (vocab_size < 1)
    throw ArgumentError("DataCollatorForLanguageModeling: masked language modeling needs vocab_size, the range "
                        "random replacement tokens are drawn from");
  if (!(mlm_probability >= 0 && mlm_probability <= 1))
    throw ArgumentError(fmt::format("DataCollatorForLanguageModeling: mlm_probability must be in [0, 1], got {}",
                                    mlm_probability));
  auto generator = at::detail::createCPUGenerator(detail::mix_seed(seed, batch_seed));
  const auto shape = batch.input_ids.sizes();
  auto maskable = batch.attention_mask != 0;
  for (const auto special : special_token_ids) maskable &= batch.input_ids != special;
  auto chosen = torch::bernoulli(torch::full(shape, mlm_probability, torch::kDouble), generator).to(torch::kBool) &
                maskable;
  batch.labels = batch.input_ids.masked_fill(~chosen, loss::ignore_index);
  auto replaced = torch::bernoulli(torch::full(shape, 0.8, torch::kDouble), generator).to(torch::kBool) & chosen;
  auto randomized =
      torch::bernoulli(torch::full(shape, 0.5, torch::kDouble), generator).to(torch::kBool) & chosen & ~replaced;
  auto random_ids = torch::randint(vocab_size, shape, generator, torch::kLong);
  batch.input_ids = torch::where(replaced, torch::full_like(batch.input_ids, *mask_token_id),
                                 torch::where(randomized, random_ids, batch.input_ids));
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
