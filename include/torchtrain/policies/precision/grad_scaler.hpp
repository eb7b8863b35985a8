// GradScaler: dynamic loss scaling for float16 training, with the arithmetic of PyTorch's GradScaler.
#pragma once

#include <string_view>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain {

/// The settings of PyTorch's `torch.amp.GradScaler`, with its defaults.
struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int growth_interval = 2000;   // steps without inf/NaN gradients before the scale grows
};

/// Multiplies the loss by a scale so that small float16 gradients do not flush to zero,
/// divides the gradients by it before clipping and the optimizer step, and skips the step
/// when any gradient is inf or NaN. Per optimizer step: scale(loss).backward() for each
/// micro-batch, then unscale (optional, before clipping), step, update.
class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {}) : options_(options), scale_(options.init_scale) {}

  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }

  /// Divides every gradient by the scale, once per step, and notes whether any is not finite.
  void unscale(torch::optim::Optimizer& optimizer);

  /// Unscales if not done yet; steps the optimizer unless a gradient was inf or NaN.
  /// Returns whether the optimizer stepped.
  bool step(torch::optim::Optimizer& optimizer);

  /// Backs off after a skipped step, grows after growth_interval good steps in a row.
  void update();

  double get_scale() const { return scale_; }
  int growth_tracker() const { return good_steps_; }  // good steps since the last change
  const GradScalerOptions& options() const { return options_; }
  /// Restores what get_scale() and growth_tracker() returned (for resuming a run).
  void load_state(double scale, int growth_tracker) {
    scale_ = scale;
    good_steps_ = growth_tracker;
  }
  /// The scaler's state as PyTorch's `GradScaler.state_dict()` lays it out: scaler.pt.
  c10::IValue state_dict() const;
  /// Restores what state_dict() or Python's `GradScaler.state_dict()` holds (the scale and
  /// the growth tracker; the settings stay this run's); FileError naming `source`.
  void load_state_dict(const c10::IValue& saved, std::string_view source);

 private:
  GradScalerOptions options_;
  double scale_;
  int good_steps_ = 0;
  bool unscaled_ = false;
  bool found_inf_ = false;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/io/torch_pickle.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE void GradScaler::unscale(torch::optim::Optimizer& optimizer) {
  if (unscaled_) return;
  std::vector<torch::Tensor> finite;
  for (auto& group : optimizer.param_groups())
    for (auto& parameter : group.params())
      if (parameter.grad().defined()) {
        parameter.mutable_grad().mul_(1.0 / scale_);
        finite.push_back(parameter.grad().isfinite().all());
      }
  found_inf_ = !finite.empty() && !torch::stack(finite).all().item<bool>();
  unscaled_ = true;
}

TORCHTRAIN_INLINE bool GradScaler::step(torch::optim::Optimizer& optimizer) {
  unscale(optimizer);
  if (!found_inf_) optimizer.step();
  return !found_inf_;
}

TORCHTRAIN_INLINE void GradScaler::update() {
  if (found_inf_) {
    scale_ *= options_.backoff_factor;
    good_steps_ = 0;
  } else if (++good_steps_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    good_steps_ = 0;
  }
  unscaled_ = found_inf_ = false;
}

TORCHTRAIN_INLINE c10::IValue GradScaler::state_dict() const {
  auto state = io::python_dict();
  state.insert("scale", scale_);
  state.insert("growth_factor", options_.growth_factor);
  state.insert("backoff_factor", options_.backoff_factor);
  state.insert("growth_interval", static_cast<std::int64_t>(options_.growth_interval));
  state.insert("_growth_tracker", static_cast<std::int64_t>(good_steps_));
  return state;
}

TORCHTRAIN_INLINE void GradScaler::load_state_dict(const c10::IValue& saved, std::string_view source) {
  const auto fail = [&](const std::string& why) {
    return FileError(fmt::format("cannot restore the loss scale from '{}': {}", source, why));
  };
  double scale = 0;
  std::int64_t growth_tracker = 0;
  try {
    const auto state = saved.toGenericDict();
    const auto saved_scale = io::value_at(state, "scale");
    scale = saved_scale.isInt() ? static_cast<double>(saved_scale.toInt()) : saved_scale.toDouble();
    growth_tracker = io::value_at(state, "_growth_tracker").toInt();
  } catch (const c10::Error& error) {
    throw fail(fmt::format("{}; it is no GradScaler state", error.what_without_backtrace()));
  }
  // Checked for meaning: a scale of 0, below 0 or not finite would make every step's
  // gradients zero, reversed or NaN, and the scaler would skip or spoil every step in silence.
  if (!std::isfinite(scale) || scale <= 0) throw fail(no_run_reaches("scale", fmt::format("{}", scale)));
  if (growth_tracker < 0 || growth_tracker > std::numeric_limits<int>::max())
    throw fail(no_run_reaches("_growth_tracker", fmt::format("{}", growth_tracker)));
  load_state(scale, static_cast<int>(growth_tracker));
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
