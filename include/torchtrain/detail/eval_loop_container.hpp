// What an evaluation keeps of its batches: padded concatenation, and the move to the CPU.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// Concatenates tensors on dim 0 whose dim 1 may differ (sequences of different lengths
/// in different batches), padding the shorter ones with -100 at the end of dim 1, as the
/// Python Trainer does: -100 is the ignore index, so padded labels never count.
TORCHTRAIN_INLINE torch::Tensor pad_and_concatenate(const std::vector<torch::Tensor>& parts);

/// One output of an evaluation (predictions, labels, inputs or losses), kept batch by
/// batch where it was computed until to_cpu() joins what is there and moves it to the CPU
/// (the Python EvalLoopContainer): every --eval_accumulation_steps batches, and at the end.
class EvalLoopContainer {
 public:
  void add(torch::Tensor batch) {
    if (batch.defined()) on_device_.push_back(std::move(batch));
  }
  void to_cpu();
  /// The batches not yet moved to the CPU.
  std::size_t batches_on_device() const { return on_device_.size(); }
  /// Everything kept, on the CPU, padded and concatenated; undefined when nothing was kept.
  torch::Tensor get();

 private:
  std::vector<torch::Tensor> on_device_, on_cpu_;
};

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cstdint>

#include <torchtrain/core/ignore_index.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE torch::Tensor pad_and_concatenate(const std::vector<torch::Tensor>& parts) {
  const auto& first = parts.front();
  if (parts.size() == 1) return first;
  if (first.dim() < 2) return torch::cat(parts);
  std::int64_t rows = 0, width = 0;
  for (const auto& part : parts) {
    TORCH_CHECK(part.dim() == first.dim() && part.sizes().slice(2) == first.sizes().slice(2),
                "evaluation outputs of two batches have shapes ", first.sizes(), " and ", part.sizes(),
                ": only dimension 1 (the sequence) may differ between batches");
    rows += part.size(0);
    width = std::max(width, part.size(1));
  }
  if (std::all_of(parts.begin(), parts.end(), [&](const auto& part) { return part.size(1) == width; }))
    return torch::cat(parts);
  auto shape = first.sizes().vec();
  shape[0] = rows;
  shape[1] = width;
  auto joined = torch::full(shape, static_cast<double>(loss::ignore_index), first.options());
  std::int64_t row = 0;
  for (const auto& part : parts) {
    joined.slice(0, row, row + part.size(0)).slice(1, 0, part.size(1)).copy_(part);
    row += part.size(0);
  }
  return joined;
}

TORCHTRAIN_INLINE void EvalLoopContainer::to_cpu() {
  if (on_device_.empty()) return;
  on_cpu_.push_back(pad_and_concatenate(on_device_).to(torch::kCPU));
  on_device_.clear();
}

TORCHTRAIN_INLINE torch::Tensor EvalLoopContainer::get() {
  to_cpu();
  return on_cpu_.empty() ? torch::Tensor() : pad_and_concatenate(on_cpu_);
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
