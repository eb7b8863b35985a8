// Loggers<A, B, ...>: one logger policy that hands every log to several loggers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

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

/// Logger policy that hands each call to every logger of `Each`, in the order given:
/// `Trainer<Loggers<ConsoleLogger, TensorBoardLogger>>` prints the logs and writes them
/// as TensorBoard events. The optional hooks reach only the loggers that define them.
/// `Loggers<>` logs nothing. A type in `Each` that is not a LoggerPolicy fails to
/// compile with a message naming it.
template <class... Each>
class Loggers {
  static_assert((detail::require_logger<Each>() && ...));

 public:
  using torchtrain_category = category::logger;

  /// Each logger default-constructed: those that write files write in `--logging_dir`.
  Loggers() = default;

  /// The loggers that write files (constructible from a path) write in `logging_dir`; the
  /// others are default-constructed.
  explicit Loggers(const std::filesystem::path& logging_dir) : loggers_(make<Each>(logging_dir)...) {}

  /// The loggers given, each set up by the caller.
  explicit Loggers(Each... each)
    requires(sizeof...(Each) > 0)
      : loggers_(std::move(each)...) {}

  void setup(const TrainingArguments& args) {
    std::apply([&](auto&... logger) { (call_setup(logger, args), ...); }, loggers_);
  }
  void log(const Metrics& logs, const TrainerState& state) {
    std::apply([&](auto&... logger) { (logger.log(logs, state), ...); }, loggers_);
  }
  void log_metrics(std::string_view split, const Metrics& metrics) {
    std::apply([&](auto&... logger) { (logger.log_metrics(split, metrics), ...); }, loggers_);
  }
  void on_train_begin(const TrainerState& state) {
    std::apply([&](auto&... logger) { (call_on_train_begin(logger, state), ...); }, loggers_);
  }
  void on_step_end(const TrainerState& state) {
    std::apply([&](auto&... logger) { (call_on_step_end(logger, state), ...); }, loggers_);
  }
  void on_train_end(const TrainerState& state) {
    std::apply([&](auto&... logger) { (call_on_train_end(logger, state), ...); }, loggers_);
  }
  void flush() {
    std::apply([&](auto&... logger) { (call_flush(logger), ...); }, loggers_);
  }

  /// The logger at `Index` in `Each`.
  template <std::size_t Index>
  auto& get() {
    return std::get<Index>(loggers_);
  }

 private:
  template <class Logger>
  static Logger make(const std::filesystem::path& logging_dir) {
    if constexpr (std::is_constructible_v<Logger, std::filesystem::path>)
      return Logger(logging_dir);
    else
      return Logger();
  }
  template <class Logger>
  static void call_setup(Logger& logger, const TrainingArguments& args) {
    if constexpr (requires { logger.setup(args); }) logger.setup(args);
  }
  template <class Logger>
  static void call_on_train_begin(Logger& logger, const TrainerState& state) {
    if constexpr (requires { logger.on_train_begin(state); }) logger.on_train_begin(state);
  }
  template <class Logger>
  static void call_on_step_end(Logger& logger, const TrainerState& state) {
    if constexpr (requires { logger.on_step_end(state); }) logger.on_step_end(state);
  }
  template <class Logger>
  static void call_on_train_end(Logger& logger, const TrainerState& state) {
    if constexpr (requires { logger.on_train_end(state); }) logger.on_train_end(state);
  }

  template <class Logger>
  static void call_flush(Logger& logger) {
    if constexpr (requires { logger.flush(); }) logger.flush();
  }

  std::tuple<Each...> loggers_;
};

}  // namespace torchtrain
