// JSON text byte for byte as Python's json module writes and reads it, so that files we
// write equal the Python Trainer's and files it writes load here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <torchtrain/core/config.hpp>

namespace torchtrain::io {

namespace detail {

/// `text` quoted as Python's json module does with ensure_ascii (its default): short
/// escapes for the usual controls, `\uXXXX` for other controls, DEL and every non-ASCII
/// character (UTF-16 surrogate pairs beyond the BMP). Throws FileError for invalid UTF-8.
TORCHTRAIN_INLINE std::string python_quote(std::string_view text);

}  // namespace detail

/// `value` as Python's `json.dumps(value, indent=indent, sort_keys=True)` writes it:
/// ensures Python's float repr (1e15 is "1000000000000000.0", where nlohmann's own dump
/// writes "1e+15"), `NaN` and `Infinity` (nlohmann writes null), ASCII-only escapes, and
/// ", " / ": " separators without indent, "," / ": " with it. Keys come out sorted
/// because nlohmann::json objects are sorted maps. No trailing newline.
/// Throws FileError for a string that is not valid UTF-8.
TORCHTRAIN_INLINE std::string python_json_dumps(const nlohmann::json& value, std::optional<int> indent = std::nullopt);

/// Parses `text` as Python's `json.loads` does, accepting NaN, Infinity and -Infinity.
/// Throws FileError naming `source` (the file, or where the text came from) when the
/// text is not JSON, nests deeper than max_json_nesting or holds a number beyond a double.
TORCHTRAIN_INLINE nlohmann::json python_json_loads(std::string_view text, std::string_view source);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/detail/python_float_repr.hpp>

namespace torchtrain::io {

namespace detail {

TORCHTRAIN_INLINE std::string python_quote(std::string_view text) {
  std::string out = "\"";
  auto escape = [&out](std::uint32_t unit) { out += fmt::format("\\u{:04x}", unit); };
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      switch (byte) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (byte < 0x20 || byte == 0x7f) escape(byte);
          else out += static_cast<char>(byte);
      }
      ++i;
      continue;
    }
    const std::size_t length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 0;
    std::uint32_t code = length == 4 ? byte & 0x07u : length == 3 ? byte & 0x0fu : byte & 0x1fu;
    bool valid = length != 0 && byte < 0xf5 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3fu);
    }
    constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    valid = valid && code >= smallest[length] && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    if (!valid)
      throw FileError(fmt::format("cannot write the string at byte {} of \"{}\" as JSON: it is not valid UTF-8",
                                  i, text));
    if (code > 0xffff) {
      code -= 0x10000;
      escape(0xd800 + (code >> 10));
      escape(0xdc00 + (code & 0x3ff));
    } else {
      escape(code);
    }
    i += length;
  }
  return out + "\"";
}

inline void python_dump(const nlohmann::json& value, std::optional<int> indent, int depth, std::string& out) {
  // Python puts each item on its own line when indenting, else separates with ", ".
  auto separator = [&](int level) {
    return indent ? "\n" + std::string(static_cast<std::size_t>(*indent * level), ' ') : std::string();
  };
  switch (value.type()) {
    case nlohmann::json::value_t::null: out += "null"; return;
    case nlohmann::json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case nlohmann::json::value_t::number_integer: out += std::to_string(value.get<std::int64_t>()); return;
    case nlohmann::json::value_t::number_unsigned: out += std::to_string(value.get<std::uint64_t>()); return;
    case nlohmann::json::value_t::number_float: out += torchtrain::detail::python_float_repr(value.get<double>()); return;
    case nlohmann::json::value_t::string: out += python_quote(value.get_ref<const std::string&>()); return;
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::object: {
      const bool object = value.is_object();
      if (value.empty()) {
        out += object ? "{}" : "[]";
        return;
      }
      out += object ? '{' : '[';
      bool first = true;
      for (auto item = value.begin(); item != value.end(); ++item) {  // objects iterate sorted
        if (!first) out += indent ? "," : ", ";
        first = false;
        out += separator(depth + 1);
        if (object) out += python_quote(item.key()) + ": ";
        python_dump(*item, indent, depth + 1, out);
      }
      out += separator(depth);
      out += object ? '}' : ']';
      return;
    }
    default:
      throw FileError("cannot write binary or discarded JSON values as text");
  }
}

// How python_json_loads hands the non-finite numbers through nlohmann's parser, which
// knows no NaN or Infinity: as strings that start with a NUL character, which no real
// file holds, turned back into numbers right after parsing.
inline constexpr std::string_view non_finite_tokens[] = {"NaN", "Infinity", "-Infinity"};

inline void restore_non_finite(nlohmann::json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (!text.starts_with('\0')) return;
    std::string_view token = std::string_view(text).substr(1);
    if (token == "NaN") value = std::numeric_limits<double>::quiet_NaN();
    else if (token == "Infinity") value = std::numeric_limits<double>::infinity();
    else if (token == "-Infinity") value = -std::numeric_limits<double>::infinity();
  } else if (value.is_structured()) {
    for (auto& item : value) restore_non_finite(item);
  }
}

}  // namespace detail

TORCHTRAIN_INLINE std::string python_json_dumps(const nlohmann::json& value, std::optional<int> indent) {
  std::string out;
  detail::python_dump(value, indent, 0, out);
  return out;
}

TORCHTRAIN_INLINE nlohmann::json python_json_loads(std::string_view text, std::string_view source) {
  std::string prepared;
  prepared.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      prepared += c;
      if (c == '\\' && i + 1 < text.size()) prepared += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    in_string = c == '"';
    bool replaced = false;
    for (std::string_view token : detail::non_finite_tokens)
      if (text.substr(i).starts_with(token)) {
        prepared += fmt::format("\"\\u0000{}\"", token);
        i += token.size() - 1;
        replaced = true;
        break;
      }
    if (!replaced) prepared += c;
  }
  auto value = torchtrain::detail::parse_json<FileError>(prepared, source);  // nesting bounded: restore_non_finite recurses
  detail::restore_non_finite(value);
  return value;
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
