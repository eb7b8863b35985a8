// Sampler: what decides the order in which an epoch visits the samples of a dataset.
#pragma once

#include <concepts>
#include <cstdint>

#include <torch/types.h>

namespace torchtrain::data {

/// A sampler gives, for a dataset of `size` samples, the int64 indices that epoch `epoch`
/// visits, in order; batches are consecutive slices of it. The order must depend only on
/// the sampler's settings and (size, epoch), so that a resumed run recomputes it exactly.
template <class S>
concept Sampler = requires(const S& sampler, std::int64_t size, std::int64_t epoch) {
  { sampler.order(size, epoch) } -> std::convertible_to<torch::Tensor>;
};

}  // namespace torchtrain::data
