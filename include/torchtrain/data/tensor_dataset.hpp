// TensorDataset: samples held as rows of an inputs tensor and a labels tensor.
#pragma once

#include <cstdint>
#include <utility>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/data/batch.hpp>

namespace torchtrain::data {

/// Sample i is (inputs[i], labels[i]). A batch is gathered with one index_select per
/// tensor rather than by stacking single samples.
class TensorDataset {
 public:
  TensorDataset(torch::Tensor inputs, torch::Tensor labels);

  std::int64_t size() const { return inputs_.size(0); }
  Batch get_batch(const torch::Tensor& indices) const {
    return {inputs_.index_select(0, indices), labels_.index_select(0, indices)};
  }
  const torch::Tensor& inputs() const { return inputs_; }
  const torch::Tensor& labels() const { return labels_; }

  /// Splits into (first, second) with `fraction` of the rows in the first, after a
  /// shuffle seeded with `seed`: the same seed gives the same split.
  std::pair<TensorDataset, TensorDataset> split(double fraction, std::uint64_t seed) const;

 private:
  torch::Tensor inputs_;
  torch::Tensor labels_;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <torchtrain/data/random_sampler.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE TensorDataset::TensorDataset(torch::Tensor inputs, torch::Tensor labels)
    : inputs_(std::move(inputs)), labels_(std::move(labels)) {
  if (!(inputs_.dim() >= 1 && labels_.dim() >= 1 && inputs_.size(0) == labels_.size(0)))
    throw std::invalid_argument(fmt::format("TensorDataset: inputs and labels need the same number of rows, got "
                                            "[{}] and [{}]", fmt::join(inputs_.sizes(), ", "),
                                            fmt::join(labels_.sizes(), ", ")));
}

TORCHTRAIN_INLINE std::pair<TensorDataset, TensorDataset> TensorDataset::split(double fraction,
                                                                                std::uint64_t seed) const {
  if (!(fraction > 0 && fraction < 1))  // not TORCH_CHECK: its message would carry a C++ backtrace
    throw std::invalid_argument(fmt::format("TensorDataset::split: fraction must be in (0, 1), got {}", fraction));
  auto order = epoch_permutation(size(), seed, 0);
  auto first_size = static_cast<std::int64_t>(fraction * static_cast<double>(size()));
  auto first = order.slice(0, 0, first_size), second = order.slice(0, first_size);
  return {TensorDataset(inputs_.index_select(0, first), labels_.index_select(0, first)),
          TensorDataset(inputs_.index_select(0, second), labels_.index_select(0, second))};
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
