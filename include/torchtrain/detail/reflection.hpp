// Boost.Hana-reflected structs: visiting their fields, and reading and writing field values as text.
#pragma once

#include <cctype>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <fmt/format.h>

#include <torchtrain/detail/python_float_repr.hpp>

namespace torchtrain::detail {

// Converts to any field type; counting how many of them initialize T counts its fields.
struct any_field {
  template <class T>
  operator T() const noexcept;  // declared only: used in unevaluated contexts
};

template <class T, class... Fields>
constexpr std::size_t aggregate_field_count() {
  if constexpr (requires { T{Fields{}..., any_field{}}; })
    return aggregate_field_count<T, Fields..., any_field>();
  else
    return sizeof...(Fields);
}

/// True when every data member of the aggregate T is listed in its Hana adaptation.
template <class T>
constexpr bool reflects_every_field() {
  return aggregate_field_count<T>() ==
         decltype(boost::hana::length(boost::hana::accessors<T>()))::value;
}

/// Calls `visit(name, field)` for every reflected field of `object`.
template <class Struct, class Visitor>
void for_each_field(Struct& object, Visitor&& visit) {
  boost::hana::for_each(boost::hana::accessors<std::remove_const_t<Struct>>(), [&](auto field) {
    visit(std::string_view(boost::hana::to<const char*>(boost::hana::first(field))),
          boost::hana::second(field)(object));
  });
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

/// A list field, or an optional list: its values may be given as several words.
template <class T>
concept ListField = is_vector<T>::value || (is_optional<T>::value && is_vector<typename T::value_type>::value);

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) { enum_names(e); };

/// Types adapted with BOOST_HANA_ADAPT_STRUCT (TORCHTRAIN_REFLECT).
template <class T>
concept Reflected = boost::hana::Struct<T>::value;

/// A short name of a field type for `--help` and messages.
template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "str";
  else if constexpr (is_optional<T>::value) return type_name<typename T::value_type>() + " or None";
  else if constexpr (is_vector<T>::value) return "list[" + type_name<typename T::value_type>() + "]";
  else if constexpr (NamedEnum<T>) {
    std::string names;
    for (auto name : enum_names(T{})) names += fmt::format("{}{}", names.empty() ? "" : "|", name);
    return "{" + names + "}";
  } else
    static_assert(sizeof(T) == 0, "torchtrain: this field type cannot be read from text");
}

/// Parses `text` as a T; std::nullopt when it is not one. A list is its items separated
/// by commas (empty items skipped, so "" is the empty list); an optional is also "None".
template <class T>
std::optional<T> parse_value(std::string_view text) {
  if constexpr (std::is_same_v<T, bool>) {
    // Python's string_to_bool: yes/no, true/false, t/f, y/n, 1/0, in any case.
    std::string lower(text);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "true" || lower == "yes" || lower == "t" || lower == "y" || lower == "1") return true;
    if (lower == "false" || lower == "no" || lower == "f" || lower == "n" || lower == "0") return false;
    return std::nullopt;
  } else if constexpr (std::is_arithmetic_v<T>) {
    if constexpr (std::is_unsigned_v<T>)
      if (text.starts_with('-')) return std::nullopt;
    T value{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return std::string(text);
  } else if constexpr (is_optional<T>::value) {
    if (text == "None" || text == "none") return std::optional<T>(std::in_place);  // holding an empty T
    if (auto value = parse_value<typename T::value_type>(text)) return T{std::move(*value)};
    return std::nullopt;
  } else if constexpr (is_vector<T>::value) {
    T items;
    while (!text.empty()) {
      const auto comma = text.find(',');
      if (comma != 0) {
        auto item = parse_value<typename T::value_type>(text.substr(0, comma));
        if (!item) return std::nullopt;
        items.push_back(std::move(*item));
      }
      text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    }
    return items;
  } else if constexpr (NamedEnum<T>) {
    auto names = enum_names(T{});
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == text) return static_cast<T>(i);
    return std::nullopt;
  } else {
    static_assert(sizeof(T) == 0, "torchtrain: this field type cannot be read from text");
  }
}

/// Writes a field value the way parse_value reads it back.
template <class T>
std::string format_value(const T& value) {
  if constexpr (std::is_same_v<T, bool>) return value ? "true" : "false";
  else if constexpr (std::is_arithmetic_v<T>) return fmt::format("{}", value);
  else if constexpr (std::is_same_v<T, std::string>) return value;
  else if constexpr (is_optional<T>::value) return value ? format_value(*value) : "None";
  else if constexpr (is_vector<T>::value) {
    std::string text;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i > 0) text += ',';
      text += format_value(value[i]);
    }
    return text;
  } else if constexpr (NamedEnum<T>) return std::string(enum_names(T{})[static_cast<std::size_t>(value)]);
  else static_assert(sizeof(T) == 0, "torchtrain: this field type cannot be written as text");
}

/// A field value as Python would write it in code (`'trainer_output'`, `5e-05`, `None`,
/// `True`, `['none']`), for `--help` and documentation, where a Python user reads it
/// against the Python defaults. An enum value is written as its name, quoted.
template <class T>
std::string python_repr(const T& value) {
  if constexpr (std::is_same_v<T, bool>) return value ? "True" : "False";
  else if constexpr (std::is_floating_point_v<T>) return python_float_repr(static_cast<double>(value));
  else if constexpr (std::is_integral_v<T>) return fmt::format("{}", value);
  else if constexpr (std::is_same_v<T, std::string>) {
    std::string quoted = "'";
    for (char c : value) {
      if (c == '\\' || c == '\'') quoted += '\\';
      quoted += c;
    }
    return quoted + "'";
  } else if constexpr (is_optional<T>::value) return value ? python_repr(*value) : "None";
  else if constexpr (is_vector<T>::value) {
    std::string items = "[";
    for (const auto& item : value) {
      if (items.size() > 1) items += ", ";
      items += python_repr(item);
    }
    return items + "]";
  } else if constexpr (NamedEnum<T>) return python_repr(format_value(value));
  else static_assert(sizeof(T) == 0, "torchtrain: this field type cannot be written as text");
}

}  // namespace torchtrain::detail
