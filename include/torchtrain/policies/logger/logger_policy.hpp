// LoggerPolicy: where logs go, and the optional hooks a logger may define, checked where the Trainer is named.
#pragma once

#include <string_view>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// A logger policy: names the logger category and takes the trainer's two calls,
/// `log(logs, state)` for each log (interval logs, evaluations, the end-of-training
/// summary) and `log_metrics(split, metrics)` for `Trainer::log_metrics`.
/// It may also define any of `setup(args)` (once, when the Trainer is made: the
/// arguments' logging_dir, report_to, disable_tqdm), `on_train_begin(state)`,
/// `on_step_end(state)` (after every optimizer step), `on_train_end(state)` and `flush()`
/// (for a logger that writes on a thread of its own: return once everything logged so
/// far is written; the Trainer calls it before a save and when train(), evaluate() or
/// predict() returns); a logger without them costs nothing there. The Trainer calls
/// loggers on the main process only.
template <class T>
concept LoggerPolicy = PolicyOf<T, category::logger> &&
                       requires(T& logger, const Metrics& metrics, const TrainerState& state, std::string_view split) {
                         logger.log(metrics, state);
                         logger.log_metrics(split, metrics);
                       };

namespace detail {

template <class L>
constexpr bool check_logger_policy() {
  static_assert(requires(L& l, const Metrics& logs, const TrainerState& state) { l.log(logs, state); },
                "torchtrain: this logger policy (L below) has no `void log(const Metrics&, const TrainerState&)`");
  static_assert(requires(L& l, std::string_view split, const Metrics& metrics) { l.log_metrics(split, metrics); },
                "torchtrain: this logger policy (L below) has no `void log_metrics(std::string_view split, const "
                "Metrics&)`");
  return LoggerPolicy<L>;
}

// Left incomplete on purpose: the error for a type that is no logger names it here.
template <class T>
struct is_not_a_logger_policy;

template <class T>
constexpr bool require_logger() {
  static_assert(LoggerPolicy<T>,
                "torchtrain: Loggers<...> got a type that is not a logger policy (it is named in "
                "'is_not_a_logger_policy<T>' below). A logger declares "
                "`using torchtrain_category = torchtrain::category::logger;` and has "
                "`log(const Metrics&, const TrainerState&)` and `log_metrics(std::string_view, const Metrics&)`");
  if constexpr (!LoggerPolicy<T>) return sizeof(is_not_a_logger_policy<T>) == 0;
  return true;
}

}  // namespace detail

/// The optional hooks of a logger, called where it defines them and costing nothing where
/// it does not.
namespace logger_hooks {
template <class Logger>
void setup(Logger& logger, const TrainingArguments& args) {
  if constexpr (requires { logger.setup(args); }) logger.setup(args);
}
template <class Logger>
void on_train_begin(Logger& logger, const TrainerState& state) {
  if constexpr (requires { logger.on_train_begin(state); }) logger.on_train_begin(state);
}
template <class Logger>
void on_step_end(Logger& logger, const TrainerState& state) {
  if constexpr (requires { logger.on_step_end(state); }) logger.on_step_end(state);
}
template <class Logger>
void on_train_end(Logger& logger, const TrainerState& state) {
  if constexpr (requires { logger.on_train_end(state); }) logger.on_train_end(state);
}
template <class Logger>
void flush(Logger& logger) {
  if constexpr (requires { logger.flush(); }) logger.flush();
}
}  // namespace logger_hooks

}  // namespace torchtrain
