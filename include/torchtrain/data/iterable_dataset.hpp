// IterableDataset: a stream of samples without random access (the Python IterableDataset), and its batches.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/data/example.h>

#include <torchtrain/arguments/argument_error.hpp>
#include <torchtrain/data/collator.hpp>
#include <torchtrain/data/detail/mix_seed.hpp>

namespace torchtrain::data {

/// A stream: `next()` gives the next sample, or nothing at its end; `restart(epoch)`
/// begins it again for epoch `epoch` (a stream that shuffles seeds its shuffle with it).
/// For data too large to hold, or produced on the fly.
template <class D>
concept IterableDataset = requires(D& dataset, std::int64_t epoch) {
  { dataset.next() } -> std::same_as<std::optional<torch::data::Example<>>>;
  dataset.restart(epoch);
};

/// The batches of a stream: `batch_size` samples at a time in stream order, made into a
/// batch by `collator`; the last batch of an epoch is short, or dropped with `drop_last`.
/// A seeded collator gets a seed made from `seed`, the epoch and the batch's number.
template <IterableDataset D, Collator C>
class IterableLoader {
 public:
  using Batch = std::remove_cvref_t<decltype(collate_samples(std::declval<const C&>(),
                                                              std::vector<torch::data::Example<>>{}, 0))>;

  IterableLoader(D& dataset, C collator, std::int64_t batch_size, bool drop_last = false, std::uint64_t seed = 42)
      : dataset_(&dataset), collator_(std::move(collator)), batch_size_(batch_size), drop_last_(drop_last),
        seed_(seed) {
    if (batch_size_ < 1) throw ArgumentError(fmt::format("the batch size must be at least 1, got {}", batch_size_));
  }

  /// Restarts the stream for `epoch`.
  void start_epoch(std::int64_t epoch) {
    dataset_->restart(epoch);
    epoch_ = epoch;
    batch_number_ = 0;
  }

  /// The next batch, or nothing when the stream has ended.
  std::optional<Batch> next() {
    std::vector<torch::data::Example<>> samples;
    samples.reserve(static_cast<std::size_t>(batch_size_));
    while (static_cast<std::int64_t>(samples.size()) < batch_size_) {
      auto sample = dataset_->next();
      if (!sample) break;
      samples.push_back(std::move(*sample));
    }
    if (samples.empty() || (drop_last_ && static_cast<std::int64_t>(samples.size()) < batch_size_)) return {};
    const auto batch_seed = detail::mix_seed(detail::mix_seed(seed_, static_cast<std::uint64_t>(epoch_)),
                                             static_cast<std::uint64_t>(batch_number_++));
    return collate_samples(collator_, std::move(samples), batch_seed);
  }

 private:
  D* dataset_;
  C collator_;
  std::int64_t batch_size_;
  bool drop_last_;
  std::uint64_t seed_;
  std::int64_t epoch_ = 0, batch_number_ = 0;
};

}  // namespace torchtrain::data
