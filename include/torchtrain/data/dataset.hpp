// What the trainer accepts as a dataset, and how it turns indices into a batch.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/data/example.h>
#include <torch/types.h>

#include <torchtrain/data/batch.hpp>
#include <torchtrain/data/default_data_collator.hpp>

namespace torchtrain::data {

/// A dataset that gathers a whole batch from a tensor of indices (like TensorDataset).
template <class D>
concept BatchDataset = requires(const D& dataset, const torch::Tensor& indices) {
  { dataset.size() } -> std::convertible_to<std::int64_t>;
  dataset.get_batch(indices);
};

/// A LibTorch `torch::data` dataset: `get(i)` returns an Example, `size()` an optional.
template <class D>
concept ExampleDataset = requires(D& dataset, std::size_t i) {
  { dataset.get(i) } -> std::convertible_to<torch::data::Example<>>;
  { dataset.size() } -> std::convertible_to<c10::optional<std::size_t>>;
};

template <class D>
concept Dataset = BatchDataset<D> || ExampleDataset<D>;

/// Marks "no dataset given" (for example no evaluation set).
struct NoDataset {};

template <Dataset D>
std::int64_t dataset_size(const D& dataset) {
  if constexpr (BatchDataset<D>) {
    return static_cast<std::int64_t>(dataset.size());
  } else {
    auto size = const_cast<D&>(dataset).size();
    TORCH_CHECK(size.has_value(), "torchtrain needs a dataset with a known size");
    return static_cast<std::int64_t>(*size);
  }
}

/// The batch of the samples at `indices` (int64, on the CPU). Examples of a LibTorch
/// dataset are stacked into a Batch (data -> inputs, target -> labels) by DefaultDataCollator.
template <Dataset D>
auto fetch_batch(D& dataset, const torch::Tensor& indices) {
  if constexpr (BatchDataset<D>) {
    return dataset.get_batch(indices);
  } else {
    std::vector<torch::data::Example<>> examples;
    examples.reserve(static_cast<std::size_t>(indices.numel()));
    const auto* index = indices.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < indices.numel(); ++i) examples.push_back(dataset.get(static_cast<std::size_t>(index[i])));
    return DefaultDataCollator{}(std::move(examples));
  }
}

}  // namespace torchtrain::data
