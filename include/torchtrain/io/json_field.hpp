// One field's value read from a JSON value, with nlohmann's declarations only: a program
// that reads its argument struct from JSON compiles no JSON parser (the library reads the
// value's kind and contents).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json_fwd.hpp>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/reflection.hpp>

namespace torchtrain::io {

namespace detail {

template <class T>
constexpr bool is_json_field() {
  if constexpr (torchtrain::detail::is_optional<T>::value || torchtrain::detail::is_vector<T>::value)
    return is_json_field<typename T::value_type>();
  else return std::is_arithmetic_v<T> || std::is_same_v<T, std::string> || torchtrain::detail::NamedEnum<T>;
}

/// A JSON value's kind and, for a scalar, its contents: what the field readers below ask
/// of a value, so that they need only nlohmann's forward declarations.
struct JsonScalar {
  enum class Kind { null, boolean, integer, unsigned_integer, floating, string, array, object, other } kind;
  bool boolean = false;
  std::int64_t integer = 0;
  std::uint64_t unsigned_integer = 0;
  double floating = 0;
  std::string_view string;  // into the value
  std::size_t size = 0;     // an array's items

  bool is_integer() const { return kind == Kind::integer || kind == Kind::unsigned_integer; }
};

TORCHTRAIN_INLINE JsonScalar json_scalar(const nlohmann::json& value);
/// Item `index` of an array.
TORCHTRAIN_INLINE const nlohmann::json& json_item(const nlohmann::json& array, std::size_t index);
/// JSON's null.
TORCHTRAIN_INLINE const nlohmann::json& json_null();

// Stores `value` in `field` when it has the field's type and range; false otherwise.
template <class T>
bool assign_from_json(const nlohmann::json& value, T& field) {
  using Kind = JsonScalar::Kind;
  const JsonScalar scalar = json_scalar(value);
  if constexpr (torchtrain::detail::is_optional<T>::value) {
    if (scalar.kind == Kind::null) {
      field.reset();
      return true;
    }
    typename T::value_type inner{};
    if (!assign_from_json(value, inner)) return false;
    field = std::move(inner);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (scalar.kind != Kind::boolean) return false;
    field = scalar.boolean;
  } else if constexpr (std::is_integral_v<T>) {
    if (scalar.kind == Kind::unsigned_integer) {
      if (!std::in_range<T>(scalar.unsigned_integer)) return false;
      field = static_cast<T>(scalar.unsigned_integer);
    } else if (scalar.kind == Kind::integer) {
      if (!std::in_range<T>(scalar.integer)) return false;
      field = static_cast<T>(scalar.integer);
    } else {
      return false;
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    // Python may write an integral float field as an int.
    if (scalar.kind == Kind::unsigned_integer) field = static_cast<T>(scalar.unsigned_integer);
    else if (scalar.kind == Kind::integer) field = static_cast<T>(scalar.integer);
    else if (scalar.kind == Kind::floating) field = static_cast<T>(scalar.floating);
    else return false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (scalar.kind != Kind::string) return false;
    field = std::string(scalar.string);
  } else if constexpr (torchtrain::detail::is_vector<T>::value) {
    if (scalar.kind != Kind::array) return false;
    T items;
    for (std::size_t i = 0; i < scalar.size; ++i) {
      typename T::value_type item{};
      if (!assign_from_json(json_item(value, i), item)) return false;
      items.push_back(std::move(item));
    }
    field = std::move(items);
  } else {
    if (scalar.kind != Kind::string) return false;
    auto names = enum_names(T{});
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == scalar.string) {
        field = static_cast<T>(i);
        return true;
      }
    return false;
  }
  return true;
}

// What a value of type T looks like in JSON, for messages; `got` tells a wrong type
// from an integer out of range.
template <class T>
std::string expected_json(const nlohmann::json& got) {
  if constexpr (torchtrain::detail::is_optional<T>::value) {
    if constexpr (torchtrain::detail::is_vector<typename T::value_type>::value)
      return "null or " + expected_json<typename T::value_type>(got);  // "a list, each item ..., or null" misreads
    return expected_json<typename T::value_type>(got) + " or null";
  } else if constexpr (std::is_same_v<T, bool>) {
    return "true or false";
  } else if constexpr (std::is_integral_v<T>) {
    if (!json_scalar(got).is_integer()) return "an integer";
    return fmt::format("an integer from {} to {}", std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  } else if constexpr (std::is_floating_point_v<T>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (torchtrain::detail::is_vector<T>::value) {
    // Names the item that is wrong, when the list itself is one.
    using Item = typename T::value_type;
    if (const JsonScalar list = json_scalar(got); list.kind == JsonScalar::Kind::array)
      for (std::size_t i = 0; i < list.size; ++i)
        if (Item item{}; !assign_from_json(json_item(got, i), item))
          return fmt::format("a list, each item {} (item {} is not)", expected_json<Item>(json_item(got, i)), i);
    return fmt::format("a list, each item {}", expected_json<Item>(json_null()));
  } else {
    std::string names;
    for (auto name : enum_names(T{})) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", name);
    return "one of " + names;
  }
}

}  // namespace detail

/// Field types with a JSON form: bool, integers, floating point, std::string, enums with
/// `enum_names`, std::vector of those (arrays), and std::optional of all these (null when
/// empty).
template <class T>
concept JsonField = detail::is_json_field<T>();

/// The error for `key` in `source` holding `got` where `expected` was wanted:
/// "<source>: '<key>' must be <expected>, got <got as JSON>".
TORCHTRAIN_INLINE FileError unexpected_value(std::string_view source, std::string_view key, std::string_view expected,
                                             const nlohmann::json& got);

/// Sets `field` from `value`. An integer is accepted for a floating-point field; nothing
/// else is converted. Throws FileError naming `source` and `key` when `value` has
/// another type or does not fit (an int field given 3000000000); `field` is then unchanged.
template <JsonField T>
void value_from_json(const nlohmann::json& value, T& field, std::string_view source, std::string_view key) {
  if (!detail::assign_from_json(value, field))
    throw unexpected_value(source, key, detail::expected_json<T>(value), value);
}

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <nlohmann/json.hpp>

#include <torchtrain/io/python_json.hpp>

namespace torchtrain::io {

namespace detail {

TORCHTRAIN_INLINE JsonScalar json_scalar(const nlohmann::json& value) {
  using Kind = JsonScalar::Kind;
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return {Kind::null};
    case nlohmann::json::value_t::boolean:
      return {Kind::boolean, value.get<bool>()};
    case nlohmann::json::value_t::number_integer:
      return {.kind = Kind::integer, .integer = value.get<std::int64_t>()};
    case nlohmann::json::value_t::number_unsigned:
      return {.kind = Kind::unsigned_integer, .unsigned_integer = value.get<std::uint64_t>()};
    case nlohmann::json::value_t::number_float:
      return {.kind = Kind::floating, .floating = value.get<double>()};
    case nlohmann::json::value_t::string:
      return {.kind = Kind::string, .string = value.get_ref<const std::string&>()};
    case nlohmann::json::value_t::array:
      return {.kind = Kind::array, .size = value.size()};
    case nlohmann::json::value_t::object:
      return {Kind::object};
    default:
      return {Kind::other};
  }
}

TORCHTRAIN_INLINE const nlohmann::json& json_item(const nlohmann::json& array, std::size_t index) { return array[index]; }

TORCHTRAIN_INLINE const nlohmann::json& json_null() {
  static const nlohmann::json null;
  return null;
}

// A value quoted in a message: its JSON text, cut short when long.
inline std::string shown(const nlohmann::json& value) {
  std::string text = python_json_dumps(value);
  if (constexpr std::size_t longest = 60; text.size() > longest) text = text.substr(0, longest) + "...";
  return text;
}

}  // namespace detail

TORCHTRAIN_INLINE FileError unexpected_value(std::string_view source, std::string_view key, std::string_view expected,
                                             const nlohmann::json& got) {
  return FileError(fmt::format("{}: '{}' must be {}, got {}", source, key, expected, detail::shown(got)));
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
