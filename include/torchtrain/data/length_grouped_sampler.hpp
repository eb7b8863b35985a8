// LengthGroupedSampler: a seeded order that puts samples of similar length in one batch (--group_by_length).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/dataset.hpp>

namespace torchtrain::data {

/// The Python Trainer's megabatch method (`get_length_grouped_indices`): split `permutation`
/// into megabatches of `megabatch_size`, sort each by length, longest first (ties keep
/// their order), then swap the longest sample of all to the very front, so that an
/// out-of-memory error shows in the first step rather than hours later.
TORCHTRAIN_INLINE torch::Tensor group_by_length(const torch::Tensor& permutation,
                                                const std::vector<std::int64_t>& lengths, std::int64_t megabatch_size);

/// A dataset whose samples' lengths are known: it has `lengths()`, or is a LibTorch-style
/// dataset (each sample's `data` is measured), or wraps one (`dataset()`, as CollatedDataset).
template <class D>
concept HasSampleLengths = requires(const D& dataset) { dataset.lengths(); } || ExampleDataset<D> ||
                           requires(D& dataset) { dataset.dataset(); };

/// One length per sample: `lengths()` where the dataset keeps them, else the first
/// dimension of each sample's data, loading every sample once (as Python measures
/// `input_ids` when there is no length column).
template <HasSampleLengths D>
std::vector<std::int64_t> sample_lengths(D& dataset) {
  if constexpr (requires { dataset.lengths(); }) {
    const auto& lengths = dataset.lengths();
    return {lengths.begin(), lengths.end()};
  } else if constexpr (ExampleDataset<D>) {
    std::vector<std::int64_t> lengths;
    for (std::int64_t i = 0; i < dataset_size(dataset); ++i) {
      const auto data = dataset.get(static_cast<std::size_t>(i)).data;
      lengths.push_back(data.dim() == 0 ? 1 : data.size(0));
    }
    return lengths;
  } else {
    return sample_lengths(dataset.dataset());
  }
}

/// Sampler for --group_by_length: the RandomSampler's permutation for (seed, epoch),
/// grouped by length in megabatches of `megabatch_multiplier` x `batch_size` samples.
/// As in Python, `batch_size` is the samples of one optimizer step (per-device batch x
/// gradient accumulation) and the multiplier is min(size / (4 batch_size), 50), at least 1.
struct LengthGroupedSampler {
  std::vector<std::int64_t> lengths;  // of each sample, in tokens
  std::int64_t batch_size = 8;
  std::uint64_t seed = 42;

  std::int64_t megabatch_size() const;

  torch::Tensor order(std::int64_t size, std::int64_t epoch) const;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/data/random_sampler.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE torch::Tensor group_by_length(const torch::Tensor& permutation,
                                                const std::vector<std::int64_t>& lengths, std::int64_t megabatch_size) {
  const auto* index = permutation.data_ptr<std::int64_t>();
  std::vector<std::int64_t> order(index, index + permutation.numel());
  const auto longer = [&](std::int64_t a, std::int64_t b) {
    return lengths[static_cast<std::size_t>(a)] > lengths[static_cast<std::size_t>(b)];
  };
  std::size_t longest_start = 0;  // the megabatch whose first sample is the longest (the first such)
  for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(megabatch_size)) {
    const auto end = std::min(order.size(), start + static_cast<std::size_t>(megabatch_size));
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start), order.begin() + static_cast<std::ptrdiff_t>(end),
                     longer);
    if (longer(order[start], order[longest_start])) longest_start = start;
  }
  if (!order.empty()) std::swap(order.front(), order[longest_start]);
  return torch::tensor(order, torch::kLong);
}

TORCHTRAIN_INLINE std::int64_t LengthGroupedSampler::megabatch_size() const {
  const auto size = static_cast<std::int64_t>(lengths.size());
  return std::max<std::int64_t>(1, std::min<std::int64_t>(size / (batch_size * 4), 50)) * batch_size;
}

TORCHTRAIN_INLINE torch::Tensor LengthGroupedSampler::order(std::int64_t size, std::int64_t epoch) const {
  if (size != static_cast<std::int64_t>(lengths.size()))
    throw ArgumentError(fmt::format("LengthGroupedSampler: the dataset has {} samples but {} lengths were given; "
                                    "give one length per sample",
                                    size, lengths.size()));
  return group_by_length(RandomSampler{seed}.order(size, epoch), lengths, megabatch_size());
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
