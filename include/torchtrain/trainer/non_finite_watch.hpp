// NonFiniteWatch: the first training loss and gradient norm of a run that are NaN or infinite, found without a device read per step.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/metrics.hpp>

namespace torchtrain {

/// Watches the training losses and gradient norms for the first value that is not a
/// finite number, so that a diverged run says so once, with the step and the value,
/// instead of logging a filtered loss (`--logging_nan_inf_filter`) and going on in silence.
///
/// On the CPU each value is read when added (reading costs nothing there). On a device
/// the values wait, as tensors, until `take_findings`: the loop calls it where it reads
/// a value anyway (a log) or every `check_every` steps, so a healthy run pays one device
/// read per log, not one per step. The step of a finding is the step that produced it,
/// however late it is read.
class NonFiniteWatch {
 public:
  enum Quantity { loss, grad_norm };
  static constexpr std::array<const char*, 2> quantity_names{"loss", "grad_norm"};
  static constexpr int check_every = 256;

  struct Finding {
    Quantity quantity;
    int step;
    double value;
    /// Its log_history entry's key: a resumed run finds it there and does not report again.
    std::string key() const { return log_key(quantity); }
  };
  static std::string log_key(Quantity quantity) { return std::string("first_non_finite_") + quantity_names[quantity]; }

  /// Starts watching a run, reading each value as it comes (on the CPU) or not (on a
  /// device); what `log_history` already reports (a resumed run's) is not reported again.
  void begin(bool read_each_value, const std::vector<Metrics>& log_history);

  /// A value of the optimizer step `step` (the one being trained).
  void add(Quantity quantity, int step, const torch::Tensor& value);

  /// The error that stops a run at `found` (--debug underflow_overflow): the checkpoints
  /// saved before it are intact, and `trainer_state_file` holds the log history.
  static TrainingError stop_error(const Finding& found, const std::string& trainer_state_file);
  /// Says `found` once, as a warning: the run goes on, as Python's does.
  static void warn(const Finding& found, bool logging_nan_inf_filter);

  /// Whether each value is read as it comes (on the CPU): then a check costs nothing.
  bool reads_each_value() const { return read_each_value_; }

  /// The values found since the last call, each reported once in the run. With several
  /// processes a collective (every process calls it at the same steps): each learns the
  /// earliest finding of any process.
  template <class Strategy>
  std::vector<Finding> take_findings(Strategy& strategy) {
    read_pending();
    if (strategy.world_size() > 1) agree_across_processes(strategy);
    std::vector<Finding> findings;
    for (const Quantity quantity : {loss, grad_norm})
      if (!reported_[quantity] && found_[quantity].step != 0) {
        findings.push_back(found_[quantity]);
        reported_[quantity] = true;
      }
    return findings;
  }

 private:
  struct Pending {
    Quantity quantity;
    int step;
    torch::Tensor value;
  };

  void note(Quantity quantity, int step, double value);

  // One device read for all the waiting values, and a host copy only when one is not finite.
  void read_pending();

  // Each process puts its findings (step, value; step 0 for none) in its own row of a zero
  // table; a sum gives every process every row, and each keeps the earliest step.
  template <class Strategy>
  void agree_across_processes(Strategy& strategy) {
    torch::Tensor table = torch::zeros({strategy.world_size(), 2, 2}, torch::kFloat64);
    for (const Quantity quantity : {loss, grad_norm})
      if (!reported_[quantity] && found_[quantity].step != 0) {
        table[strategy.rank()][quantity][0] = found_[quantity].step;
        table[strategy.rank()][quantity][1] = found_[quantity].value;
      }
    table = strategy.reduce_sum(table.to(strategy.device())).cpu();
    const auto rows = table.accessor<double, 3>();
    for (const Quantity quantity : {loss, grad_norm})
      for (int rank = 0; rank < strategy.world_size(); ++rank) {
        const int step = static_cast<int>(rows[rank][quantity][0]);
        if (step != 0 && (found_[quantity].step == 0 || step < found_[quantity].step))
          found_[quantity] = {quantity, step, rows[rank][quantity][1]};
      }
  }

  bool read_each_value_ = true;
  std::vector<Pending> pending_;
  std::array<Finding, 2> found_{};  // step 0: none yet
  std::array<bool, 2> reported_{};
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

#include <torchtrain/detail/python_float_repr.hpp>
#include <torchtrain/io/messages.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE TrainingError NonFiniteWatch::stop_error(const Finding& found, const std::string& trainer_state_file) {
  return TrainingError(fmt::format(
      "step {}: the training {} is {}, and --debug underflow_overflow stops at the first loss or gradient norm "
      "that is not a finite number. The checkpoints saved before it are intact, and {} holds the log history; "
      "lower --learning_rate or set --max_grad_norm, then resume from a checkpoint or start again",
      found.step, quantity_names[found.quantity], detail::python_float_repr(found.value), trainer_state_file));
}

TORCHTRAIN_INLINE void NonFiniteWatch::warn(const Finding& found, bool logging_nan_inf_filter) {
  message(LogLevel::warning,
          "step {}: the training {} is {}, the first of this run that is not a finite number (log_history "
          "holds it as {}){}. Training goes on, as in Python; lower --learning_rate or set --max_grad_norm, "
          "or pass --debug underflow_overflow to stop at the first one",
          found.step, quantity_names[found.quantity], detail::python_float_repr(found.value), found.key(),
          found.quantity == loss && logging_nan_inf_filter
              ? "; the logged loss uses the running mean in its place (--logging_nan_inf_filter)"
              : "");
}

TORCHTRAIN_INLINE void NonFiniteWatch::begin(bool read_each_value, const std::vector<Metrics>& log_history) {
  read_each_value_ = read_each_value;
  pending_.clear();
  found_ = {};
  for (const Quantity quantity : {loss, grad_norm})
    reported_[quantity] = std::ranges::any_of(log_history, [&](const Metrics& entry) {
      return entry.contains(log_key(quantity));
    });
}

TORCHTRAIN_INLINE void NonFiniteWatch::add(Quantity quantity, int step, const torch::Tensor& value) {
  if (reported_[quantity] || found_[quantity].step != 0) return;
  if (read_each_value_) {
    note(quantity, step, value.item<double>());
    return;
  }
  pending_.push_back({quantity, step, value.detach()});
  if (pending_.size() >= 4 * check_every) read_pending();  // bounds the memory between checks
}

TORCHTRAIN_INLINE void NonFiniteWatch::note(Quantity quantity, int step, double value) {
  if (!std::isfinite(value) && found_[quantity].step == 0) found_[quantity] = {quantity, step, value};
}

TORCHTRAIN_INLINE void NonFiniteWatch::read_pending() {
  if (pending_.empty()) return;
  std::vector<torch::Tensor> values;
  values.reserve(pending_.size());
  for (const auto& entry : pending_) values.push_back(entry.value.to(torch::kFloat64).reshape({}));
  const auto all = torch::stack(values);
  if (!all.isfinite().all().item<bool>()) {
    const auto host = all.cpu();
    const double* value = host.data_ptr<double>();
    for (std::size_t i = 0; i < pending_.size(); ++i) note(pending_[i].quantity, pending_[i].step, value[i]);
  }
  pending_.clear();
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
