// Boost.Hana-reflected structs: visiting their fields, and reading and writing field values as text.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/hana/accessors.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <fmt/format.h>

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

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) { enum_names(e); };

/// A short name of a field type for `--help` and messages.
template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "str";
  else if constexpr (is_optional<T>::value) return type_name<typename T::value_type>();
  else if constexpr (NamedEnum<T>) {
    std::string names;
    for (auto name : enum_names(T{})) names += fmt::format("{}{}", names.empty() ? "" : "|", name);
    return "{" + names + "}";
  } else
    static_assert(sizeof(T) == 0, "torchtrain: this field type cannot be read from text");
}

/// Parses `text` as a T; std::nullopt when it is not one.
template <class T>
std::optional<T> parse_value(std::string_view text) {
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "True" || text == "1") return true;
    if (text == "false" || text == "False" || text == "0") return false;
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
    if (text == "None" || text == "none") return T{};
    if (auto value = parse_value<typename T::value_type>(text)) return T{*value};
    return std::nullopt;
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
  else if constexpr (NamedEnum<T>) return std::string(enum_names(T{})[static_cast<std::size_t>(value)]);
  else static_assert(sizeof(T) == 0, "torchtrain: this field type cannot be written as text");
}

}  // namespace torchtrain::detail
