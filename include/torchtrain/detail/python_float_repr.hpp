// python_float_repr: a double as Python's repr writes it, shared by the JSON, CSV and argument writers.
#pragma once

#include <string>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// `value` as Python's `float.__repr__` writes it (the shortest text that reads back
/// exactly; exponent form below 1e-4 and from 1e16 on), with `NaN`, `Infinity` and
/// `-Infinity` as Python's json module writes the non-finite values.
TORCHTRAIN_INLINE std::string python_float_repr(double value);

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <charconv>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // std::to_chars gives the shortest round-trip digits, like Python's repr: "d.ddde±XX".
  char buffer[32];
  auto end = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific).ptr;
  std::string_view scientific(buffer, static_cast<std::size_t>(end - buffer));
  std::string result;
  if (scientific.front() == '-') {
    result = "-";
    scientific.remove_prefix(1);
  }
  auto e = scientific.find('e');
  std::string digits;
  for (char c : scientific.substr(0, e))
    if (c != '.') digits += c;
  int exponent = 0;
  std::string_view exponent_text = scientific.substr(e + 1);
  if (exponent_text.front() == '+') exponent_text.remove_prefix(1);
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);

  // Python's rule (format_float_short in pystrtod.c), with the point `point` digits in.
  const int point = exponent + 1;
  const int count = static_cast<int>(digits.size());
  if (point <= -4 || point > 16) {
    result += digits.substr(0, 1);
    if (count > 1) result += "." + digits.substr(1);
    return result + fmt::format("e{}{:02}", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  if (point <= 0) return result + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  if (point >= count) return result + digits + std::string(static_cast<std::size_t>(point - count), '0') + ".0";
  return result + digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
