// ConsoleLogger: logs as lines on the console, a progress bar on a terminal, and the end-of-run metrics table.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/logger/progress_bar.hpp>
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

/// When the console logger draws a progress bar.
enum class ProgressBar {
  when_terminal,  // when its output is a terminal (the Python Trainer's tqdm bar)
  never,          // plain lines only, as the Python `disable_tqdm`
  always,         // also into a file or pipe (redraws are then carriage returns in it)
};

/// Logger policy: prints each log as a line (see format_log_line) to `out`, and the
/// end-of-run metrics table. With a progress bar (see ProgressBar), the bar
/// (format_progress_bar) stays on the last line and is redrawn in place at most ten
/// times a second from `on_step_end`, and each log is printed above it.
/// The trainer calls loggers on the main process only.
class ConsoleLogger {
  using Clock = std::chrono::steady_clock;

 public:
  using torchtrain_category = category::logger;

  explicit ConsoleLogger(std::FILE* out = stdout, ProgressBar bar = ProgressBar::when_terminal)
      : out_(out),
        draws_bar_(bar == ProgressBar::always || (bar == ProgressBar::when_terminal && ::isatty(::fileno(out)))) {}

  /// `--disable_tqdm` turns the bar off, whatever the constructor chose.
  void setup(const TrainingArguments& args) {
    if (args.disable_tqdm.value_or(false)) draws_bar_ = false;
  }

  void log(const Metrics& logs, const TrainerState& state) {
    if (!draws_bar_) {
      fmt::print(out_, "{}\n", format_log_line(logs, state));
      std::fflush(out_);
      return;
    }
    for (const auto& [name, value] : logs)
      if (name == "loss") last_loss_ = value;
    fmt::print(out_, "\r\x1b[K{}\n", format_log_line(logs, state));  // over the bar, which then goes below
    if (bar_shown_) draw(state);
    std::fflush(out_);
  }

  void log_metrics(std::string_view split, const Metrics& metrics) {
    end_bar();
    fmt::print(out_, "{}", format_metrics_table(split, metrics));
    std::fflush(out_);
  }

  /// Starts timing the run for the bar's speed and remaining time.
  void on_train_begin(const TrainerState& state) {
    if (!draws_bar_) return;
    start_ = last_draw_ = Clock::now();
    start_step_ = state.global_step;
    last_loss_.reset();
    started_ = true;
    width_ = terminal_width();
    draw(state);
    std::fflush(out_);
  }

  /// Redraws the bar when a tenth of a second has passed since it was last drawn, and at
  /// the last step.
  void on_step_end(const TrainerState& state) {
    if (!draws_bar_) return;
    if (!started_) on_train_begin(state);
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && state.global_step < state.max_steps) return;
    last_draw_ = now;
    width_ = terminal_width();
    draw(state);
    std::fflush(out_);
  }

  /// Draws the bar a last time and moves below it.
  void on_train_end(const TrainerState& state) {
    if (!draws_bar_ || !started_) return;
    draw(state);
    end_bar();
    started_ = false;
    std::fflush(out_);
  }

  /// Whether this logger draws a progress bar (see ProgressBar).
  bool draws_bar() const { return draws_bar_; }

 private:
  void draw(const TrainerState& state) {
    Progress progress{.step = state.global_step,
                      .max_steps = state.max_steps,
                      .epoch = state.epoch,
                      .steps_timed = state.global_step - start_step_,
                      .seconds = std::chrono::duration<double>(Clock::now() - start_).count(),
                      .loss = last_loss_};
    fmt::print(out_, "\r{}\x1b[K", format_progress_bar(progress, width_));
    bar_shown_ = true;
  }

  void end_bar() {
    if (bar_shown_) fmt::print(out_, "\n");
    bar_shown_ = false;
  }

  // The terminal's width; 100 columns where the output is no terminal (ProgressBar::always).
  // Asked on the timed redraws only (at most ten a second), not at each log: an ioctl per
  // log was a system call more per step when every step logs.
  int terminal_width() const {
    winsize size{};
    if (::ioctl(::fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 100;
  }

  std::FILE* out_;
  bool draws_bar_;
  bool started_ = false;
  bool bar_shown_ = false;
  Clock::time_point start_{};
  Clock::time_point last_draw_{};
  int start_step_ = 0;
  int width_ = 100;
  std::optional<double> last_loss_;
};

}  // namespace torchtrain
