// TokenBatch: a batch of token sequences by the Python names: input_ids, attention_mask, labels.
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace torchtrain::data {

/// What the padding and language-modeling collators produce. Fields are named as the
/// Python Trainer's batch keys, and are struct members rather than string keys, so a
/// model's `forward(const TokenBatch&)` reads `batch.attention_mask` at no lookup cost.
/// `labels` is what losses read (the Python default `label_names`); a field not made is
/// an undefined tensor.
struct TokenBatch {
  torch::Tensor input_ids;       // [batch, length], int64
  torch::Tensor attention_mask;  // [batch, length], 1 for a token, 0 for padding
  torch::Tensor labels;          // [batch, length] (-100 where no loss), [batch], or undefined

  std::int64_t size() const { return input_ids.size(0); }

  TokenBatch to(torch::Device device, bool non_blocking = false) const {
    return {moved(input_ids, device, non_blocking), moved(attention_mask, device, non_blocking),
            moved(labels, device, non_blocking)};
  }
  /// A copy in page-locked memory, which CUDA copies from without blocking.
  TokenBatch pin_memory() const { return {pinned(input_ids), pinned(attention_mask), pinned(labels)}; }

 private:
  static torch::Tensor moved(const torch::Tensor& t, torch::Device device, bool non_blocking) {
    return t.defined() ? t.to(device, non_blocking) : t;
  }
  static torch::Tensor pinned(const torch::Tensor& t) { return t.defined() ? t.pin_memory() : t; }
};

}  // namespace torchtrain::data
