// DefaultDataCollator: samples of one shape stacked into a Batch (the Python default_data_collator).
#pragma once

#include <vector>

#include <torch/data/example.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/data/batch.hpp>

namespace torchtrain::data {

/// Stacks the samples' `data` into `inputs` and their `target` into `labels` (none when
/// the samples have no target). Every sample must have the same shape; for token
/// sequences of different lengths use DataCollatorWithPadding.
struct DefaultDataCollator {
  Batch operator()(std::vector<torch::data::Example<>> samples) const;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <utility>

#include <torch/types.h>

#include <torchtrain/data/detail/split_examples.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE Batch DefaultDataCollator::operator()(std::vector<torch::data::Example<>> samples) const {
  auto [inputs, labels] = detail::split_examples(std::move(samples), "DefaultDataCollator");
  return {torch::stack(inputs), labels.empty() ? torch::Tensor() : torch::stack(labels)};
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
