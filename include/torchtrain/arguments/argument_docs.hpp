// Describing reflected argument structs: the `--help` text and a Markdown table of fields.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include <torchtrain/arguments/reflect.hpp>
#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/detail/reflection.hpp>

namespace torchtrain {

namespace detail {

// The start of arguments_help: the usage line of `program`, and how flags and files are written.
TORCHTRAIN_INLINE std::string arguments_usage(std::string_view program);

// arguments_help's part for one struct: a blank line, then per field its flag line and,
// below it, its help text.
template <class Struct>
std::string fields_help(const Struct& defaults) {
  std::string text = "\n";
  detail::for_each_field(defaults, [&](std::string_view name, const auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    text += fmt::format("  --{} {} (default: {})\n", name, detail::type_name<T>(), detail::python_repr(value));
    if (auto help = field_help<Struct>(name); !help.empty()) text += fmt::format("      {}\n", help);
  });
  return text;
}

#if !TORCHTRAIN_HEADER_ONLY  // compiled once, in the library
extern template std::string fields_help<TrainingArguments>(const TrainingArguments&);
#endif

}  // namespace detail

/// The `--help` text of a program whose flags are the fields of `defaults`: a usage line,
/// then per field `--name type (default: value)` and, below it, the field's help text
/// (see TORCHTRAIN_REFLECT), with a blank line between the structs. Defaults are written
/// as Python would write them (`'trainer_output'`, `None`, `['none']`).
template <class... Structs>
std::string arguments_help(std::string_view program, const Structs&... defaults) {
  std::string text = detail::arguments_usage(program);
  ((text += detail::fields_help(defaults)), ...);
  return text;
}

namespace detail {

// `text` safe in a Markdown table cell: a pipe would end the cell, and outside code
// `<name>` would be read as an HTML tag.
TORCHTRAIN_INLINE std::string table_cell(std::string_view text, bool code);

}  // namespace detail

/// A Markdown table of the fields of `defaults`' struct, one row per field in declaration
/// order: name, type, default (as Python would write it) and help text.
template <class Struct>
std::string arguments_markdown_table(const Struct& defaults = Struct{}) {
  std::string table = "| name | type | default | meaning |\n| --- | --- | --- | --- |\n";
  detail::for_each_field(defaults, [&](std::string_view name, const auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    table += fmt::format("| `{}` | `{}` | `{}` | {} |\n", name, detail::table_cell(detail::type_name<T>(), true),
                         detail::table_cell(detail::python_repr(value), true),
                         detail::table_cell(field_help<Struct>(name), false));
  });
  return table;
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::string arguments_usage(std::string_view program) {
  return fmt::format(
      "usage: {} [config.json] [--config file.json] [--field_name value ...]\n\n"
      "A JSON file (a lone .json argument, or --config file.json) sets fields by name; flags win over it.\n"
      "Booleans: --flag, --flag true|false, --no_flag. Lists: --name a b c, or --name=a,b,c.\n",
      program);
}

TORCHTRAIN_INLINE std::string table_cell(std::string_view text, bool code) {
  std::string cell;
  for (char c : text) {
    if (c == '|' || (c == '<' && !code)) cell += '\\';
    cell += c;
  }
  return cell;
}

#ifdef TORCHTRAIN_COMPILING_LIBRARY
template std::string fields_help<TrainingArguments>(const TrainingArguments&);
#endif

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
