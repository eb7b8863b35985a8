// LossSum: the running sum of training losses, kept on the device without a kernel per step.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

namespace torchtrain {

/// Sums 0-dim loss tensors lazily: `add` only keeps the tensor; the sum is computed (one
/// stack and one sum) when read, or every `fold_every` additions to bound the memory.
/// Adding to a tensor at every step would cost a kernel launch per step; reading the value
/// at every step would cost a host synchronization on CUDA.
class LossSum {
 public:
  static constexpr std::size_t fold_every = 256;

  void add(torch::Tensor loss) {
    pending_.push_back(std::move(loss));
    if (pending_.size() == fold_every) fold();
  }

  /// The sum of everything added since the last reset, as a 0-dim tensor (undefined if none).
  const torch::Tensor& sum() {
    fold();
    return sum_;
  }

  void reset() {
    pending_.clear();
    sum_ = torch::Tensor();
  }

  /// Writes the folded sum and the pending losses as they are, so that a resumed run
  /// adds in the same order and logs bit-identical losses.
  void save(torch::serialize::OutputArchive& archive) const {
    archive.write("loss_sum", sum_.defined() ? sum_.unsqueeze(0) : torch::empty({0}));
    archive.write("pending_losses", pending_.empty() ? torch::empty({0}) : torch::stack(pending_));
  }
  void load(torch::serialize::InputArchive& archive, torch::Device device) {
    torch::Tensor sum, pending;
    archive.read("loss_sum", sum);
    archive.read("pending_losses", pending);
    reset();
    if (sum.numel() == 1) sum_ = sum.squeeze(0).to(device);
    for (std::int64_t i = 0; i < pending.size(0); ++i) pending_.push_back(pending[i].to(device));
  }

 private:
  void fold() {
    if (pending_.empty()) return;
    auto partial = torch::stack(pending_).sum();
    sum_ = sum_.defined() ? sum_ + partial : partial;
    pending_.clear();
  }

  std::vector<torch::Tensor> pending_;
  torch::Tensor sum_;
};

}  // namespace torchtrain
