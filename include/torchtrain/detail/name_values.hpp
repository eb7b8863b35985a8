// Reading the settings that Python gives as a dict or as "name=value,name=value"
// (lr_scheduler_kwargs, optim_args) into pairs of text.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// The pairs of `text`, in order: a JSON object ('{"num_cycles": 2, "min_lr": 1e-6}', as
/// Python's dict-valued flags and files give it; a null value is left out, as Python's
/// None keeps the default) or "name=value" items separated by commas (empty ones are
/// skipped). Throws ArgumentError naming `flag` for text that is neither.
TORCHTRAIN_INLINE std::vector<std::pair<std::string, std::string>> split_name_values(std::string_view text,
                                                                                     std::string_view flag);

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::vector<std::pair<std::string, std::string>> split_name_values(std::string_view text,
                                                                                     std::string_view flag) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (const auto first = text.find_first_not_of(" \t\n"); first != std::string_view::npos && text[first] == '{') {
    const auto json = parse_json<ArgumentError>(text, fmt::format("--{}", flag));  // nesting bounded: dump recurses
    if (!json.is_object())
      throw ArgumentError(fmt::format("--{}: '{}' is not a JSON object; write it as '{{\"name\": value}}' or "
                                      "name=value,name=value",
                                      flag, text));
    for (const auto& [name, value] : json.items()) {
      if (value.is_null()) continue;
      pairs.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
    }
    return pairs;
  }
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    auto equals = item.find('=');
    if (equals == std::string_view::npos)
      throw ArgumentError(fmt::format("--{}: '{}' is not name=value", flag, item));
    pairs.emplace_back(item.substr(0, equals), item.substr(equals + 1));
  }
  return pairs;
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
