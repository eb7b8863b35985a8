// parse_args: fills Boost.Hana-reflected structs (TrainingArguments and the user's own)
// from `--field_name value` flags and JSON files, as the Python `HfArgumentParser` does.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/arguments/argument_docs.hpp>
#include <torchtrain/arguments/json_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/closest_name.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/detail/printable.hpp>

namespace torchtrain {

namespace detail {

template <class T>
constexpr bool is_flag_like = std::is_same_v<T, bool> || std::is_same_v<T, std::optional<bool>>;

// Why `text` is no T, when a number is wrong for a reason its type name does not say: a
// negative count, or a number beyond the type's range. Empty when the type says it all.
template <class T>
std::string why_not_a(std::string_view text) {
  if constexpr (is_optional<T>::value) {
    return why_not_a<typename T::value_type>(text);
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (std::is_unsigned_v<T> && text.starts_with('-'))
      return fmt::format(" (a whole number from 0 to {}, never negative)", std::numeric_limits<T>::max());
    T value{};
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc::result_out_of_range) return "";
    if constexpr (std::is_integral_v<T>)
      return fmt::format(" (a whole number from {} to {})", std::numeric_limits<T>::lowest(),
                         std::numeric_limits<T>::max());
    else
      return fmt::format(" (a number of at most {:.2g} in magnitude)", static_cast<double>(std::numeric_limits<T>::max()));
  }
  return "";
}

template <class T>
void assign_flag(T& field, std::string_view name, std::string_view text) {
  auto value = parse_value<T>(text);
  if (!value)
    throw ArgumentError(fmt::format("--{} expects {}{}, got '{}'", name, type_name<T>(), why_not_a<T>(text),
                                    torchtrain::detail::printable(text)));
  field = std::move(*value);
}

// A list from several words (each may itself be a comma-separated list); one word is
// read as a whole, so that an optional list also takes "None".
template <class T>
void assign_list(T& field, std::string_view name, const std::vector<std::string_view>& words) {
  if (words.size() == 1) return assign_flag(field, name, words.front());
  using List = std::conditional_t<is_optional<T>::value, typename T::value_type, T>;
  List items;
  for (auto word : words) {
    List part;
    assign_flag(part, name, word);
    items.insert(items.end(), part.begin(), part.end());
  }
  field = std::move(items);
}

// Throws unless every field name is unique across the structs and none is taken by the
// parser itself; a clash would make a flag ambiguous.
inline void check_flag_names(const std::vector<std::string_view>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "config" || names[i] == "help")
      throw ArgumentError(fmt::format("parse_args: a field named '{}' clashes with the parser's own --{}; rename it",
                                      names[i], names[i]));
    if (std::find(names.begin() + static_cast<std::ptrdiff_t>(i) + 1, names.end(), names[i]) != names.end())
      throw ArgumentError(fmt::format("parse_args: two of the structs have a field '{}', so --{} would be ambiguous; "
                                      "rename one", names[i], names[i]));
  }
}

}  // namespace detail

/// Fills copies of `defaults` from argv and returns them.
///
/// Each reflected field `f` is set by `--f value` or `--f=value`; a bool (or optional
/// bool) also by a bare `--f` (true) or `--no_f` (false); an optional by a value or
/// `None`; an enum by name; a list by several words up to the next `--flag`
/// (`--report_to tensorboard jsonl`) or by commas (`--report_to=tensorboard,jsonl`).
/// A JSON file, given as an argument ending in `.json` or as `--config file.json`, sets
/// fields of all structs by name (read_json_arguments); flags win over it whatever their
/// order. A later flag wins over an earlier one. `--help` (or `-h`) prints
/// arguments_help and exits.
/// Throws ArgumentError, naming the flag, for an unknown flag (suggesting the closest
/// one), a missing value or a value of the wrong type (naming the type expected), and as
/// read_json_arguments for a JSON file.
template <class... Structs>
  requires(sizeof...(Structs) > 0)
std::tuple<Structs...> parse_args(int argc, const char* const* argv, Structs... defaults) {
  static_assert((detail::reflects_every_field<Structs>() && ...),
                "torchtrain::parse_args: list every data member of each struct in its "
                "TORCHTRAIN_REFLECT (or BOOST_HANA_ADAPT_STRUCT), or a field would have no flag");
  std::tuple<Structs...> result{std::move(defaults)...};
  std::vector<std::string_view> names;
  std::vector<std::string> flags{"help", "config"};  // what --x may be, for suggestions
  std::apply([&](const auto&... objects) {
    (detail::for_each_field(objects, [&](std::string_view name, const auto& field) {
       names.push_back(name);
       flags.emplace_back(name);
       if constexpr (detail::is_flag_like<std::remove_cvref_t<decltype(field)>>) flags.push_back("no_" + flags.back());
     }), ...);
  }, result);
  detail::check_flag_names(names);

  std::vector<std::string_view> given;  // fields set by flags, which the JSON files leave alone
  // Finds the field called `name` and gives it to `assign`; false when no struct has it.
  auto with_field = [&](std::string_view name, auto&& assign) {
    bool found = false;
    std::apply([&](auto&... objects) {
      (detail::for_each_field(objects, [&](std::string_view field_name, auto& field) {
         if (!found && field_name == name) {
           found = true;
           assign(field);
           given.push_back(field_name);
         }
       }), ...);
    }, result);
    return found;
  };

  std::vector<std::string> json_files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (token == "--help" || token == "-h") {
      std::apply([&](const auto&... objects) { fmt::print("{}", arguments_help(argv[0], objects...)); }, result);
      std::fflush(stdout);
      std::exit(0);
    }
    if (!token.starts_with("--")) {
      if (token.ends_with(".json")) {
        json_files.emplace_back(token);
        continue;
      }
      throw ArgumentError(fmt::format(
          "unexpected argument '{}': flags are written --field_name value (see --help)", torchtrain::detail::printable(token)));
    }
    std::string_view written = token.substr(2);
    std::optional<std::string_view> inline_value;
    if (auto equals = written.find('='); equals != std::string_view::npos) {
      inline_value = written.substr(equals + 1);
      written = written.substr(0, equals);
    }
    // --learning-rate is --learning_rate, as Python's HfArgumentParser takes both.
    std::string flag_name(written);
    std::replace(flag_name.begin(), flag_name.end(), '-', '_');
    const std::string_view name = flag_name;
    // The value in the next argument, unless that is the next flag.
    auto next_value = [&]() -> std::optional<std::string_view> {
      if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) return argv[++i];
      return std::nullopt;
    };
    if (name == "config") {
      auto file = inline_value ? inline_value : next_value();
      if (!file) throw ArgumentError("--config needs a JSON file");
      json_files.emplace_back(*file);
      continue;
    }
    bool known = with_field(name, [&](auto& field) {
      using T = std::remove_cvref_t<decltype(field)>;
      if (inline_value) {
        detail::assign_flag(field, name, *inline_value);
      } else if constexpr (detail::is_flag_like<T>) {
        // A bare flag means true; a following true/false is its value.
        auto next = i + 1 < argc ? detail::parse_value<bool>(argv[i + 1]) : std::nullopt;
        field = next.value_or(true);
        if (next) ++i;
      } else if constexpr (detail::ListField<T>) {
        std::vector<std::string_view> words;
        while (auto word = next_value()) words.push_back(*word);
        if (words.empty()) throw ArgumentError(fmt::format("--{} needs at least one value", name));
        detail::assign_list(field, name, words);
      } else {
        auto value = next_value();
        if (!value) throw ArgumentError(fmt::format("--{} needs a value", name));
        detail::assign_flag(field, name, *value);
      }
    });
    if (!known && name.starts_with("no_") && !inline_value)
      known = with_field(name.substr(3), [&](auto& field) {
        if constexpr (detail::is_flag_like<std::remove_cvref_t<decltype(field)>>)
          field = false;
        else
          throw ArgumentError(fmt::format("--{} is not a boolean flag, so --{} means nothing",
                                          name.substr(3), name));
      });
    if (!known) {
      // No flag is long; a long name (64 KiB of one argument) would cost seconds of edit distances.
      auto suggestion = name.size() > 100 ? std::string_view{}
                                          : detail::closest_name(name, std::vector<std::string_view>(flags.begin(), flags.end()));
      throw ArgumentError(suggestion.empty()
                              ? fmt::format("unknown flag --{} (run with --help to list the flags)", torchtrain::detail::printable(name))
                              : fmt::format("unknown flag --{}; did you mean --{}?", torchtrain::detail::printable(name), suggestion));
    }
  }
  for (const auto& file : json_files)
    std::apply([&](auto&... objects) { read_json_arguments(file, given, objects...); }, result);
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
