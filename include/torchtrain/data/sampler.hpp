// Sampler: what decides the order in which an epoch visits the samples of a dataset.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <utility>

#include <torch/types.h>

namespace torchtrain::data {

/// A sampler gives, for a dataset of `size` samples, the int64 indices that epoch `epoch`
/// visits, in order; batches are consecutive slices of it. The order must depend only on
/// the sampler's settings and (size, epoch), so that a resumed run recomputes it exactly.
template <class S>
concept Sampler = requires(const S& sampler, std::int64_t size, std::int64_t epoch) {
  { sampler.order(size, epoch) } -> std::convertible_to<torch::Tensor>;
};

/// Any Sampler, or none (empty: the Trainer's own order). Called once per epoch, so the
/// indirection costs nothing per batch.
class AnySampler {
 public:
  AnySampler() = default;
  template <Sampler S>
    requires(!std::same_as<std::remove_cvref_t<S>, AnySampler>)
  AnySampler(S sampler)  // NOLINT(google-explicit-constructor): any sampler converts
      : order_([sampler = std::move(sampler)](std::int64_t size, std::int64_t epoch) {
          return torch::Tensor(sampler.order(size, epoch));
        }) {}

  explicit operator bool() const { return static_cast<bool>(order_); }
  torch::Tensor order(std::int64_t size, std::int64_t epoch) const { return order_(size, epoch); }

 private:
  std::function<torch::Tensor(std::int64_t, std::int64_t)> order_;
};

}  // namespace torchtrain::data
