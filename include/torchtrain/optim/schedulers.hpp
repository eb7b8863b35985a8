// Learning-rate schedules with the Python Trainer's names, formulas and defaults, and the scheduler that applies them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// Shapes of the warm-up and decay phases of warmup_stable_decay.
enum class PhaseShape { linear, cosine, one_minus_sqrt };
constexpr auto enum_names(PhaseShape) { return std::array<std::string_view, 3>{"linear", "cosine", "1-sqrt"}; }

/// Whether the metric a plateau rule watches should fall or rise, and how "better" is
/// measured (a share of the best, or an amount), as in PyTorch's ReduceLROnPlateau.
enum class MetricMode { min, max };
constexpr auto enum_names(MetricMode) { return std::array<std::string_view, 2>{"min", "max"}; }
enum class ThresholdMode { rel, abs };
constexpr auto enum_names(ThresholdMode) { return std::array<std::string_view, 2>{"rel", "abs"}; }

/// The extra parameters of the schedules, under the Python names (`lr_scheduler_kwargs`).
/// Unset optionals take the Python default of the chosen schedule.
struct SchedulerOptions {
  std::optional<double> num_cycles;        // cosine 0.5, cosine_with_restarts 1, cosine_with_min_lr 0.5, wsd 0.5
  double power = 1.0;                      // polynomial
  double lr_end = 1e-7;                    // polynomial: the final learning rate
  std::optional<double> timescale;         // inverse_sqrt (default: warmup steps, or 10000)
  std::optional<double> min_lr;            // cosine_with_min_lr (absolute); the floor of the plateau rules
  std::optional<double> min_lr_rate;       // cosine_with_min_lr (a share of the initial rate)
  std::optional<double> warmup_lr_rate;    // cosine_warmup_with_min_lr: the first step's share of the rate
  std::optional<std::int64_t> num_stable_steps;  // warmup_stable_decay (default: total - warmup - decay)
  std::optional<std::int64_t> num_decay_steps;   // warmup_stable_decay (required)
  PhaseShape warmup_type = PhaseShape::linear;   // warmup_stable_decay
  PhaseShape decay_type = PhaseShape::cosine;    // warmup_stable_decay
  double min_lr_ratio = 0.0;               // warmup_stable_decay
  // The plateau rules: reduce_lr_on_plateau (PyTorch's ReduceLROnPlateau) and greedy
  // (transformers' GreedyLR); where their defaults differ, reduce_lr_on_plateau's is first.
  MetricMode mode = MetricMode::min;
  std::optional<double> factor;            // 0.1, 0.95
  int patience = 10;
  std::optional<double> threshold;         // 1e-4, 1e-6
  std::optional<ThresholdMode> threshold_mode;  // rel, abs
  int cooldown = 0;
  double eps = 1e-8;
  bool verbose = false;                    // accepted; the changes are not printed
  // greedy only.
  int warmup = 0;                          // evaluations to wait after raising the rate
  double max_lr = 1.0;
  bool smooth = false;                     // watch the mean of the last window_size values
  int window_size = 50;
  int reset_start = 500;                   // evaluations at min_lr before starting over
};

namespace optim {

/// The multiplier of the initial learning rate at scheduler step s (0 at the first
/// optimizer step), for every SchedulerType but reduce_lr_on_plateau (always 1 here).
class LRSchedule {
 public:
  /// `initial_lr` matters for polynomial and cosine_with_min_lr (absolute min_lr). Throws
  /// ArgumentError for options the schedule cannot use.
  LRSchedule(SchedulerType type, std::int64_t warmup_steps, std::int64_t total_steps,
             SchedulerOptions options = {}, double initial_lr = 1.0);

  /// A schedule of the user's own: the learning rate at optimizer step `step` is the
  /// initial one times `lambda(step)` (PyTorch's LambdaLR `lr_lambda`).
  using Lambda = std::function<double(std::int64_t step)>;
  explicit LRSchedule(Lambda lambda);

  SchedulerType type() const { return type_; }

  double factor(std::int64_t step) const;

 private:
  // The phase boundaries in doubles: the counts come from --lr_scheduler_kwargs as any
  // int64, whose sums overflow (num_stable_steps and num_decay_steps near 2^63).
  double warmup_stable_decay_factor(std::int64_t step) const;

  SchedulerType type_;
  std::int64_t warmup_, total_;
  SchedulerOptions options_;
  double initial_lr_;
  Lambda lambda_;  // set for a LambdaLR schedule
};

/// Sets each parameter group's learning rate to its initial rate x factor(step), like
/// PyTorch's LambdaLR: the factor of step 0 applies from construction, step() moves to
/// the next. reduce_lr_on_plateau and greedy move on evaluation results instead:
/// step(metric) is PyTorch's ReduceLROnPlateau, or transformers' GreedyLR.
class LRScheduler {
 public:
  LRScheduler(torch::optim::Optimizer& optimizer, LRSchedule schedule, SchedulerOptions options = {});

  /// Advances one optimizer step (not for the schedules that move on metrics).
  void step();

  /// reduce_lr_on_plateau and greedy: after an evaluation, with the metric they watch.
  void step(double metric);

  bool steps_on_metrics() const;

  /// The scheduler's state as the Python one's `state_dict()` lays it out (LambdaLR's,
  /// ReduceLROnPlateau's or transformers' GreedyLR's keys): scheduler.pt. The optimizer
  /// saves its own state, learning rates included.
  c10::IValue state_dict() const;

  /// Restores what state_dict() or the Python scheduler's `state_dict()` holds, and sets the
  /// learning rates of that step; FileError naming `source` when it is no such state.
  void load_state_dict(const c10::IValue& saved, std::string_view source);

  /// The current learning rate of each parameter group.
  std::vector<double> get_last_lr() const;
  /// The learning rate of the first parameter group, as the Python Trainer logs it.
  double last_lr() const { return optimizer_->param_groups().front().options().get_lr(); }
  std::int64_t steps_taken() const { return step_; }
  /// Each group's learning rate when the scheduler was made (Python's `base_lrs`).
  const std::vector<double>& initial_lrs() const { return initial_lrs_; }
  const LRSchedule& schedule() const { return schedule_; }

 private:
  void apply();

  bool greedy() const { return schedule_.type() == SchedulerType::greedy; }
  double worst() const;
  bool is_better(double metric) const;
  // Multiplies each rate by `factor`, not below `floor`, skipping changes under eps; true
  // when every rate is at the floor afterwards.
  bool reduce(double factor, double floor);

  // GreedyLR: a run of better evaluations raises the rate, a run of worse ones lowers it;
  // after reset_start lowerings at the floor it starts over.
  void greedy_step(double metric);

  torch::optim::Optimizer* optimizer_;
  LRSchedule schedule_;
  SchedulerOptions options_;
  std::vector<double> initial_lrs_;
  std::int64_t step_ = 0;
  // The plateau rules' state.
  double best_ = 0;
  int bad_evaluations_ = 0;
  int good_evaluations_ = 0;
  int cooldown_left_ = 0;
  int warmup_left_ = 0;
  int reset_start_ = 0;
  std::vector<double> recent_;  // greedy with smooth: the last window_size metrics
};

/// PyTorch's `LambdaLR(optimizer, lr_lambda)`: each group's learning rate is its initial
/// one times `lr_lambda(step)`. Its state (the step) is saved in scheduler.pt and restored
/// on resume; the function is code, given again to the resumed run, as in Python.
TORCHTRAIN_INLINE LRScheduler LambdaLR(torch::optim::Optimizer& optimizer, LRSchedule::Lambda lr_lambda);

/// Warmup steps as the Python Trainer resolves them: warmup_steps >= 1 counts steps (its
/// whole part, as Python's int()), a warmup_steps in (0, 1) is a ratio, else warmup_ratio;
/// a ratio r gives ceil(r x total). A warmup longer than the run stays in warm-up for the
/// whole run, as in Python; one beyond what 64 bits count (--warmup_steps 1e20) is an
/// ArgumentError naming the flag, as is a ratio outside [0, 1].
TORCHTRAIN_INLINE std::int64_t resolve_warmup_steps(const TrainingArguments& args, int total_steps);

}  // namespace optim

/// The Python `transformers.get_scheduler`: the schedule called `name` (see SchedulerType)
/// over `num_training_steps`, applied to `optimizer` from now on. Throws ArgumentError,
/// listing the known names, for an unknown one.
TORCHTRAIN_INLINE optim::LRScheduler get_scheduler(std::string_view name, torch::optim::Optimizer& optimizer,
                                                   std::int64_t num_warmup_steps, std::int64_t num_training_steps,
                                                   SchedulerOptions options = {});

}  // namespace torchtrain

namespace torchtrain {

/// Reads `lr_scheduler_kwargs` given as Python gives it, a JSON object
/// ('{"num_cycles": 2, "power": 0.5}'), or as "num_cycles=2,power=0.5" (names of
/// SchedulerOptions). Throws ArgumentError naming an unknown name or a bad value.
TORCHTRAIN_INLINE SchedulerOptions parse_scheduler_kwargs(const std::optional<std::string>& kwargs);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>
#include <utility>

#include <boost/hana/adapt_struct.hpp>
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <torchtrain/arguments/parse_args.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/name_values.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/torch_pickle.hpp>

// Reflection for parse_scheduler_kwargs, which is compiled once: programs never see it.
BOOST_HANA_ADAPT_STRUCT(torchtrain::SchedulerOptions, num_cycles, power, lr_end, timescale, min_lr, min_lr_rate,
                        warmup_lr_rate, num_stable_steps, num_decay_steps, warmup_type, decay_type, min_lr_ratio, mode,
                        factor, patience, threshold, threshold_mode, cooldown, eps, verbose, warmup, max_lr, smooth,
                        window_size, reset_start);

namespace torchtrain::optim {

TORCHTRAIN_INLINE LRSchedule::LRSchedule(SchedulerType type, std::int64_t warmup_steps, std::int64_t total_steps,
                                         SchedulerOptions options, double initial_lr)
    : type_(type), warmup_(warmup_steps), total_(total_steps), options_(options), initial_lr_(initial_lr) {
  using enum SchedulerType;
  if (type == polynomial && !(initial_lr > options.lr_end))
    throw ArgumentError(fmt::format("lr_end ({}) must be smaller than the initial learning rate ({}) for "
                                    "--lr_scheduler_type polynomial", options.lr_end, initial_lr));
  if ((type == cosine_with_min_lr || type == cosine_warmup_with_min_lr) &&
      options.min_lr.has_value() == options.min_lr_rate.has_value())
    throw ArgumentError(fmt::format("--lr_scheduler_type {} needs exactly one of min_lr and min_lr_rate in "
                                    "--lr_scheduler_kwargs",
                                    enum_names(type)[static_cast<std::size_t>(type)]));
  if (type == greedy && !(options.factor.value_or(0.95) < 1.0))
    throw ArgumentError(fmt::format("--lr_scheduler_type greedy needs a factor below 1 in --lr_scheduler_kwargs, "
                                    "got {}", *options.factor));
  if (type == warmup_stable_decay && !options.num_decay_steps)
    throw ArgumentError("--lr_scheduler_type warmup_stable_decay needs num_decay_steps in --lr_scheduler_kwargs");
}

TORCHTRAIN_INLINE LRSchedule::LRSchedule(Lambda lambda)
    : type_(SchedulerType::constant), warmup_(0), total_(0), initial_lr_(1.0), lambda_(std::move(lambda)) {
  if (!lambda_) throw ArgumentError("LambdaLR needs a function of the step; got an empty one");
}

TORCHTRAIN_INLINE double LRSchedule::factor(std::int64_t step) const {
  using enum SchedulerType;
  if (lambda_) return lambda_(step);
  // In doubles, which cannot overflow whatever the counts (--warmup_steps 1e18): exact
  // below 2^53 steps, far beyond any run.
  const double s = static_cast<double>(step), w = static_cast<double>(warmup_), t = static_cast<double>(total_);
  const double warmup = s / std::max(1.0, w);
  const double progress = (s - w) / std::max(1.0, t - w);
  switch (type_) {
    case constant:
    case reduce_lr_on_plateau:
    case greedy:
      return 1.0;
    case constant_with_warmup:
      return step < warmup_ ? warmup : 1.0;
    case linear:
      return step < warmup_ ? warmup : std::max(0.0, (t - s) / std::max(1.0, t - w));
    case cosine:
      if (step < warmup_) return warmup;
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * options_.num_cycles.value_or(0.5) * 2.0 * progress)));
    case cosine_with_restarts: {
      if (step < warmup_) return warmup;
      if (progress >= 1.0) return 0.0;
      const double cycles = options_.num_cycles.value_or(1.0);
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * std::fmod(cycles * progress, 1.0))));
    }
    case polynomial: {
      if (step < warmup_) return warmup;
      if (step > total_) return options_.lr_end / initial_lr_;
      const double remaining = 1.0 - (s - w) / (t - w);
      return ((initial_lr_ - options_.lr_end) * std::pow(remaining, options_.power) + options_.lr_end) / initial_lr_;
    }
    case inverse_sqrt: {
      if (step < warmup_) return warmup;
      const double timescale = options_.timescale.value_or(warmup_ > 0 ? w : 10000.0);
      const double shift = timescale - w;
      return 1.0 / std::sqrt((s + shift) / timescale);
    }
    case cosine_with_min_lr: {
      if (step < warmup_) return warmup;
      const double rate = options_.min_lr_rate ? *options_.min_lr_rate : *options_.min_lr / initial_lr_;
      const double f = 0.5 * (1.0 + std::cos(std::numbers::pi * options_.num_cycles.value_or(0.5) * 2.0 * progress));
      return std::max(0.0, f * (1.0 - rate) + rate);
    }
    case cosine_warmup_with_min_lr: {
      const double rate = options_.min_lr_rate ? *options_.min_lr_rate : *options_.min_lr / initial_lr_;
      if (step < warmup_) {
        if (!options_.warmup_lr_rate) return (s + 1.0) / std::max(1.0, w);
        const double first = *options_.warmup_lr_rate;
        return first + (1.0 - first) * s / std::max(1.0, w - 1.0);
      }
      const double shifted = (s - w + 1.0) / std::max(1.0, t - w);
      const double f = 0.5 * (1.0 + std::cos(std::numbers::pi * options_.num_cycles.value_or(0.5) * 2.0 * shifted));
      return std::max(0.0, f * (1.0 - rate) + rate);
    }
    case warmup_stable_decay:
      return warmup_stable_decay_factor(step);
  }
  return 1.0;
}

TORCHTRAIN_INLINE double LRSchedule::warmup_stable_decay_factor(std::int64_t step) const {
  const double floor = options_.min_lr_ratio;
  const double s = static_cast<double>(step), w = static_cast<double>(warmup_);
  const double decay = static_cast<double>(*options_.num_decay_steps);
  const double stable = options_.num_stable_steps ? static_cast<double>(*options_.num_stable_steps)
                                                  : static_cast<double>(total_) - w - decay;
  auto shaped = [&](double f) { return std::max(0.0, f * (1.0 - floor) + floor); };
  if (s < w) {
    const double p = s / std::max(1.0, w);
    switch (options_.warmup_type) {
      case PhaseShape::linear: return shaped(p);
      case PhaseShape::cosine: return shaped(0.5 * (1.0 - std::cos(std::numbers::pi * p)));
      case PhaseShape::one_minus_sqrt: return shaped(1.0 - std::sqrt(1.0 - p));
    }
  }
  if (s < w + stable) return 1.0;
  if (s < w + stable + decay) {
    const double p = (s - w - stable) / std::max(1.0, decay);
    switch (options_.decay_type) {
      case PhaseShape::linear: return shaped(1.0 - p);
      case PhaseShape::cosine:
        return shaped(0.5 * (1.0 + std::cos(std::numbers::pi * options_.num_cycles.value_or(0.5) * 2.0 * p)));
      case PhaseShape::one_minus_sqrt: return shaped(1.0 - std::sqrt(p));
    }
  }
  return floor;
}

TORCHTRAIN_INLINE LRScheduler::LRScheduler(torch::optim::Optimizer& optimizer, LRSchedule schedule,
                                           SchedulerOptions options)
    : optimizer_(&optimizer), schedule_(schedule), options_(options) {
  for (auto& group : optimizer.param_groups()) initial_lrs_.push_back(group.options().get_lr());
  best_ = worst();
  reset_start_ = options_.reset_start;
  apply();
}

TORCHTRAIN_INLINE void LRScheduler::step() {
  ++step_;
  apply();
}

TORCHTRAIN_INLINE void LRScheduler::step(double metric) {
  ++step_;
  if (schedule_.type() == SchedulerType::greedy) return greedy_step(metric);
  if (is_better(metric)) {
    best_ = metric;
    bad_evaluations_ = 0;
  } else {
    ++bad_evaluations_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_evaluations_ = 0;
  }
  if (bad_evaluations_ > options_.patience) {
    reduce(options_.factor.value_or(0.1), options_.min_lr.value_or(0.0));
    cooldown_left_ = options_.cooldown;
    bad_evaluations_ = 0;
  }
}

TORCHTRAIN_INLINE bool LRScheduler::steps_on_metrics() const {
  return schedule_.type() == SchedulerType::reduce_lr_on_plateau || schedule_.type() == SchedulerType::greedy;
}

TORCHTRAIN_INLINE c10::IValue LRScheduler::state_dict() const {
  auto state = io::python_dict();
  const auto rates = io::python_list(get_last_lr());
  state.insert("last_epoch", step_);
  state.insert("_last_lr", rates);
  if (!steps_on_metrics()) {
    state.insert("base_lrs", io::python_list(initial_lrs_));
    state.insert("_step_count", step_ + 1);
    state.insert("_is_initial", false);
    state.insert("_get_lr_called_within_step", false);
    auto lambdas = io::python_list();
    for (std::size_t i = 0; i < initial_lrs_.size(); ++i) lambdas.push_back(io::python_dict());
    state.insert("lr_lambdas", lambdas);
    return state;
  }
  const auto floors = io::python_list(std::vector<double>(initial_lrs_.size(), options_.min_lr.value_or(greedy() ? 1e-3 : 0)));
  state.insert("factor", options_.factor.value_or(greedy() ? 0.95 : 0.1));
  state.insert("min_lrs", floors);
  state.insert("patience", static_cast<std::int64_t>(options_.patience));
  state.insert("cooldown", static_cast<std::int64_t>(options_.cooldown));
  state.insert("cooldown_counter", static_cast<std::int64_t>(cooldown_left_));
  state.insert("eps", options_.eps);
  state.insert("mode", std::string(enum_names(MetricMode{})[static_cast<int>(options_.mode)]));
  state.insert("threshold", options_.threshold.value_or(greedy() ? 1e-6 : 1e-4));
  const auto threshold_mode = options_.threshold_mode.value_or(greedy() ? ThresholdMode::abs : ThresholdMode::rel);
  state.insert("threshold_mode", std::string(enum_names(ThresholdMode{})[static_cast<int>(threshold_mode)]));
  state.insert("best", best_);
  state.insert("num_bad_epochs", static_cast<std::int64_t>(bad_evaluations_));
  if (!greedy()) {
    state.insert("default_min_lr", options_.min_lr.value_or(0));
    state.insert("mode_worse", worst());
    return state;
  }
  state.insert("max_lrs", io::python_list(std::vector<double>(initial_lrs_.size(), options_.max_lr)));
  state.insert("verbose", options_.verbose);
  state.insert("warmup", static_cast<std::int64_t>(options_.warmup));
  state.insert("warmup_counter", static_cast<std::int64_t>(warmup_left_));
  state.insert("num_good_epochs", static_cast<std::int64_t>(good_evaluations_));
  state.insert("smooth", options_.smooth);
  state.insert("window_size", static_cast<std::int64_t>(options_.window_size));
  state.insert("reset_start", static_cast<std::int64_t>(reset_start_));
  state.insert("reset_start_original", static_cast<std::int64_t>(options_.reset_start));
  state.insert("_init_lrs", io::python_list(initial_lrs_));
  if (options_.smooth) {
    auto average = io::python_dict();
    double sum = 0;
    for (double value : recent_) sum += value;
    average.insert("window_size", static_cast<std::int64_t>(options_.window_size));
    average.insert("values", io::python_list(recent_));
    average.insert("sum", sum);
    state.insert("_streaming_avg", average);
  }
  return state;
}

TORCHTRAIN_INLINE void LRScheduler::load_state_dict(const c10::IValue& saved, std::string_view source) {
  const auto fail = [&](const std::string& why) {
    return FileError(fmt::format("cannot restore the learning-rate schedule from '{}': {}", source, why));
  };
  // Checked for meaning: a negative step would set rates of no step of the run (a warmup's
  // negative rate), and a count past an int's range would wrap.
  const auto unreached = [&](const char* key, auto value) { return fail(no_run_reaches(key, fmt::format("{}", value))); };
  try {
    TORCH_CHECK(saved.isGenericDict(), "it holds no state dict");
    const auto state = saved.toGenericDict();
    const auto count = [&](const char* key, std::int64_t value) {
      if (value < 0 || value > std::numeric_limits<int>::max()) throw unreached(key, value);
      return static_cast<int>(value);
    };
    const auto count_or = [&](const char* key, int otherwise) {
      return state.contains(key) ? count(key, state.at(key).toInt()) : otherwise;
    };
    const std::int64_t step = count("last_epoch", io::value_at(state, "last_epoch").toInt());
    double best = best_;
    if (state.contains("best")) best = state.at("best").isInt() ? static_cast<double>(state.at("best").toInt()) : state.at("best").toDouble();
    if (std::isnan(best)) throw unreached("best", best);  // NaN is never the best
    std::vector<double> recent;
    if (state.contains("_streaming_avg"))
      for (const auto& value : io::value_at(state.at("_streaming_avg").toGenericDict(), "values").toListRef())
        recent.push_back(value.isInt() ? static_cast<double>(value.toInt()) : value.toDouble());
    const int bad = count_or("num_bad_epochs", 0), good = count_or("num_good_epochs", 0);
    const int cooldown = count_or("cooldown_counter", 0), warmup = count_or("warmup_counter", 0);
    const int reset_start = count_or("reset_start", options_.reset_start);
    step_ = step;
    best_ = best;
    bad_evaluations_ = bad;
    good_evaluations_ = good;
    cooldown_left_ = cooldown;
    warmup_left_ = warmup;
    reset_start_ = reset_start;
    recent_ = std::move(recent);
  } catch (const c10::Error& error) {
    throw fail(fmt::format("{}; it was written for another scheduler or is damaged", error.what_without_backtrace()));
  }
  apply();
}

TORCHTRAIN_INLINE std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> rates;
  for (const auto& group : optimizer_->param_groups()) rates.push_back(group.options().get_lr());
  return rates;
}

TORCHTRAIN_INLINE void LRScheduler::apply() {
  if (steps_on_metrics()) return;
  const double factor = schedule_.factor(step_);
  auto& groups = optimizer_->param_groups();
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(initial_lrs_[i] * factor);
}

TORCHTRAIN_INLINE double LRScheduler::worst() const {
  return options_.mode == MetricMode::min ? std::numeric_limits<double>::infinity()
                                          : -std::numeric_limits<double>::infinity();
}

TORCHTRAIN_INLINE bool LRScheduler::is_better(double metric) const {
  const double threshold = options_.threshold.value_or(greedy() ? 1e-6 : 1e-4);
  const bool relative = options_.threshold_mode.value_or(greedy() ? ThresholdMode::abs : ThresholdMode::rel) ==
                        ThresholdMode::rel;
  if (options_.mode == MetricMode::min)
    return relative ? metric < best_ * (1.0 - threshold) : metric < best_ - threshold;
  return relative ? metric > best_ * (1.0 + threshold) : metric > best_ + threshold;
}

TORCHTRAIN_INLINE bool LRScheduler::reduce(double factor, double floor) {
  bool all_at_floor = true;
  for (auto& group : optimizer_->param_groups()) {
    const double old_lr = group.options().get_lr();
    const double new_lr = std::max(old_lr * factor, floor);
    if (old_lr - new_lr > options_.eps) group.options().set_lr(new_lr);
    if (group.options().get_lr() > floor) all_at_floor = false;
  }
  return all_at_floor;
}

TORCHTRAIN_INLINE void LRScheduler::greedy_step(double metric) {
  if (options_.smooth) {
    recent_.push_back(metric);
    if (static_cast<int>(recent_.size()) > options_.window_size) recent_.erase(recent_.begin());
    double sum = 0;
    for (double value : recent_) sum += value;
    metric = sum / static_cast<double>(recent_.size());
  }
  if (cooldown_left_ > 0 || warmup_left_ > 0) {
    (cooldown_left_ > 0 ? cooldown_left_ : warmup_left_) -= 1;
    bad_evaluations_ = good_evaluations_ = 0;
    return;
  }
  if (is_better(metric)) {
    best_ = metric;
    bad_evaluations_ = 0;
    ++good_evaluations_;
  } else {
    ++bad_evaluations_;
    good_evaluations_ = 0;
  }
  const double factor = options_.factor.value_or(0.95);
  const double floor = options_.min_lr.value_or(1e-3);
  if (good_evaluations_ > options_.patience) {
    for (auto& group : optimizer_->param_groups()) {
      const double old_lr = group.options().get_lr();
      const double new_lr = std::min(old_lr / factor, options_.max_lr);
      if (new_lr - old_lr > options_.eps) group.options().set_lr(new_lr);
    }
    reset_start_ = options_.reset_start;
    warmup_left_ = options_.warmup;
    good_evaluations_ = 0;
  } else if (bad_evaluations_ > options_.patience) {
    if (reduce(factor, floor) && --reset_start_ <= 0) {
      auto& groups = optimizer_->param_groups();
      for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(initial_lrs_[i]);
      best_ = worst();
      good_evaluations_ = warmup_left_ = 0;
      reset_start_ = options_.reset_start;
      recent_.clear();
    }
    cooldown_left_ = options_.cooldown;  // also after starting over, as GreedyLR
    bad_evaluations_ = 0;
  }
}

TORCHTRAIN_INLINE LRScheduler LambdaLR(torch::optim::Optimizer& optimizer, LRSchedule::Lambda lr_lambda) {
  return LRScheduler(optimizer, LRSchedule(std::move(lr_lambda)));
}

TORCHTRAIN_INLINE std::int64_t resolve_warmup_steps(const TrainingArguments& args, int total_steps) {
  if (args.warmup_steps >= 1) {
    constexpr double beyond_int64 = 0x1p63;  // the first whole double an int64 cannot hold
    if (!(args.warmup_steps < beyond_int64))
      throw ArgumentError(fmt::format("--warmup_steps {} is more steps than a step counter holds (at most {}); a "
                                      "warmup as long as the run ({} steps) already lasts all of it: give at most {}",
                                      args.warmup_steps, std::numeric_limits<std::int64_t>::max(), total_steps,
                                      total_steps));
    return static_cast<std::int64_t>(args.warmup_steps);
  }
  const bool steps_as_ratio = args.warmup_steps > 0;
  const double ratio = steps_as_ratio ? args.warmup_steps : args.warmup_ratio;
  if (!(ratio >= 0 && ratio <= 1))  // validate() refuses these; checked here too, before a conversion
    throw ArgumentError(fmt::format("--{} must be in [0, 1] as a ratio of the steps, got {}",
                                    steps_as_ratio ? "warmup_steps" : "warmup_ratio", ratio));
  return static_cast<std::int64_t>(std::ceil(ratio * total_steps));
}

}  // namespace torchtrain::optim

namespace torchtrain {

TORCHTRAIN_INLINE optim::LRScheduler get_scheduler(std::string_view name, torch::optim::Optimizer& optimizer,
                                                   std::int64_t num_warmup_steps, std::int64_t num_training_steps,
                                                   SchedulerOptions options) {
  auto type = detail::parse_value<SchedulerType>(name);
  if (!type)
    throw ArgumentError(fmt::format("unknown scheduler '{}'; known: {}", name,
                                    detail::type_name<SchedulerType>()));
  const double initial_lr = optimizer.param_groups().front().options().get_lr();
  return optim::LRScheduler(optimizer, optim::LRSchedule(*type, num_warmup_steps, num_training_steps, options, initial_lr),
                            options);
}

TORCHTRAIN_INLINE SchedulerOptions parse_scheduler_kwargs(const std::optional<std::string>& kwargs) {
  const std::string_view text = kwargs ? std::string_view(*kwargs) : std::string_view();
  SchedulerOptions options;
  for (auto [key, value] : detail::split_name_values(text, "lr_scheduler_kwargs")) {
    bool known = false;
    detail::for_each_field(options, [&, &key = key, &value = value](std::string_view name, auto& field) {
      if (name != key) return;
      known = true;
      auto parsed = detail::parse_value<std::remove_cvref_t<decltype(field)>>(value);
      if (!parsed)
        throw ArgumentError(fmt::format("--lr_scheduler_kwargs: {} expects {}, got '{}'", key,
                                        detail::type_name<std::remove_cvref_t<decltype(field)>>(), value));
      field = *parsed;
    });
    if (!known) throw ArgumentError(fmt::format("--lr_scheduler_kwargs: unknown name '{}'", key));
  }
  return options;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
