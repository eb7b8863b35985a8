// EarlyStopping: stops training when the best-model metric stops improving (the Python EarlyStoppingCallback).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/callbacks/callback_states.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>

namespace torchtrain {

/// Stops training after `patience` evaluations in a row that do not beat the best
/// `metric_for_best_model` by more than `threshold`, as the Python EarlyStoppingCallback
/// does. Needs --metric_for_best_model (or --load_best_model_at_end, which implies
/// "loss") and an evaluation strategy, and says so before training. Its state (arguments
/// and counter) is saved in checkpoints (trainer_state.json's stateful_callbacks) and, with
/// --restore_callback_states_from_checkpoint, restored on resume.
struct EarlyStopping {
  int patience = 1;        // the Python early_stopping_patience
  double threshold = 0.0;  // the Python early_stopping_threshold
  int patience_counter = 0;

  static constexpr std::string_view state_key = "EarlyStoppingCallback";

  void on_init_end(const TrainingArguments& args, const TrainerState&, TrainerControl&) const;

  // Runs before the trainer records this evaluation as the best, so it compares with the
  // best of the earlier ones, as in Python.
  void on_evaluate(const TrainingArguments& args, const TrainerState& state, TrainerControl& control,
                   const Metrics& metrics);

  /// The Python callback's saved state: its arguments and its counter.
  nlohmann::json state() const;
  /// Takes the saved arguments and counter, as Python does (it rebuilds the callback from
  /// the saved arguments, so they win over this run's). std::invalid_argument, with this
  /// callback unchanged, for a counter no run reaches or a patience that is not an int.
  void load_state(const nlohmann::json& saved);
};

#if !TORCHTRAIN_HEADER_ONLY  // its state's text is compiled in the library, with nlohmann's whole header
extern template std::string detail::callback_state_text<EarlyStopping>(const EarlyStopping&);
#endif

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/json_field.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE void EarlyStopping::on_init_end(const TrainingArguments& args, const TrainerState&,
                                                   TrainerControl&) const {
  if (!args.metric_for_best_model)
    throw ArgumentError("EarlyStopping needs --metric_for_best_model (or --load_best_model_at_end, which "
                        "compares eval_loss)");
  if (args.eval_strategy == IntervalStrategy::no)
    throw ArgumentError("EarlyStopping needs evaluations: set --eval_strategy steps or epoch");
}

TORCHTRAIN_INLINE void EarlyStopping::on_evaluate(const TrainingArguments& args, const TrainerState& state,
                                                  TrainerControl& control, const Metrics& metrics) {
  std::string name = *args.metric_for_best_model;
  if (!name.starts_with("eval_")) name = "eval_" + name;
  if (!metrics.contains(name)) return;  // another evaluation set, without this metric
  const double value = metrics.at(name);
  const bool greater = args.greater_is_better.value_or(true);
  const bool improved = !state.best_metric || ((greater ? value > *state.best_metric : value < *state.best_metric) &&
                                               std::abs(value - *state.best_metric) > threshold);
  patience_counter = improved ? 0 : patience_counter + 1;
  if (patience_counter >= patience) control.should_training_stop = true;
}

TORCHTRAIN_INLINE nlohmann::json EarlyStopping::state() const {
  return {{"args", {{"early_stopping_patience", patience}, {"early_stopping_threshold", threshold}}},
          {"attributes", {{"early_stopping_patience_counter", patience_counter}}}};
}

TORCHTRAIN_INLINE void EarlyStopping::load_state(const nlohmann::json& saved) {
  // Python writes every key: a missing one, or a threshold that is no number, fails in
  // nlohmann's words, for which load_callback_state names the file.
  const auto& arguments = saved.at("args");
  const auto& saved_counter = saved.at("attributes").at("early_stopping_patience_counter");
  const auto& saved_patience = arguments.at("early_stopping_patience");
  // An int, as the JSON readers of our files take one: no fraction, nothing beyond int.
  int restored_counter = 0;
  int restored_patience = 0;
  if (!io::detail::assign_from_json(saved_counter, restored_counter) || restored_counter < 0)
    throw std::invalid_argument(no_run_reaches("early_stopping_patience_counter", saved_counter.dump()));
  if (!io::detail::assign_from_json(saved_patience, restored_patience))
    throw std::invalid_argument(no_run_reaches("early_stopping_patience", saved_patience.dump()));
  const double restored_threshold = arguments.at("early_stopping_threshold").get<double>();
  patience = restored_patience;
  threshold = restored_threshold;
  patience_counter = restored_counter;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

#ifdef TORCHTRAIN_COMPILING_LIBRARY
template std::string torchtrain::detail::callback_state_text<torchtrain::EarlyStopping>(const torchtrain::EarlyStopping&);
#endif
