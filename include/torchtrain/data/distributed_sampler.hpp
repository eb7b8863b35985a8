// DistributedSampler: each process's shard of the epoch order, as PyTorch's DistributedSampler makes it.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::data {

/// The shard of process `rank` out of `num_replicas`. With `shuffle` the whole order is
/// the RandomSampler's permutation for (seed, epoch), so a run on one process and a run
/// on several see the same global order; without it, the stored order.
///
/// As PyTorch: without `drop_last` the order is padded by repeating its start until it
/// divides evenly, so every rank gets ceil(size / num_replicas) samples; with `drop_last`
/// the tail that does not divide evenly is dropped. Rank r takes positions r, r + R,
/// r + 2R, ... (R = num_replicas), so batch k of size b on every rank holds global
/// positions [k R b, (k + 1) R b): the ranks' batches together are exactly batch k of
/// size R b on one process, with sample i of rank r at place i R + r.
struct DistributedSampler {
  std::int64_t num_replicas = 1;
  std::int64_t rank = 0;
  bool shuffle = true;
  std::uint64_t seed = 42;
  bool drop_last = false;

  /// Samples per rank and epoch for a dataset of `size` samples.
  std::int64_t num_samples(std::int64_t size) const;

  torch::Tensor order(std::int64_t size, std::int64_t epoch) const;

  /// This rank's part of a whole-epoch order `indices` (any sampler's), by the rule above.
  torch::Tensor shard(torch::Tensor indices) const;

 private:
  void check() const;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

#include <torchtrain/data/random_sampler.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE std::int64_t DistributedSampler::num_samples(std::int64_t size) const {
  check();
  if (drop_last && size % num_replicas != 0) return (size - num_replicas + num_replicas - 1) / num_replicas;
  return (size + num_replicas - 1) / num_replicas;
}

TORCHTRAIN_INLINE torch::Tensor DistributedSampler::order(std::int64_t size, std::int64_t epoch) const {
  return shard(shuffle ? RandomSampler{seed}.order(size, epoch) : torch::arange(size, torch::kLong));
}

TORCHTRAIN_INLINE torch::Tensor DistributedSampler::shard(torch::Tensor indices) const {
  const std::int64_t size = indices.size(0);
  const std::int64_t total = num_samples(size) * num_replicas;
  if (total > size) {
    if (size == 0)
      throw ArgumentError("DistributedSampler: the dataset is empty; there is nothing to shard");
    // Padding repeats the order from its start, as many times as it takes.
    indices = indices.repeat({(total + size - 1) / size}).slice(0, 0, total);
  } else {
    indices = indices.slice(0, 0, total);
  }
  return indices.slice(0, rank, total, num_replicas);
}

TORCHTRAIN_INLINE void DistributedSampler::check() const {
  if (num_replicas < 1)
    throw ArgumentError(fmt::format("DistributedSampler: num_replicas must be at least 1, got {}", num_replicas));
  if (rank < 0 || rank >= num_replicas)
    throw ArgumentError(fmt::format("DistributedSampler: rank {} is not in [0, {}); pass the process's RANK",
                                    rank, num_replicas));
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
