// ReportTo: the default logger policy; the console, and the file loggers --report_to names.
#pragma once

#include <optional>
#include <string_view>
#include <tuple>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/logger/console_logger.hpp>
#include <torchtrain/policies/logger/csv_logger.hpp>
#include <torchtrain/policies/logger/json_lines_logger.hpp>
#include <torchtrain/policies/logger/tensorboard_logger.hpp>

namespace torchtrain {

/// Logger policy chosen at run time, as the Python Trainer's `report_to`: every log goes
/// to the console (ConsoleLogger: a progress bar on a terminal unless `--disable_tqdm`)
/// and to a file logger for each name in `--report_to`: "tensorboard"
/// (TensorBoardLogger), "jsonl" (JsonLinesLogger), "csv" (CsvLogger), all of them in
/// `--logging_dir`; "all" is every one, "none" (the default) none. The choice is made
/// once, in `setup`; a log costs one test per file logger not chosen.
class ReportTo {
 public:
  using torchtrain_category = category::logger;

  void setup(const TrainingArguments& args);

  void log(const Metrics& logs, const TrainerState& state);
  void log_metrics(std::string_view split, const Metrics& metrics) { console_.log_metrics(split, metrics); }
  void on_train_begin(const TrainerState& state) { console_.on_train_begin(state); }
  void on_step_end(const TrainerState& state) { console_.on_step_end(state); }
  void on_train_end(const TrainerState& state) { console_.on_train_end(state); }
  void flush();

  const ConsoleLogger& console() const { return console_; }
  const std::optional<TensorBoardLogger>& tensorboard() const { return std::get<0>(files_); }
  const std::optional<JsonLinesLogger>& json_lines() const { return std::get<1>(files_); }
  const std::optional<CsvLogger>& csv() const { return std::get<2>(files_); }

 private:
  template <class Visit>
  void for_each_file_logger(Visit&& visit) {
    std::apply([&](auto&... logger) { (visit(logger), ...); }, files_);
  }

  ConsoleLogger console_;
  std::tuple<std::optional<TensorBoardLogger>, std::optional<JsonLinesLogger>, std::optional<CsvLogger>> files_;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <type_traits>

namespace torchtrain {

TORCHTRAIN_INLINE void ReportTo::setup(const TrainingArguments& args) {
  console_.setup(args);
  for_each_file_logger([&](auto& logger) {
    using Logger = typename std::remove_reference_t<decltype(logger)>::value_type;
    const auto& names = args.report_to;
    if (std::find(names.begin(), names.end(), Logger::report_to_name) == names.end()) return;
    logger.emplace();
    logger->setup(args);
  });
}

TORCHTRAIN_INLINE void ReportTo::log(const Metrics& logs, const TrainerState& state) {
  console_.log(logs, state);
  for_each_file_logger([&](auto& logger) {
    if (logger) logger->log(logs, state);
  });
}

TORCHTRAIN_INLINE void ReportTo::flush() {
  console_.flush();
  for_each_file_logger([](auto& logger) {
    if (logger) logger->flush();
  });
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
