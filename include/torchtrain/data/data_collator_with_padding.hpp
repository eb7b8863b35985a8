// DataCollatorWithPadding: token sequences padded to the longest in the batch, with an attention mask.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/data/example.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/data/token_batch.hpp>

namespace torchtrain::data {

/// As the Python DataCollatorWithPadding (padding "longest", right side): each sample's
/// `data` is a 1-D tensor of token ids. `input_ids` are padded with `pad_token_id` to the
/// longest sample, rounded up to `pad_to_multiple_of`; `attention_mask` marks the tokens.
/// Labels come from the samples' `target`: one per sample (classification) are stacked;
/// one per token (token classification) are padded with -100, so padding costs no loss,
/// as the Python DataCollatorForTokenClassification does.
struct DataCollatorWithPadding {
  std::int64_t pad_token_id = 0;
  std::optional<int> pad_to_multiple_of;

  TokenBatch operator()(std::vector<torch::data::Example<>> samples) const;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <utility>

#include <torch/types.h>

#include <torchtrain/core/ignore_index.hpp>
#include <torchtrain/data/detail/pad_sequences.hpp>
#include <torchtrain/data/detail/split_examples.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE TokenBatch DataCollatorWithPadding::operator()(std::vector<torch::data::Example<>> samples) const {
  auto [ids, targets] = detail::split_examples(std::move(samples), "DataCollatorWithPadding");
  const auto length = detail::padded_length(ids, pad_to_multiple_of);
  TokenBatch batch{detail::pad_right(ids, length, pad_token_id), detail::attention_mask(ids, length), {}};
  if (!targets.empty())
    batch.labels = targets.front().dim() == 0 ? torch::stack(targets)
                                              : detail::pad_right(targets, length, loss::ignore_index);
  return batch;
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
