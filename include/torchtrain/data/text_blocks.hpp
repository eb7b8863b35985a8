// text_blocks: a text file as a causal language-modeling dataset of equal token blocks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/types.h>

#include <torchtrain/data/csv.hpp>  // DataError
#include <torchtrain/data/tensor_dataset.hpp>

namespace torchtrain::data {

/// The text of `file` tokenized by `tokenizer` (anything with `encode(text)` returning token
/// ids, such as SentencePieceTokenizer) and cut into blocks of `block_size` tokens, the last
/// partial block dropped: the Python examples' `group_texts`. Inputs and labels are the same
/// blocks; a causal loss (tt::loss::causal_lm_cross_entropy) shifts them.
template <class Tokenizer>
TensorDataset text_blocks(const std::filesystem::path& file, const Tokenizer& tokenizer, std::int64_t block_size) {
  if (block_size < 1) throw DataError(fmt::format("the block size is {}; it must be at least 1", block_size));
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw DataError(fmt::format("cannot open '{}': no such file or not readable", file.string()));
  const std::string text{std::istreambuf_iterator<char>(stream), {}};
  const auto ids = tokenizer.encode(text);
  const auto blocks = static_cast<std::int64_t>(ids.size()) / block_size;
  if (blocks == 0)
    throw DataError(fmt::format("'{}' has {} tokens, fewer than one block of {}: use a longer text or a smaller "
                                "block size",
                                file.string(), ids.size(), block_size));
  auto tokens = torch::tensor(std::vector<std::int64_t>(ids.begin(), ids.begin() + blocks * block_size))
                    .view({blocks, block_size});
  return {tokens, tokens};
}

}  // namespace torchtrain::data
