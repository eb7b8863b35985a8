// CollatedDataset: a dataset of single samples made into a batch dataset by a collator (the Python data_collator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/data/example.h>
#include <torch/types.h>

#include <torchtrain/data/collator.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/detail/mix_seed.hpp>

namespace torchtrain::data {

/// `dataset`'s samples, gathered with `get(i)` and batched by `collator`: what the Python
/// Trainer's `data_collator` argument does, as a dataset the Trainer takes like any other.
/// A seeded collator gets a seed made from the batch's sample indices, so a batch comes
/// out the same whichever thread loads it and when.
template <ExampleDataset D, Collator C>
class CollatedDataset {
 public:
  CollatedDataset(D dataset, C collator) : dataset_(std::move(dataset)), collator_(std::move(collator)) {}

  std::int64_t size() const { return dataset_size(dataset_); }

  auto get_batch(const torch::Tensor& indices) const {
    std::vector<torch::data::Example<>> samples;
    samples.reserve(static_cast<std::size_t>(indices.numel()));
    const auto* index = indices.data_ptr<std::int64_t>();
    std::uint64_t batch_seed = 0;
    for (std::int64_t i = 0; i < indices.numel(); ++i) {
      samples.push_back(dataset_.get(static_cast<std::size_t>(index[i])));
      batch_seed = detail::mix_seed(batch_seed, static_cast<std::uint64_t>(index[i]));
    }
    return collate_samples(collator_, std::move(samples), batch_seed);
  }

  D& dataset() { return dataset_; }
  const C& collator() const { return collator_; }

 private:
  mutable D dataset_;  // LibTorch datasets' get() is not const
  C collator_;
};

/// `collate(dataset, tt::data::DataCollatorWithPadding{.pad_token_id = 3})`.
template <ExampleDataset D, Collator C>
CollatedDataset<D, C> collate(D dataset, C collator) {
  return {std::move(dataset), std::move(collator)};
}

}  // namespace torchtrain::data
