// LossSum: the running sum of training losses, without a kernel or a synchronization per step.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// The sum of the training losses since the last log, kept where reading a loss is cheap.
///
/// `Where::device` (for CUDA): `add` only keeps the tensor; the sum is computed (one
/// stack and one sum) when read, or every `fold_every` additions to bound the memory.
/// Adding to a tensor at every step would cost a kernel launch per step; reading the
/// value at every step would cost a host synchronization.
///
/// `Where::host` (for the CPU, where reading a value costs nothing): each loss is read
/// when added and summed in a double, so that a log reads a number instead of running
/// the stack and the sum (a few microseconds, a share of a small model's step).
///
/// With `nan_inf_divisor` (the Python `logging_nan_inf_filter`), a loss that is NaN or
/// infinite adds instead the sum so far divided by that number, which the caller gives as
/// Python computes it: 1 + optimizer steps since the last log.
class LossSum {
 public:
  static constexpr std::size_t fold_every = 256;
  enum class Where { host, device };

  /// Host for the CPU, device for any other device.
  static Where where_for(torch::Device device) { return device.is_cpu() ? Where::host : Where::device; }

  explicit LossSum(Where where = Where::device) : where_(where) {}

  void add(torch::Tensor loss, std::optional<double> nan_inf_divisor = std::nullopt);

  /// The sum of everything added since the last reset, as a 0-dim tensor (undefined if
  /// none); on the host a float64 CPU tensor, valid until the next call.
  const torch::Tensor& sum();

  void reset();

  /// Writes the folded sum and the pending losses as they are, so that a resumed run
  /// adds in the same order and logs bit-identical losses.
  void save(torch::serialize::OutputArchive& archive) const;
  /// Reads what save() wrote, whichever Where wrote it.
  void load(torch::serialize::InputArchive& archive, torch::Device device);

 private:
  void fold();

  Where where_;
  std::vector<torch::Tensor> pending_;
  std::vector<double> divisors_;  // for each pending loss (0 where not filtered)
  bool filters_ = false;          // whether any pending loss is filtered
  torch::Tensor sum_;             // on the device: what fold() summed
  double host_sum_ = 0;           // on the host: the sum itself
  bool host_added_ = false;
  torch::Tensor host_tensor_;     // on the host: sum() hands the sum out in it
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE void LossSum::add(torch::Tensor loss, std::optional<double> nan_inf_divisor) {
  if (where_ == Where::host) {
    const double value = loss.item<double>();
    host_sum_ += nan_inf_divisor && !std::isfinite(value) ? host_sum_ / *nan_inf_divisor : value;
    host_added_ = true;
    return;
  }
  pending_.push_back(std::move(loss));
  divisors_.push_back(nan_inf_divisor.value_or(0));
  filters_ = filters_ || nan_inf_divisor.has_value();
  if (pending_.size() == fold_every) fold();
}

TORCHTRAIN_INLINE const torch::Tensor& LossSum::sum() {
  if (where_ == Where::host) {
    if (!host_added_) return sum_;  // undefined
    if (!host_tensor_.defined()) host_tensor_ = torch::empty({}, torch::kFloat64);
    *host_tensor_.data_ptr<double>() = host_sum_;  // no kernel
    return host_tensor_;
  }
  fold();
  return sum_;
}

TORCHTRAIN_INLINE void LossSum::reset() {
  pending_.clear();
  divisors_.clear();
  filters_ = false;
  sum_ = torch::Tensor();
  host_sum_ = 0;
  host_added_ = false;
}

TORCHTRAIN_INLINE void LossSum::save(torch::serialize::OutputArchive& archive) const {
  const auto folded = where_ == Where::device ? sum_
                      : host_added_          ? torch::full({}, host_sum_, torch::kFloat64)
                                             : torch::Tensor();
  archive.write("loss_sum", folded.defined() ? folded.unsqueeze(0) : torch::empty({0}));
  archive.write("pending_losses", pending_.empty() ? torch::empty({0}) : torch::stack(pending_));
  archive.write("pending_nan_inf_divisors",
                torch::tensor(std::vector<double>(divisors_), torch::kFloat64).view({-1}));
  archive.write("filters_nan_inf", torch::tensor(filters_));
}

TORCHTRAIN_INLINE void LossSum::load(torch::serialize::InputArchive& archive, torch::Device device) {
  torch::Tensor sum, pending, divisors, filters;
  archive.read("loss_sum", sum);
  archive.read("pending_losses", pending);
  archive.read("pending_nan_inf_divisors", divisors);
  archive.read("filters_nan_inf", filters);
  reset();
  if (sum.numel() == 1) {
    if (where_ == Where::host) {
      host_sum_ = sum.item<double>();
      host_added_ = true;
    } else {
      sum_ = sum.squeeze(0).to(device);
    }
  }
  for (std::int64_t i = 0; i < pending.size(0); ++i) {
    const double divisor = divisors[i].item<double>();
    if (where_ == Where::host) {
      add(pending[i], divisor != 0 ? std::optional(divisor) : std::nullopt);
    } else {
      pending_.push_back(pending[i].to(device));
      divisors_.push_back(divisor);
    }
  }
  if (where_ == Where::device) filters_ = filters.item<bool>();
}

TORCHTRAIN_INLINE void LossSum::fold() {
  if (pending_.empty()) return;
  auto losses = torch::stack(pending_);
  auto partial = losses.sum();
  // The sum is finite unless a loss is not. Only then is the recurrence below (a dozen
  // kernels) needed. Reading the sum synchronizes on CUDA, but a fold comes at a log
  // (which reads the sum anyway) or once every fold_every losses.
  if (filters_ && !std::isfinite(partial.item<double>())) {
    // S <- S * a_k + b_k for each loss k, with (a, b) = (1, loss) for a finite loss and
    // (1 + 1/divisor, 0) otherwise; in closed form, S * prod(a) + sum(b_k * prod_{j>k} a_j).
    const auto finite = losses.isfinite();
    const auto divisors = torch::tensor(divisors_, torch::kFloat64).to(losses.device(), losses.scalar_type());
    const auto growth = torch::where(finite, torch::ones_like(losses), 1 + 1 / divisors);
    const auto added = torch::where(finite, losses, torch::zeros_like(losses));
    // The growth of every later loss: the reversed cumulative product, shifted by one.
    const auto later_growth =
        torch::cat({growth.flip(0).cumprod(0).flip(0).slice(0, 1), torch::ones_like(losses.slice(0, 0, 1))});
    partial = (added * later_growth).sum();
    if (sum_.defined()) sum_ = sum_ * growth.prod();
  }
  sum_ = sum_.defined() ? sum_ + partial : partial;
  pending_.clear();
  divisors_.clear();
  filters_ = false;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
