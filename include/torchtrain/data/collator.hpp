// Collator: what turns the samples at some indices into one batch (the Python data_collator).
#pragma once

#include <concepts>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/data/example.h>

namespace torchtrain::data {

/// Called with the samples of a batch, in order. A collator that draws random numbers
/// (masked language modeling) also takes a seed for the batch, so that a batch comes out
/// the same whichever thread makes it and when.
template <class C>
concept Collator = std::invocable<const C&, std::vector<torch::data::Example<>>> ||
                   std::invocable<const C&, std::vector<torch::data::Example<>>, std::uint64_t>;

/// The batch `collator` makes of `samples`, handing it `batch_seed` if it takes a seed.
template <Collator C>
auto collate_samples(const C& collator, std::vector<torch::data::Example<>> samples, std::uint64_t batch_seed) {
  if constexpr (std::invocable<const C&, std::vector<torch::data::Example<>>, std::uint64_t>)
    return collator(std::move(samples), batch_seed);
  else
    return collator(std::move(samples));
}

}  // namespace torchtrain::data
