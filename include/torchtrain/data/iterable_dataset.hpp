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

#include <torchtrain/core/errors.hpp>
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
/// A seeded collator gets a seed made from `seed`, the epoch, the batch's number and the rank.
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

  /// With several processes, each reads the whole stream and keeps its slice of every
  /// global batch of `num_replicas` x batch_size samples (as Python's IterableDatasetShard),
  /// so the ranks' batches together are the one-process batch of the global size. A short
  /// last global batch is dropped: every process must take the same number of steps.
  void shard(std::int64_t num_replicas, std::int64_t rank) {
    if (num_replicas < 1 || rank < 0 || rank >= num_replicas)
      throw ArgumentError(fmt::format("rank {} of {} processes is not a shard of a stream", rank, num_replicas));
    num_replicas_ = num_replicas;
    rank_ = rank;
  }

  /// Batches in page-locked memory, for non-blocking copies to a CUDA device.
  void pin_memory(bool pin) { pin_memory_ = pin; }

  /// Restarts the stream for `epoch`.
  void start_epoch(std::int64_t epoch) {
    dataset_->restart(epoch);
    epoch_ = epoch;
    batch_number_ = 0;
  }

  /// Reads past the next `num_batches` batches without collating them (a resumed run
  /// skips what it trained on); returns how many there were before the stream ended.
  std::int64_t skip(std::int64_t num_batches) {
    std::int64_t skipped = 0;
    while (skipped < num_batches && !read_samples().empty()) ++skipped;
    return skipped;
  }

  /// The next batch, or nothing when the stream has ended.
  std::optional<Batch> next() {
    auto samples = read_samples();
    if (samples.empty()) return {};
    auto batch_seed = detail::mix_seed(seed_, static_cast<std::uint64_t>(epoch_));
    batch_seed = detail::mix_seed(batch_seed, static_cast<std::uint64_t>(batch_number_ - 1));
    if (num_replicas_ > 1) batch_seed = detail::mix_seed(batch_seed, static_cast<std::uint64_t>(rank_));
    auto batch = collate_samples(collator_, std::move(samples), batch_seed);
    if constexpr (requires { batch.pin_memory(); })
      if (pin_memory_) return batch.pin_memory();
    return batch;
  }

  /// Batches taken (or skipped) since the epoch began.
  std::int64_t batches_taken() const { return batch_number_; }

 private:
  // This process's samples of the next batch; none at the end of the stream.
  std::vector<torch::data::Example<>> read_samples() {
    const std::int64_t global_size = batch_size_ * num_replicas_;
    std::vector<torch::data::Example<>> samples;
    samples.reserve(static_cast<std::size_t>(batch_size_));
    std::int64_t read = 0;
    for (; read < global_size; ++read) {
      auto sample = dataset_->next();
      if (!sample) break;
      if (read / batch_size_ == rank_) samples.push_back(std::move(*sample));
    }
    const bool full = read == global_size;
    if (read == 0 || (!full && (drop_last_ || num_replicas_ > 1))) return {};
    ++batch_number_;
    return samples;
  }

  D* dataset_;
  C collator_;
  std::int64_t batch_size_;
  bool drop_last_;
  std::uint64_t seed_;
  std::int64_t num_replicas_ = 1, rank_ = 0;
  bool pin_memory_ = false;
  std::int64_t epoch_ = 0, batch_number_ = 0;
};

}  // namespace torchtrain::data
