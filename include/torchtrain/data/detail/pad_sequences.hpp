// Padding token sequences of different lengths into one [batch, length] tensor, with its attention mask.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::data::detail {

/// The padded length: the longest sequence, rounded up to a multiple of
/// `pad_to_multiple_of` (which tensor cores prefer).
TORCHTRAIN_INLINE std::int64_t padded_length(const std::vector<torch::Tensor>& sequences,
                                             std::optional<int> pad_to_multiple_of);

/// The sequences, right-padded with `value` to `length`, as one [batch, length] int64 tensor.
TORCHTRAIN_INLINE torch::Tensor pad_right(const std::vector<torch::Tensor>& sequences, std::int64_t length,
                                          std::int64_t value);

/// 1 where a row has a token, 0 where it is padding.
TORCHTRAIN_INLINE torch::Tensor attention_mask(const std::vector<torch::Tensor>& sequences, std::int64_t length);

}  // namespace torchtrain::data::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::data::detail {

TORCHTRAIN_INLINE std::int64_t padded_length(const std::vector<torch::Tensor>& sequences,
                                             std::optional<int> pad_to_multiple_of) {
  std::int64_t longest = 0;
  for (const auto& sequence : sequences) {
    if (sequence.dim() != 1)
      throw ArgumentError(fmt::format("padding needs each sample to be a 1-D sequence of token ids, got shape {}",
                                      fmt::join(sequence.sizes(), "x")));
    longest = std::max(longest, sequence.size(0));
  }
  if (pad_to_multiple_of) {
    if (*pad_to_multiple_of < 1)
      throw ArgumentError(fmt::format("pad_to_multiple_of must be at least 1, got {}", *pad_to_multiple_of));
    longest = (longest + *pad_to_multiple_of - 1) / *pad_to_multiple_of * *pad_to_multiple_of;
  }
  return longest;
}

TORCHTRAIN_INLINE torch::Tensor pad_right(const std::vector<torch::Tensor>& sequences, std::int64_t length,
                                          std::int64_t value) {
  auto padded = torch::full({static_cast<std::int64_t>(sequences.size()), length}, value, torch::kLong);
  for (std::size_t i = 0; i < sequences.size(); ++i)
    padded[static_cast<std::int64_t>(i)].slice(0, 0, sequences[i].size(0)).copy_(sequences[i]);
  return padded;
}

TORCHTRAIN_INLINE torch::Tensor attention_mask(const std::vector<torch::Tensor>& sequences, std::int64_t length) {
  auto lengths = torch::empty({static_cast<std::int64_t>(sequences.size()), 1}, torch::kLong);
  for (std::size_t i = 0; i < sequences.size(); ++i) lengths[static_cast<std::int64_t>(i)][0] = sequences[i].size(0);
  return (torch::arange(length, torch::kLong).unsqueeze(0) < lengths).to(torch::kLong);
}

}  // namespace torchtrain::data::detail

#endif  // TORCHTRAIN_DEFINITIONS
