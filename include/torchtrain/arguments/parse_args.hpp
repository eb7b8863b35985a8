// parse_args: fills Boost.Hana-reflected structs (TrainingArguments and the user's own)
// from `--field_name value` flags.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <fmt/format.h>

#include <torchtrain/arguments/argument_error.hpp>
#include <torchtrain/detail/reflection.hpp>

namespace torchtrain {

namespace detail {

template <class T>
void assign_flag(T& field, std::string_view name, std::string_view text) {
  auto value = parse_value<T>(text);
  if (!value)
    throw ArgumentError(fmt::format("--{} expects {}, got '{}'", name, type_name<T>(), text));
  field = std::move(*value);
}

template <class... Structs>
[[noreturn]] void print_help_and_exit(std::string_view program, const Structs&... defaults) {
  fmt::print("usage: {} [--field_name value ...]\n\n", program);
  auto print_fields = [](const auto& object) {
    for_each_field(object, [](std::string_view name, const auto& value) {
      using T = std::remove_cvref_t<decltype(value)>;
      fmt::print("  --{:<32} {:<12} (default: {})\n", name, type_name<T>(), format_value(value));
    });
  };
  (print_fields(defaults), ...);
  std::fflush(stdout);
  std::exit(0);
}

}  // namespace detail

/// Fills copies of `defaults` from the flags in argv and returns them.
///
/// Each reflected field `f` is set by `--f value` or `--f=value`; a bool also by a bare
/// `--f` (true) or `--no_f` (false); an optional by a value or `None`; an enum by name.
/// `--help` prints every flag with its type and default, then exits.
/// Throws ArgumentError, naming the flag, for an unknown flag, a missing value or a value
/// of the wrong type.
template <class... Structs>
  requires(sizeof...(Structs) > 0)
std::tuple<Structs...> parse_args(int argc, const char* const* argv, Structs... defaults) {
  static_assert((detail::reflects_every_field<Structs>() && ...),
                "torchtrain::parse_args: list every data member of each struct in its "
                "BOOST_HANA_ADAPT_STRUCT, or a field would have no flag");
  std::tuple<Structs...> result{std::move(defaults)...};

  // Finds the field called `name` and gives it to `assign`; false when no struct has it.
  auto with_field = [&](std::string_view name, auto&& assign) {
    bool found = false;
    std::apply([&](auto&... objects) {
      (detail::for_each_field(objects, [&](std::string_view field_name, auto& field) {
         if (!found && field_name == name) {
           found = true;
           assign(field);
         }
       }), ...);
    }, result);
    return found;
  };

  for (int i = 1; i < argc; ++i) {
    std::string_view token = argv[i];
    if (token == "--help" || token == "-h")
      std::apply([&](const auto&... objects) { detail::print_help_and_exit(argv[0], objects...); },
                 result);
    if (!token.starts_with("--"))
      throw ArgumentError(fmt::format(
          "unexpected argument '{}': flags are written --field_name value (see --help)", token));
    std::string_view name = token.substr(2);
    std::optional<std::string_view> inline_value;
    if (auto equals = name.find('='); equals != std::string_view::npos) {
      inline_value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    bool known = with_field(name, [&](auto& field) {
      using T = std::remove_cvref_t<decltype(field)>;
      if (inline_value) return detail::assign_flag(field, name, *inline_value);
      if constexpr (std::is_same_v<T, bool>) {
        // A bare boolean flag means true; a following true/false is its value.
        auto next = i + 1 < argc ? detail::parse_value<bool>(argv[i + 1]) : std::nullopt;
        field = next.value_or(true);
        if (next) ++i;
      } else {
        if (i + 1 >= argc) throw ArgumentError(fmt::format("--{} needs a value", name));
        detail::assign_flag(field, name, argv[++i]);
      }
    });
    if (!known && name.starts_with("no_") && !inline_value)
      known = with_field(name.substr(3), [&](auto& field) {
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, bool>)
          field = false;
        else
          throw ArgumentError(fmt::format("--{} is not a boolean flag, so --{} means nothing",
                                          name.substr(3), name));
      });
    if (!known)
      throw ArgumentError(fmt::format("unknown flag --{} (run with --help to list the flags)", name));
  }
  return result;
}

/// parse_args starting from default-constructed structs:
/// `auto [args, data] = parse_args<TrainingArguments, DataArguments>(argc, argv);`
template <class... Structs>
  requires(sizeof...(Structs) > 0)
std::tuple<Structs...> parse_args(int argc, const char* const* argv) {
  return parse_args(argc, argv, Structs{}...);
}

}  // namespace torchtrain
