// torchtrain's own messages (warnings, progress notes) on stderr, filtered by log level.
#pragma once

#include <array>
#include <cstdio>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// Log levels, as the Python `log_level` names them; `passive` leaves the level as it is.
enum class LogLevel { debug, info, warning, error, critical, passive };

constexpr auto enum_names(LogLevel) {
  return std::array<std::string_view, 6>{"debug", "info", "warning", "error", "critical", "passive"};
}

/// The least level of torchtrain's messages that are printed: `warning` until set, as in
/// transformers. The Trainer sets it from `--log_level` on the main process and from
/// `--log_level_replica` on the others.
TORCHTRAIN_INLINE LogLevel verbosity();

/// Sets the verbosity for the whole process (transformers' `logging.set_verbosity`);
/// `passive` changes nothing.
TORCHTRAIN_INLINE void set_verbosity(LogLevel level);

/// Prints one line to stderr when `level` is at least the verbosity: warnings and errors
/// prefixed with `torchtrain warning: ` / `torchtrain error: `, info and debug as they are.
template <class... Args>
void message(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level < verbosity()) return;
  const std::string_view prefix = level >= LogLevel::error     ? "torchtrain error: "
                                  : level == LogLevel::warning ? "torchtrain warning: "
                                                               : "";
  fmt::print(stderr, "{}{}\n", prefix, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <atomic>

namespace torchtrain {

namespace detail {
inline std::atomic<LogLevel>& verbosity_setting() {
  static std::atomic<LogLevel> level{LogLevel::warning};  // transformers' default verbosity
  return level;
}
}  // namespace detail

TORCHTRAIN_INLINE LogLevel verbosity() { return detail::verbosity_setting().load(std::memory_order_relaxed); }

TORCHTRAIN_INLINE void set_verbosity(LogLevel level) {
  if (level != LogLevel::passive) detail::verbosity_setting().store(level, std::memory_order_relaxed);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
