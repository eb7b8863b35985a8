// The progress bar the console logger draws on a terminal, as functions of the numbers it shows.
#pragma once

#include <optional>
#include <string>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// What the progress bar shows: where the run stands and how fast it goes.
struct Progress {
  int step = 0;                 // optimizer steps taken
  int max_steps = 0;            // optimizer steps planned
  double epoch = 0;             // fractional epoch
  int steps_timed = 0;          // steps taken since the bar started (a resumed run starts late)
  double seconds = 0;           // time those steps took
  std::optional<double> loss;   // the last logged training loss
};

/// `seconds` as tqdm writes a duration: "mm:ss", or "h:mm:ss" from an hour on, rounded
/// down to the second; "?" when it is unknown (negative or not finite).
TORCHTRAIN_INLINE std::string format_duration(double seconds);

/// The speed as tqdm writes it: "12.34it/s", or "2.50s/it" below one step per second;
/// "?it/s" before a step has been timed.
TORCHTRAIN_INLINE std::string format_rate(int steps, double seconds);

/// The progress bar line, at most `width` columns wide, e.g. for step 459 of 1020 after
/// 12.3 s at 37.3 steps/s:
///   ` 45%|████▌     | 459/1020 [00:12<00:15, 37.32it/s, epoch=1.35, loss=0.4321]`
/// The bar fills in eighths of a column; it is left out when fewer than 10 columns are
/// left for it, and the text is cut at `width`. The remaining time assumes the speed so
/// far; the loss shows once logged.
TORCHTRAIN_INLINE std::string format_progress_bar(const Progress& progress, int width);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>

#include <fmt/format.h>

namespace torchtrain {

TORCHTRAIN_INLINE std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto whole = static_cast<long long>(seconds);
  const long long hours = whole / 3600, minutes = whole / 60 % 60, rest = whole % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, rest);
  return fmt::format("{:02}:{:02}", minutes, rest);
}

TORCHTRAIN_INLINE std::string format_rate(int steps, double seconds) {
  if (steps <= 0 || !(seconds > 0)) return "?it/s";
  const double rate = steps / seconds;
  return rate >= 1 ? fmt::format("{:.2f}it/s", rate) : fmt::format("{:.2f}s/it", 1 / rate);
}

TORCHTRAIN_INLINE std::string format_progress_bar(const Progress& progress, int width) {
  const int max_steps = std::max(progress.max_steps, 1);
  const double done = std::clamp(static_cast<double>(progress.step) / max_steps, 0.0, 1.0);
  const double remaining_seconds = progress.steps_timed > 0 && progress.seconds > 0
                                       ? (progress.max_steps - progress.step) * progress.seconds / progress.steps_timed
                                       : -1;
  std::string details = fmt::format(" {}/{} [{}<{}, {}, epoch={:.2f}", progress.step, progress.max_steps,
                                    format_duration(progress.seconds), format_duration(remaining_seconds),
                                    format_rate(progress.steps_timed, progress.seconds), progress.epoch);
  if (progress.loss) details += fmt::format(", loss={:.4g}", *progress.loss);
  details += ']';
  const std::string percent = fmt::format("{:3.0f}%", std::floor(done * 100));

  // Every character but the bar's is ASCII: one byte, one column.
  const int bar_columns = width - static_cast<int>(percent.size() + details.size()) - 2;
  if (bar_columns < 10) {  // no bar; cut rather than wrap, which would break the redraw in place
    std::string text = percent + details;
    text.resize(std::min(text.size(), static_cast<std::size_t>(std::max(width, 0))));
    return text;
  }
  static constexpr std::string_view eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const double filled = done * bar_columns;
  const int full = static_cast<int>(filled);
  std::string bar;
  for (int column = 0; column < full; ++column) bar += "█";
  int used = full;
  if (full < bar_columns) {
    const auto eighth = static_cast<std::size_t>((filled - full) * 8);
    bar += eighths[eighth];
    used += eighth > 0;
  }
  bar.append(static_cast<std::size_t>(bar_columns - used), ' ');
  return percent + '|' + bar + '|' + details;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
