// Batch: the inputs and labels of one (micro-)batch.
#pragma once

#include <torch/types.h>

namespace torchtrain::data {

/// What ready-made datasets produce. Models take `inputs` (or the whole batch, if their
/// `forward` does not take a tensor); losses and metrics read `labels`.
struct Batch {
  torch::Tensor inputs;
  torch::Tensor labels;

  std::int64_t size() const { return inputs.size(0); }
  Batch to(torch::Device device, bool non_blocking = false) const {
    if (inputs.device() == device && (!labels.defined() || labels.device() == device)) return *this;
    return {inputs.to(device, non_blocking), labels.defined() ? labels.to(device, non_blocking) : labels};
  }
  /// A copy in page-locked memory, which CUDA copies from without blocking.
  Batch pin_memory() const { return {inputs.pin_memory(), labels.defined() ? labels.pin_memory() : labels}; }
};

}  // namespace torchtrain::data
