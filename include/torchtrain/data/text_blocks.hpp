// text_blocks: a text file as a causal language-modeling dataset of equal token blocks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/tensor_dataset.hpp>

namespace torchtrain::data {

namespace detail {
// What text_blocks does before and after tokenizing, which does not depend on the tokenizer:
// the text of `file` (DataError for a block size below 1 or a file it cannot open), and
// `ids` cut into blocks (DataError naming `file` when there is not one whole block).
TORCHTRAIN_INLINE std::string read_text_for_blocks(const std::filesystem::path& file, std::int64_t block_size);
TORCHTRAIN_INLINE TensorDataset token_blocks(const std::vector<std::int64_t>& ids, std::int64_t block_size,
                                             const std::filesystem::path& file);
}  // namespace detail

/// The text of `file` tokenized by `tokenizer` (anything with `encode(text)` returning token
/// ids, such as SentencePieceTokenizer) and cut into blocks of `block_size` tokens, the last
/// partial block dropped: the Python examples' `group_texts`. Inputs and labels are the same
/// blocks; a causal loss (tt::loss::causal_lm_cross_entropy) shifts them.
template <class Tokenizer>
TensorDataset text_blocks(const std::filesystem::path& file, const Tokenizer& tokenizer, std::int64_t block_size) {
  const std::string text = detail::read_text_for_blocks(file, block_size);
  const auto ids = tokenizer.encode(text);
  return detail::token_blocks(std::vector<std::int64_t>(ids.begin(), ids.end()), block_size, file);
}

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <torch/types.h>

namespace torchtrain::data::detail {

TORCHTRAIN_INLINE std::string read_text_for_blocks(const std::filesystem::path& file, std::int64_t block_size) {
  if (block_size < 1) throw DataError(fmt::format("the block size is {}; it must be at least 1", block_size));
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw DataError(fmt::format("cannot open '{}': no such file or not readable", file.string()));
  return {std::istreambuf_iterator<char>(stream), {}};
}

TORCHTRAIN_INLINE TensorDataset token_blocks(const std::vector<std::int64_t>& ids, std::int64_t block_size,
                                             const std::filesystem::path& file) {
  const auto blocks = static_cast<std::int64_t>(ids.size()) / block_size;
  if (blocks == 0)
    throw DataError(fmt::format("'{}' has {} tokens, fewer than one block of {}: use a longer text or a smaller "
                                "block size",
                                file.string(), ids.size(), block_size));
  auto tokens = torch::tensor(std::vector<std::int64_t>(ids.begin(), ids.begin() + blocks * block_size))
                    .view({blocks, block_size});
  return {tokens, tokens};
}

}  // namespace torchtrain::data::detail

#endif  // TORCHTRAIN_DEFINITIONS
