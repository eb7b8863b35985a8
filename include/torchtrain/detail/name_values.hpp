// Splitting "name=value,name=value" settings (optim_args, lr_scheduler_kwargs) into pairs.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/arguments/argument_error.hpp>

namespace torchtrain::detail {

/// The pairs of `text`, in order; empty items are skipped. Throws ArgumentError naming
/// `flag` for an item without '='.
inline std::vector<std::pair<std::string_view, std::string_view>> split_name_values(std::string_view text,
                                                                                     std::string_view flag) {
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
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
