// Describing reflected argument structs: the `--help` text and a Markdown table of fields.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/arguments/detail/argument_fields.hpp>
#include <torchtrain/core/config.hpp>

namespace torchtrain {

namespace detail {

// The start of arguments_help: the usage line of `program`, and how flags and files are written.
TORCHTRAIN_INLINE std::string arguments_usage(std::string_view program);

// arguments_help's part for one struct: a blank line, then per field its flag line and,
// below it, its help text.
TORCHTRAIN_INLINE std::string fields_help(const std::vector<ArgumentField>& fields);

// arguments_markdown_table of one struct's fields.
TORCHTRAIN_INLINE std::string markdown_table(const std::vector<ArgumentField>& fields);

}  // namespace detail

/// The `--help` text of a program whose flags are the fields of `defaults`: a usage line,
/// then per field `--name type (default: value)` and, below it, the field's help text
/// (see TORCHTRAIN_REFLECT), with a blank line between the structs. Defaults are written
/// as Python would write them (`'trainer_output'`, `None`, `['none']`).
template <class... Structs>
std::string arguments_help(std::string_view program, Structs... defaults) {
  std::string text = detail::arguments_usage(program);
  ((text += detail::fields_help(detail::argument_fields(defaults))), ...);
  return text;
}

/// A Markdown table of the fields of `defaults`' struct, one row per field in declaration
/// order: name, type, default (as Python would write it) and help text.
template <class Struct>
std::string arguments_markdown_table(Struct defaults = Struct{}) {
  return detail::markdown_table(detail::argument_fields(defaults));
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::string arguments_usage(std::string_view program) {
  return fmt::format(
      "usage: {} [config.json] [--config file.json] [--field_name value ...]\n\n"
      "A JSON file (a lone .json argument, or --config file.json) sets fields by name; flags win over it.\n"
      "Booleans: --flag, --flag true|false, --no_flag. Lists: --name a b c, or --name=a,b,c.\n",
      program);
}

TORCHTRAIN_INLINE std::string fields_help(const std::vector<ArgumentField>& fields) {
  std::string text = "\n";
  for (const auto& field : fields) {
    text += fmt::format("  --{} {} (default: {})\n", field.name, field.type->type_name(),
                        field.type->python_repr(field.value));
    if (!field.help.empty()) text += fmt::format("      {}\n", field.help);
  }
  return text;
}

// `text` safe in a Markdown table cell: a pipe would end the cell, and outside code
// `<name>` would be read as an HTML tag.
inline std::string table_cell(std::string_view text, bool code) {
  std::string cell;
  for (char c : text) {
    if (c == '|' || (c == '<' && !code)) cell += '\\';
    cell += c;
  }
  return cell;
}

TORCHTRAIN_INLINE std::string markdown_table(const std::vector<ArgumentField>& fields) {
  std::string table = "| name | type | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const auto& field : fields)
    table += fmt::format("| `{}` | `{}` | `{}` | {} |\n", field.name, table_cell(field.type->type_name(), true),
                         table_cell(field.type->python_repr(field.value), true), table_cell(field.help, false));
  return table;
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
