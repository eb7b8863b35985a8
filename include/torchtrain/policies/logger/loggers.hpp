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
#include <torchtrain/policies/logger/logger_policy.hpp>

namespace torchtrain {

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
    std::apply([&](auto&... logger) { (logger_hooks::setup(logger, args), ...); }, loggers_);
  }
  void log(const Metrics& logs, const TrainerState& state) {
    std::apply([&](auto&... logger) { (logger.log(logs, state), ...); }, loggers_);
  }
  void log_metrics(std::string_view split, const Metrics& metrics) {
    std::apply([&](auto&... logger) { (logger.log_metrics(split, metrics), ...); }, loggers_);
  }
  void on_train_begin(const TrainerState& state) {
    std::apply([&](auto&... logger) { (logger_hooks::on_train_begin(logger, state), ...); }, loggers_);
  }
  void on_step_end(const TrainerState& state) {
    std::apply([&](auto&... logger) { (logger_hooks::on_step_end(logger, state), ...); }, loggers_);
  }
  void on_train_end(const TrainerState& state) {
    std::apply([&](auto&... logger) { (logger_hooks::on_train_end(logger, state), ...); }, loggers_);
  }
  void flush() {
    std::apply([&](auto&... logger) { (logger_hooks::flush(logger), ...); }, loggers_);
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

  std::tuple<Each...> loggers_;
};

}  // namespace torchtrain
