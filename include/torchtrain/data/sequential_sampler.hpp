// SequentialSampler: the samples in their stored order, as evaluation and prediction visit them.
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace torchtrain::data {

/// Sampler for evaluation: the samples in their stored order, whatever the epoch.
struct SequentialSampler {
  torch::Tensor order(std::int64_t size, std::int64_t /*epoch*/ = 0) const {
    return torch::arange(size, torch::kLong);
  }
};

}  // namespace torchtrain::data
