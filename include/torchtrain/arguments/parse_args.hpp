// parse_args: fills Boost.Hana-reflected structs (TrainingArguments and the user's own)
// from `--field_name value` flags and JSON files, as the Python `HfArgumentParser` does.
#pragma once

#include <array>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <torchtrain/arguments/detail/argument_fields.hpp>
#include <torchtrain/core/config.hpp>

namespace torchtrain {

namespace detail {

// Throws unless every field name is unique across the structs and none is taken by the
// parser itself; a clash would make a flag ambiguous.
TORCHTRAIN_INLINE void check_flag_names(const std::vector<std::string_view>& names);

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
#include <optional>
#include <string>

#include <fmt/format.h>

#include <torchtrain/arguments/argument_docs.hpp>
#include <torchtrain/arguments/json_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/closest_name.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/detail/reflection.hpp>

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

// A flag met on the command line, and the arguments after it, which may be its value.
struct FlagInput {
  std::string_view name;                         // without `--` and `=value`, `-` read as `_`
  std::optional<std::string_view> inline_value;  // the text after `=`
  int argc;
  const char* const* argv;
  int& index;  // the flag's place in argv, moved past the values taken

  // The next argument, taken as a value, unless it is the next flag.
  std::optional<std::string_view> next_value() {
    if (index + 1 < argc && !std::string_view(argv[index + 1]).starts_with("--")) return argv[++index];
    return std::nullopt;
  }
  // The next argument, taken when it reads as a boolean.
  std::optional<bool> next_bool() {
    auto next = index + 1 < argc ? parse_value<bool>(argv[index + 1]) : std::nullopt;
    if (next) ++index;
    return next;
  }
};

// Sets `field` from the flag `input` and the values after it.
TORCHTRAIN_INLINE void set_from_flag(const ArgumentField& field, FlagInput& input) {
  const FieldType& type = *field.type;
  if (input.inline_value) {
    type.set_from_text(field.value, input.name, *input.inline_value);
  } else if (type.flag_like) {
    // A bare flag means true; a following true/false is its value.
    type.set_from_text(field.value, input.name, input.next_bool().value_or(true) ? "true" : "false");
  } else if (type.list) {
    std::vector<std::string_view> words;
    while (auto word = input.next_value()) words.push_back(*word);
    if (words.empty()) throw ArgumentError(fmt::format("--{} needs at least one value", input.name));
    type.set_from_words(field.value, input.name, words);
  } else {
    auto value = input.next_value();
    if (!value) throw ArgumentError(fmt::format("--{} needs a value", input.name));
    type.set_from_text(field.value, input.name, *value);
  }
}

TORCHTRAIN_INLINE void parse_argument_structs(int argc, const char* const* argv,
                                              std::span<const ArgumentStruct> structs) {
  std::vector<ArgumentField> fields;  // of every struct, in order
  for (const auto& s : structs)
    for (auto& field : s.fields(s.object)) fields.push_back(field);
  std::vector<std::string_view> names;
  std::vector<std::string_view> flags{"help", "config"};  // what --x may be, for suggestions
  std::vector<std::string> negated;                      // no_<name> of the booleans
  for (const auto& field : fields) {
    names.push_back(field.name);
    if (field.type->flag_like) negated.push_back("no_" + std::string(field.name));
  }
  check_flag_names(names);
  flags.insert(flags.end(), names.begin(), names.end());
  flags.insert(flags.end(), negated.begin(), negated.end());
  auto field_named = [&](std::string_view name) -> const ArgumentField* {
    for (const auto& field : fields)
      if (field.name == name) return &field;
    return nullptr;
  };

  std::vector<std::string_view> given;  // fields set by flags, which the JSON files leave alone
  std::vector<std::string> json_files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view token = argv[i];
    if (token == "--help" || token == "-h") {
      std::string text = arguments_usage(argv[0]);
      for (const auto& s : structs) text += fields_help(s.fields(s.object));
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
    const ArgumentField* field = field_named(name);
    if (field) {
      set_from_flag(*field, input);
    } else if (name.starts_with("no_") && !inline_value && (field = field_named(name.substr(3)))) {
      if (!field->type->flag_like)
        throw ArgumentError(fmt::format("--{} is not a boolean flag, so --{} means nothing", field->name, name));
      field->type->set_from_text(field->value, name, "false");
    }
    if (field) given.push_back(field->name);
    if (!field) {
      // No flag is long; a long name (64 KiB of one argument) would cost seconds of edit distances.
      auto suggestion = name.size() > 100 ? std::string_view{} : detail::closest_name(name, flags);
      throw ArgumentError(suggestion.empty()
                              ? fmt::format("unknown flag --{} (run with --help to list the flags)", torchtrain::detail::printable(name))
                              : fmt::format("unknown flag --{}; did you mean --{}?", torchtrain::detail::printable(name), suggestion));
    }
  }
  for (const auto& file : json_files) read_json_argument_structs(file, given, structs);
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
