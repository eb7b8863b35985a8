// DefaultDataCollator: samples of one shape stacked into a Batch (the Python default_data_collator).
#pragma once

#include <utility>
#include <vector>

#include <torch/data/example.h>
#include <torch/types.h>

#include <torchtrain/data/batch.hpp>

namespace torchtrain::data {

/// Stacks the samples' `data` into `inputs` and their `target` into `labels` (none when
/// the samples have no target). Every sample must have the same shape; for token
/// sequences of different lengths use DataCollatorWithPadding.
struct DefaultDataCollator {
  Batch operator()(std::vector<torch::data::Example<>> samples) const {
    std::vector<torch::Tensor> inputs, labels;
    inputs.reserve(samples.size());
    labels.reserve(samples.size());
    for (auto& sample : samples) {
      inputs.push_back(std::move(sample.data));
      if (sample.target.defined()) labels.push_back(std::move(sample.target));
    }
    TORCH_CHECK(labels.empty() || labels.size() == inputs.size(),
                "DefaultDataCollator: some samples have a target and some do not");
    return {torch::stack(inputs), labels.empty() ? torch::Tensor() : torch::stack(labels)};
  }
};

}  // namespace torchtrain::data
