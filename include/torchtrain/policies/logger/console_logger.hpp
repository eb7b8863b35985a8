// ConsoleLogger: logs as lines on the console, a progress bar on a terminal, and the end-of-run metrics table.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/io/background_writer.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// A log at `step` of `max_steps` as one line: the progress in optimizer steps, then the
/// values as the Python Trainer prints them:
/// `[  50/1020] {'loss': 0.4321, 'learning_rate': 4.5e-05, ...}`.
TORCHTRAIN_INLINE std::string format_log_line(const Metrics& logs, int step, int max_steps);

/// The table `Trainer::log_metrics` prints: one aligned row per metric, values rounded to
/// four decimals, under a `***** <split> metrics *****` heading, as in Python.
TORCHTRAIN_INLINE std::string format_metrics_table(std::string_view split, const Metrics& metrics);

/// When the console logger draws a progress bar.
enum class ProgressBar {
  when_terminal,  // when its output is a terminal (the Python Trainer's tqdm bar)
  never,          // plain lines only, as the Python `disable_tqdm`
  always,         // also into a file or pipe (redraws are then carriage returns in it)
};

/// Logger policy: prints each log as a line (see format_log_line) to `out`, and the
/// end-of-run metrics table. With a progress bar (see ProgressBar), the bar
/// (format_progress_bar) stays on the last line and is redrawn in place at most ten
/// times a second from `on_step_end`; a log's line replaces it, and the next redraw
/// puts it back below.
///
/// A thread of the logger's own (io::BackgroundWriter) formats the lines and writes them
/// to `out`, in order, within 0.1 s: a log costs the training thread a copy of its
/// values. flush() (which the Trainer calls before a save and when train(), evaluate()
/// or predict() returns, and log_metrics and on_train_end call) waits until all of it is
/// out. The trainer calls loggers on the main process only.
class ConsoleLogger {
  using Clock = std::chrono::steady_clock;

 public:
  using torchtrain_category = category::logger;

  explicit ConsoleLogger(std::FILE* out = stdout, ProgressBar bar = ProgressBar::when_terminal);
  // Defined with the other members, so that a program does not compile the writer's thread.
  ConsoleLogger(ConsoleLogger&&) noexcept;
  ConsoleLogger& operator=(ConsoleLogger&&) noexcept;
  ~ConsoleLogger();

  /// `--disable_tqdm` turns the bar off, whatever the constructor chose.
  void setup(const TrainingArguments& args);

  void log(const Metrics& logs, const TrainerState& state);
  void log_metrics(std::string_view split, const Metrics& metrics);

  /// Starts timing the run for the bar's speed and remaining time.
  void on_train_begin(const TrainerState& state);

  /// Redraws the bar when a tenth of a second has passed since it was last drawn, and at
  /// the last step.
  void on_step_end(const TrainerState& state);

  /// Draws the bar a last time and moves below it.
  void on_train_end(const TrainerState& state);

  /// Returns once everything printed so far is out.
  void flush();

  /// Whether this logger draws a progress bar (see ProgressBar).
  bool draws_bar() const { return draws_bar_; }

 private:
  // What the writer thread prints: `text`, then, for a log, its line.
  struct Output {
    std::string text;
    Metrics logs;
    int step = 0, max_steps = 0;
  };
  struct Printer {
    std::FILE* out;
    void write(const std::vector<Output>& outputs);
  };

  void print(Output output);
  std::string bar(const TrainerState& state);
  std::string end_bar();

  // The terminal's width; 100 columns where the output is no terminal (ProgressBar::always).
  // Asked on the timed redraws only (at most ten a second), not at each log: an ioctl per
  // log was a system call more per step when every step logs.
  int terminal_width() const;

  std::FILE* out_;
  bool draws_bar_;
  bool started_ = false;
  bool bar_shown_ = false;
  Clock::time_point start_{};
  Clock::time_point last_draw_{};
  int start_step_ = 0;
  int width_ = 100;
  std::optional<double> last_loss_;
  std::unique_ptr<io::BackgroundWriter<Output, Printer>> writer_;  // a pointer: a program does not instantiate the writer
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <torchtrain/policies/logger/progress_bar.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE std::string format_log_line(const Metrics& logs, int step, int max_steps) {
  std::string line;
  if (max_steps > 0) {
    const auto width = static_cast<int>(fmt::formatted_size("{}", max_steps));
    fmt::format_to(std::back_inserter(line), "[{:>{}}/{}] ", step, width, max_steps);
  }
  line += '{';
  for (const auto& [name, value] : logs)
    fmt::format_to(std::back_inserter(line), "{}'{}': {:.4g}", line.back() == '{' ? "" : ", ", name, value);
  return line + '}';
}

TORCHTRAIN_INLINE std::string format_metrics_table(std::string_view split, const Metrics& metrics) {
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

TORCHTRAIN_INLINE ConsoleLogger::ConsoleLogger(std::FILE* out, ProgressBar bar)
    : out_(out),
      draws_bar_(bar == ProgressBar::always || (bar == ProgressBar::when_terminal && ::isatty(::fileno(out)))) {}

TORCHTRAIN_INLINE ConsoleLogger::ConsoleLogger(ConsoleLogger&&) noexcept = default;
TORCHTRAIN_INLINE ConsoleLogger& ConsoleLogger::operator=(ConsoleLogger&&) noexcept = default;
TORCHTRAIN_INLINE ConsoleLogger::~ConsoleLogger() = default;

TORCHTRAIN_INLINE void ConsoleLogger::setup(const TrainingArguments& args) {
  if (args.disable_tqdm.value_or(false)) draws_bar_ = false;
}

TORCHTRAIN_INLINE void ConsoleLogger::log(const Metrics& logs, const TrainerState& state) {
  Output output{.logs = logs, .step = state.global_step, .max_steps = state.max_steps};
  if (draws_bar_) {
    for (const auto& [name, value] : logs)
      if (name == "loss") last_loss_ = value;
    if (std::exchange(bar_shown_, false)) output.text = "\r\x1b[K";  // the line goes where the bar was
  }
  print(std::move(output));
}

TORCHTRAIN_INLINE void ConsoleLogger::log_metrics(std::string_view split, const Metrics& metrics) {
  print({.text = end_bar() + format_metrics_table(split, metrics)});
  flush();
}

TORCHTRAIN_INLINE void ConsoleLogger::on_train_begin(const TrainerState& state) {
  if (!draws_bar_) return;
  start_ = last_draw_ = Clock::now();
  start_step_ = state.global_step;
  last_loss_.reset();
  started_ = true;
  width_ = terminal_width();
  print({.text = bar(state)});
}

TORCHTRAIN_INLINE void ConsoleLogger::on_step_end(const TrainerState& state) {
  if (!draws_bar_) return;
  if (!started_) on_train_begin(state);
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && state.global_step < state.max_steps) return;
  last_draw_ = now;
  width_ = terminal_width();
  print({.text = bar(state)});
}

TORCHTRAIN_INLINE void ConsoleLogger::on_train_end(const TrainerState& state) {
  if (draws_bar_ && started_) {
    std::string last = bar(state);
    print({.text = last + end_bar()});
    started_ = false;
  }
  flush();
}

TORCHTRAIN_INLINE void ConsoleLogger::flush() {
  if (writer_) writer_->flush();
}

TORCHTRAIN_INLINE void ConsoleLogger::Printer::write(const std::vector<Output>& outputs) {
  std::string text;
  for (const auto& output : outputs) {
    text += output.text;
    if (!output.logs.empty()) text += format_log_line(output.logs, output.step, output.max_steps) + '\n';
  }
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

TORCHTRAIN_INLINE void ConsoleLogger::print(Output output) {
  if (!writer_) writer_ = std::make_unique<io::BackgroundWriter<Output, Printer>>(Printer{out_});
  writer_->push(std::move(output));
}

TORCHTRAIN_INLINE std::string ConsoleLogger::bar(const TrainerState& state) {
  Progress progress{.step = state.global_step,
                    .max_steps = state.max_steps,
                    .epoch = state.epoch,
                    .steps_timed = state.global_step - start_step_,
                    .seconds = std::chrono::duration<double>(Clock::now() - start_).count(),
                    .loss = last_loss_};
  bar_shown_ = true;
  return "\r" + format_progress_bar(progress, width_) + "\x1b[K";
}

TORCHTRAIN_INLINE std::string ConsoleLogger::end_bar() {
  return std::exchange(bar_shown_, false) ? "\n" : "";
}

TORCHTRAIN_INLINE int ConsoleLogger::terminal_width() const {
  winsize size{};
  if (::ioctl(::fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 100;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
