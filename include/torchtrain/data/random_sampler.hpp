// RandomSampler: the seeded order in which a training epoch visits the samples.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::data {

/// A permutation of [0, size) that depends only on (seed, epoch): every epoch gets a new
/// order, and a resumed run can recompute the order of any epoch.
TORCHTRAIN_INLINE torch::Tensor epoch_permutation(std::int64_t size, std::uint64_t seed, std::int64_t epoch);

/// Sampler for training: a seeded permutation per epoch (see epoch_permutation).
struct RandomSampler {
  std::uint64_t seed = 42;
  torch::Tensor order(std::int64_t size, std::int64_t epoch) const {
    return epoch_permutation(size, seed, epoch);
  }
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <ATen/CPUGeneratorImpl.h>

namespace torchtrain::data {

TORCHTRAIN_INLINE torch::Tensor epoch_permutation(std::int64_t size, std::uint64_t seed, std::int64_t epoch) {
  auto generator = at::detail::createCPUGenerator(seed + static_cast<std::uint64_t>(epoch));
  return torch::randperm(size, generator, torch::kLong);
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
