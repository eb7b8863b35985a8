// parse_args: fills Boost.Hana-reflected structs (TrainingArguments and the user's own)
// from `--field_name value` flags and JSON files, as the Python `HfArgumentParser` does.
#pragma once

#include <array>
#include <charconv>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/arguments/argument_docs.hpp>
#include <torchtrain/arguments/json_arguments.hpp>
#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/detail/reflection.hpp>

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
TORCHTRAIN_INLINE void check_flag_names(const std::vector<std::string_view>& names);

// A flag met on the command line, and the arguments after it, which may be its value.
struct FlagInput {
  std::string_view name;                         // without `--` and `=value`, `-` read as `_`
  std::optional<std::string_view> inline_value;  // the text after `=`
  int argc;
  const char* const* argv;
  int& index;  // the flag's place in argv, moved past the values taken

  // The next argument, taken as a value, unless it is the next flag.
  std::optional<std::string_view> next_value();
  // The next argument, taken when it reads as a boolean.
  std::optional<bool> next_bool();
};

// Sets `field` from the flag `input` and the values after it.
template <class T>
void assign_from_flag(T& field, FlagInput& input) {
  if (input.inline_value) {
    detail::assign_flag(field, input.name, *input.inline_value);
  } else if constexpr (is_flag_like<T>) {
    // A bare flag means true; a following true/false is its value.
    field = input.next_bool().value_or(true);
  } else if constexpr (ListField<T>) {
    std::vector<std::string_view> words;
    while (auto word = input.next_value()) words.push_back(*word);
    if (words.empty()) throw ArgumentError(fmt::format("--{} needs at least one value", input.name));
    detail::assign_list(field, input.name, words);
  } else {
    auto value = input.next_value();
    if (!value) throw ArgumentError(fmt::format("--{} needs a value", input.name));
    detail::assign_flag(field, input.name, *value);
  }
}

// A struct that parse_args fills, seen without its type: the parser is compiled once, and
// only the work on each field is compiled per struct (TrainingArguments' in the library,
// with TORCHTRAIN_HEADER_ONLY=0).
struct ArgumentStruct {
  JsonArgumentStruct json;  // the struct, its field names, and reading it from a JSON file
  // Appends what --x may be for the struct's fields: each name, and no_<name> after a boolean's.
  void (*flag_names)(const void* object, std::vector<std::string>& flags);
  // Sets the field `input` names from it; the field's name, or empty when the struct has none.
  std::string_view (*set)(void* object, FlagInput& input);
  // For `--no_<name>` (`flag`): sets the boolean field <name> to false; its name, or empty
  // when the struct has none. Throws ArgumentError when that field is no boolean.
  std::string_view (*set_false)(void* object, std::string_view flag);
  // The struct's part of the --help text (detail::fields_help).
  std::string (*help)(const void* object);
};

// ArgumentStruct's functions for one struct type.
template <class Struct>
struct FlagArguments {
  static void flag_names(const void* object, std::vector<std::string>& flags);
  static std::string_view set(void* object, FlagInput& input);
  static std::string_view set_false(void* object, std::string_view flag);
  static std::string help(const void* object);
};

template <class Struct>
void FlagArguments<Struct>::flag_names(const void* object, std::vector<std::string>& flags) {
  static_assert(detail::reflects_every_field<Struct>(),
                "torchtrain::parse_args: list every data member of each struct in its "
                "TORCHTRAIN_REFLECT (or BOOST_HANA_ADAPT_STRUCT), or a field would have no flag");
  detail::for_each_field(*static_cast<const Struct*>(object), [&](std::string_view name, const auto& field) {
    flags.emplace_back(name);
    if constexpr (is_flag_like<std::remove_cvref_t<decltype(field)>>) flags.push_back("no_" + flags.back());
  });
}

template <class Struct>
std::string_view FlagArguments<Struct>::set(void* object, FlagInput& input) {
  std::string_view found;
  detail::for_each_field(*static_cast<Struct*>(object), [&](std::string_view field_name, auto& field) {
    if (found.empty() && field_name == input.name) {
      found = field_name;
      detail::assign_from_flag(field, input);
    }
  });
  return found;
}

template <class Struct>
std::string_view FlagArguments<Struct>::set_false(void* object, std::string_view flag) {
  std::string_view found;
  detail::for_each_field(*static_cast<Struct*>(object), [&](std::string_view field_name, auto& field) {
    if (found.empty() && field_name == flag.substr(3)) {
      found = field_name;
      if constexpr (is_flag_like<std::remove_cvref_t<decltype(field)>>)
        field = false;
      else
        throw ArgumentError(fmt::format("--{} is not a boolean flag, so --{} means nothing", flag.substr(3), flag));
    }
  });
  return found;
}

template <class Struct>
std::string FlagArguments<Struct>::help(const void* object) {
  return detail::fields_help(*static_cast<const Struct*>(object));
}

#if !TORCHTRAIN_HEADER_ONLY  // compiled once, in the library
extern template struct FlagArguments<TrainingArguments>;
#endif

template <class Struct>
ArgumentStruct argument_struct(Struct& object) {
  using Flags = FlagArguments<Struct>;
  return {detail::json_argument_struct(object), &Flags::flag_names, &Flags::set, &Flags::set_false, &Flags::help};
}

// parse_args for structs seen without their types: fills them in place.
TORCHTRAIN_INLINE void parse_argument_structs(int argc, const char* const* argv,
                                              std::span<const ArgumentStruct> structs);

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
  std::tuple<Structs...> result{std::move(defaults)...};
  std::apply([&](auto&... objects) {
    const std::array<detail::ArgumentStruct, sizeof...(Structs)> structs{detail::argument_struct(objects)...};
    detail::parse_argument_structs(argc, argv, structs);
  }, result);
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

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include <torchtrain/detail/closest_name.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE void check_flag_names(const std::vector<std::string_view>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "config" || names[i] == "help")
      throw ArgumentError(fmt::format("parse_args: a field named '{}' clashes with the parser's own --{}; rename it",
                                      names[i], names[i]));
    if (std::find(names.begin() + static_cast<std::ptrdiff_t>(i) + 1, names.end(), names[i]) != names.end())
      throw ArgumentError(fmt::format("parse_args: two of the structs have a field '{}', so --{} would be ambiguous; "
                                      "rename one", names[i], names[i]));
  }
}

TORCHTRAIN_INLINE std::optional<std::string_view> FlagInput::next_value() {
  if (index + 1 < argc && !std::string_view(argv[index + 1]).starts_with("--")) return argv[++index];
  return std::nullopt;
}

TORCHTRAIN_INLINE std::optional<bool> FlagInput::next_bool() {
  auto next = index + 1 < argc ? parse_value<bool>(argv[index + 1]) : std::nullopt;
  if (next) ++index;
  return next;
}

TORCHTRAIN_INLINE void parse_argument_structs(int argc, const char* const* argv,
                                              std::span<const ArgumentStruct> structs) {
  std::vector<std::string_view> names;
  std::vector<std::string> flags{"help", "config"};  // what --x may be, for suggestions
  for (const auto& s : structs) {
    s.json.field_names(s.json.object, names);
    s.flag_names(s.json.object, flags);
  }
  check_flag_names(names);

  std::vector<std::string_view> given;  // fields set by flags, which the JSON files leave alone
  // Gives the flag to the struct with the field it names; false when no struct has it.
  auto with_field = [&](auto&& set) {
    for (const auto& s : structs)
      if (const auto field_name = set(s); !field_name.empty()) {
        given.push_back(field_name);
        return true;
      }
    return false;
  };

  std::vector<std::string> json_files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (token == "--help" || token == "-h") {
      std::string text = arguments_usage(argv[0]);
      for (const auto& s : structs) text += s.help(s.json.object);
      fmt::print("{}", text);
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
    FlagInput input{name, inline_value, argc, argv, i};
    if (name == "config") {
      auto file = inline_value ? inline_value : input.next_value();
      if (!file) throw ArgumentError("--config needs a JSON file");
      json_files.emplace_back(*file);
      continue;
    }
    bool known = with_field([&](const ArgumentStruct& s) { return s.set(s.json.object, input); });
    if (!known && name.starts_with("no_") && !inline_value)
      known = with_field([&](const ArgumentStruct& s) { return s.set_false(s.json.object, name); });
    if (!known) {
      // No flag is long; a long name (64 KiB of one argument) would cost seconds of edit distances.
      auto suggestion = name.size() > 100 ? std::string_view{}
                                          : detail::closest_name(name, std::vector<std::string_view>(flags.begin(), flags.end()));
      throw ArgumentError(suggestion.empty()
                              ? fmt::format("unknown flag --{} (run with --help to list the flags)", torchtrain::detail::printable(name))
                              : fmt::format("unknown flag --{}; did you mean --{}?", torchtrain::detail::printable(name), suggestion));
    }
  }
  std::vector<JsonArgumentStruct> json_structs;
  for (const auto& s : structs) json_structs.push_back(s.json);
  for (const auto& file : json_files) read_json_argument_structs(file, given, json_structs);
}

#ifdef TORCHTRAIN_COMPILING_LIBRARY
template struct FlagArguments<TrainingArguments>;
#endif

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
