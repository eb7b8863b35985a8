// `optim_args`: an optimizer's extra settings by name, each taken once.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/detail/reflection.hpp>

namespace torchtrain::detail {

// `optim_args` ("momentum=0.9,nesterov=True", or a JSON object) as name -> value; each optimizer takes the
// names it knows, and any name left over is an error.
class OptimArgs {
 public:
  explicit OptimArgs(std::string_view text);

  template <class T>
  T take(const std::string& name, T fallback) {
    auto found = values_.find(name);
    if (found == values_.end()) return fallback;
    auto value = parse_value<T>(found->second);
    if (!value)
      throw ArgumentError(fmt::format("--optim_args: {} expects {}, got '{}'", name,
                                      type_name<T>(), printable(found->second)));
    values_.erase(found);
    return *value;
  }

  void require_all_taken(std::string_view optimizer) const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torchtrain/detail/name_values.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE OptimArgs::OptimArgs(std::string_view text) {
  for (auto [name, value] : split_name_values(text, "optim_args")) values_.emplace(name, value);
}

TORCHTRAIN_INLINE void OptimArgs::require_all_taken(std::string_view optimizer) const {
  if (!values_.empty())
    throw ArgumentError(fmt::format("--optim_args: {} takes no '{}'; see the names each --optim takes in "
                                    "docs/optimizers.md and docs/training-loop.md",
                                    optimizer, printable(values_.begin()->first)));
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
