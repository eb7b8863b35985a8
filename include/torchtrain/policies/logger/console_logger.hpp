// ConsoleLogger: logs as lines on the console, and the end-of-run metrics table.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/policies/category.hpp>
#include <torchtrain/trainer/metrics.hpp>
#include <torchtrain/trainer/trainer_state.hpp>

namespace torchtrain {

/// A log as one line: the progress in optimizer steps, then the values as the Python
/// Trainer prints them: `[  50/1020] {'loss': 0.4321, 'learning_rate': 4.5e-05, ...}`.
inline std::string format_log_line(const Metrics& logs, const TrainerState& state) {
  std::string line;
  if (state.max_steps > 0) {
    int width = static_cast<int>(fmt::formatted_size("{}", state.max_steps));
    line = fmt::format("[{:>{}}/{}] ", state.global_step, width, state.max_steps);
  }
  line += '{';
  for (const auto& [name, value] : logs)
    line += fmt::format("{}'{}': {:.4g}", line.back() == '{' ? "" : ", ", name, value);
  return line + '}';
}

/// The table `Trainer::log_metrics` prints: one aligned row per metric, values rounded to
/// four decimals, under a `***** <split> metrics *****` heading, as in Python.
inline std::string format_metrics_table(std::string_view split, const Metrics& metrics) {
  std::vector<std::string> values;
  std::size_t name_width = 0, value_width = 0;
  for (const auto& [name, value] : metrics) {
    values.push_back(fmt::format("{}", std::round(value * 1e4) / 1e4));
    name_width = std::max(name_width, name.size());
    value_width = std::max(value_width, values.back().size());
  }
  std::string table = fmt::format("***** {} metrics *****\n", split);
  std::size_t row = 0;
  for (const auto& [name, value] : metrics)
    table += fmt::format("  {:<{}} = {:>{}}\n", name, name_width, values[row++], value_width);
  return table;
}

/// Logger policy: prints each log as a line (see format_log_line) to `out`.
/// The trainer calls loggers on the main process only.
struct ConsoleLogger {
  using torchtrain_category = category::logger;
  std::FILE* out = stdout;

  void log(const Metrics& logs, const TrainerState& state) {
    fmt::print(out, "{}\n", format_log_line(logs, state));
    std::fflush(out);
  }
  void log_metrics(std::string_view split, const Metrics& metrics) {
    fmt::print(out, "{}", format_metrics_table(split, metrics));
    std::fflush(out);
  }
};

}  // namespace torchtrain
