// Parsing JSON that comes from outside the program: nesting bounded, numbers too large for a double refused, the caller's error type.
#pragma once

#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// The deepest nesting of arrays and objects an input may have. No file of ours or of the
/// Python Trainer nests beyond a few levels; the readers that walk a parsed value recurse,
/// so a limit here bounds their recursion, not the stack.
inline constexpr int max_json_nesting = 100;

// What parse_json_text throws: parse_json's message, which parse_json throws again as the
// caller's error type (so that nlohmann's parser is compiled once, not once per type).
struct JsonTextError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// parse_json's work, throwing JsonTextError with its message.
TORCHTRAIN_INLINE nlohmann::json parse_json_text(std::string_view text, std::string_view where, int max_nesting);

/// `text` parsed as JSON, with arrays and objects nested at most `max_nesting` deep. Throws
/// `Error` (FileError, ArgumentError, DataError: the caller's documented type) whose message
/// starts with `where` (a file, file:line, or a flag) and says what is wrong: not JSON (with
/// nlohmann's line and column), nested too deep, or a number beyond a double's range.
template <class Error>
nlohmann::json parse_json(std::string_view text, std::string_view where, int max_nesting = max_json_nesting) {
  try {
    return parse_json_text(text, where, max_nesting);
  } catch (const JsonTextError& error) {
    throw Error(error.what());
  }
}

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <string>

#include <fmt/format.h>

#include <torchtrain/detail/printable.hpp>

namespace torchtrain::detail {

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
inline std::string_view without_tag(std::string_view what) {
  if (const auto end_of_tag = what.find("] "); what.starts_with("[json.exception.") && end_of_tag != what.npos)
    what.remove_prefix(end_of_tag + 2);
  return what;
}

// nlohmann's message without its tag, and with the input it quotes ("last read: '...'", or
// the number in "number overflow parsing '...'") cut to its end, where the error is: an
// unterminated string would otherwise put the rest of the file into the message. The text
// after the quote is nlohmann's own and short ("'; expected ']'"), so the message's last
// bytes hold the quote's end; the quote itself may hold anything (binary, invalid UTF-8), so
// it is not searched, and the result is made printable.
inline std::string without_long_excerpt(std::string_view what) {
  what = without_tag(what);
  constexpr std::size_t kept_tail = 100;
  for (std::string_view marker : {"last read: '", "number overflow parsing '"}) {
    const auto start = what.find(marker);  // the first: only nlohmann's text comes before it
    if (start == what.npos) continue;
    const auto begin = start + marker.size();
    if (what.size() - begin <= kept_tail + 3) break;
    return printable(fmt::format("{}...{}", what.substr(0, begin), what.substr(what.size() - kept_tail)), 300);
  }
  return printable(what, 300);
}

struct TooDeep {};

TORCHTRAIN_INLINE nlohmann::json parse_json_text(std::string_view text, std::string_view where, int max_nesting) {
  const auto limit_nesting = [max_nesting](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    const bool opens =
        event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start;
    if (opens && depth >= max_nesting) throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(text, limit_nesting);
  } catch (const TooDeep&) {
    throw JsonTextError(fmt::format("{}: arrays and objects nest more than {} levels deep, which no input of a Trainer "
                                    "does; the file is damaged or not the one meant",
                                    where, max_nesting));
  } catch (const nlohmann::json::out_of_range& error) {  // 1e400: "number overflow parsing '1e400'"
    throw JsonTextError(fmt::format("{}: {}, beyond the range of a double; write a smaller number", where,
                                    without_long_excerpt(error.what())));
  } catch (const nlohmann::json::exception& error) {
    throw JsonTextError(fmt::format("{}: not valid JSON: {}", where, without_long_excerpt(error.what())));
  }
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
