// Boost.Hana-reflected structs as JSON objects, one key per field, and back.
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

#include <boost/hana/concept/struct.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

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

// Stores `value` in `field` when it has the field's type and range; false otherwise.
template <class T>
bool assign_from_json(const nlohmann::json& value, T& field) {
  if constexpr (torchtrain::detail::is_optional<T>::value) {
    if (value.is_null()) {
      field.reset();
      return true;
    }
    typename T::value_type inner{};
    if (!assign_from_json(value, inner)) return false;
    field = std::move(inner);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return false;
    field = value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (value.is_number_unsigned()) {
      auto number = value.get<std::uint64_t>();
      if (!std::in_range<T>(number)) return false;
      field = static_cast<T>(number);
    } else if (value.is_number_integer()) {
      auto number = value.get<std::int64_t>();
      if (!std::in_range<T>(number)) return false;
      field = static_cast<T>(number);
    } else {
      return false;
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!value.is_number()) return false;  // Python may write an integral float field as an int
    field = value.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) return false;
    field = value.get<std::string>();
  } else if constexpr (torchtrain::detail::is_vector<T>::value) {
    if (!value.is_array()) return false;
    T items;
    for (const auto& element : value) {
      typename T::value_type item{};
      if (!assign_from_json(element, item)) return false;
      items.push_back(std::move(item));
    }
    field = std::move(items);
  } else {
    if (!value.is_string()) return false;
    auto names = enum_names(T{});
    const auto& text = value.get_ref<const std::string&>();
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == text) {
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
    if (!got.is_number_integer()) return "an integer";
    return fmt::format("an integer from {} to {}", std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  } else if constexpr (std::is_floating_point_v<T>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (torchtrain::detail::is_vector<T>::value) {
    // Names the item that is wrong, when the list itself is one.
    using Item = typename T::value_type;
    if (got.is_array())
      for (std::size_t i = 0; i < got.size(); ++i)
        if (Item item{}; !assign_from_json(got[i], item))
          return fmt::format("a list, each item {} (item {} is not)", expected_json<Item>(got[i]), i);
    return fmt::format("a list, each item {}", expected_json<Item>(nlohmann::json()));
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

/// Types adapted with BOOST_HANA_ADAPT_STRUCT.
template <class T>
concept Reflected = boost::hana::Struct<T>::value;

/// Whether a reflected object with keys that are not fields is an error or fine.
enum class UnknownKeys { reject, ignore };

/// The error for `key` in `source` holding `got` where `expected` was wanted:
/// "<source>: '<key>' must be <expected>, got <got as JSON>".
TORCHTRAIN_INLINE FileError unexpected_value(std::string_view source, std::string_view key, std::string_view expected,
                                             const nlohmann::json& got);

/// Throws FileError "<source>: must hold a JSON object, got ..." unless `json` is an object.
TORCHTRAIN_INLINE void require_object(const nlohmann::json& json, std::string_view source);

namespace detail {
// Throws FileError "<source>: unknown key '<key>'", with the closest of `names` as a
// suggestion, for the first key of the object `json` that is none of `names`.
TORCHTRAIN_INLINE void reject_unknown_keys(const nlohmann::json& json, const std::vector<std::string_view>& names,
                                           std::string_view source);
}  // namespace detail

/// `value` as JSON: numbers keep their kind (a double is always written as a float, an
/// integer as an integer), enums are their names, a vector is an array, an empty optional
/// is null.
template <JsonField T>
nlohmann::json value_to_json(const T& value) {
  if constexpr (torchtrain::detail::is_optional<T>::value) {
    return value ? value_to_json(*value) : nlohmann::json(nullptr);
  } else if constexpr (torchtrain::detail::is_vector<T>::value) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& item : value) items.push_back(value_to_json(item));
    return items;
  } else if constexpr (torchtrain::detail::NamedEnum<T>) {
    return std::string(enum_names(T{})[static_cast<std::size_t>(value)]);
  } else {
    return nlohmann::json(value);
  }
}

/// Sets `field` from `value`. An integer is accepted for a floating-point field; nothing
/// else is converted. Throws FileError naming `source` and `key` when `value` has
/// another type or does not fit (an int field given 3000000000); `field` is then unchanged.
template <JsonField T>
void value_from_json(const nlohmann::json& value, T& field, std::string_view source, std::string_view key) {
  if (!detail::assign_from_json(value, field))
    throw unexpected_value(source, key, detail::expected_json<T>(value), value);
}

/// `object` as a JSON object with one key per reflected field.
template <Reflected T>
nlohmann::json to_json(const T& object) {
  static_assert(torchtrain::detail::reflects_every_field<T>(),
                "torchtrain::io::to_json: list every data member in the BOOST_HANA_ADAPT_STRUCT, "
                "or a field would be missing from the JSON");
  nlohmann::json json = nlohmann::json::object();
  torchtrain::detail::for_each_field(object, [&](std::string_view name, const auto& field) {
    static_assert(JsonField<std::remove_cvref_t<decltype(field)>>,
                  "torchtrain::io::to_json: a field type has no JSON form (bool, integers, floating "
                  "point, std::string, named enums, std::vector and std::optional of those do)");
    json[std::string(name)] = value_to_json(field);
  });
  return json;
}

/// Sets the fields of `target` from the keys of `json`; a field without a key keeps its
/// value (so a file from before a field existed still loads).
/// Throws FileError with a sentence naming `source` (the file) and the key when `json`
/// is not an object, a value has the wrong type, or, with UnknownKeys::reject, a key
/// names no field (suggesting the field it was probably meant to be). On error `target`
/// is unchanged.
template <Reflected T>
void from_json(const nlohmann::json& json, T& target, std::string_view source = "JSON",
               UnknownKeys unknown_keys = UnknownKeys::reject) {
  static_assert(torchtrain::detail::reflects_every_field<T>(),
                "torchtrain::io::from_json: list every data member in the BOOST_HANA_ADAPT_STRUCT, "
                "or a field would never be read");
  require_object(json, source);
  if (unknown_keys == UnknownKeys::reject) {
    std::vector<std::string_view> names;
    torchtrain::detail::for_each_field(target, [&](std::string_view name, const auto&) { names.push_back(name); });
    detail::reject_unknown_keys(json, names, source);
  }
  T result = target;
  torchtrain::detail::for_each_field(result, [&](std::string_view name, auto& field) {
    if (auto found = json.find(std::string(name)); found != json.end()) value_from_json(*found, field, source, name);
  });
  target = std::move(result);
}

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>

#include <torchtrain/detail/closest_name.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/python_json.hpp>

namespace torchtrain::io {

namespace detail {

// A value quoted in a message: its JSON text, cut short when long.
inline std::string shown(const nlohmann::json& value) {
  std::string text = python_json_dumps(value);
  if (constexpr std::size_t longest = 60; text.size() > longest) text = text.substr(0, longest) + "...";
  return text;
}

TORCHTRAIN_INLINE void reject_unknown_keys(const nlohmann::json& json, const std::vector<std::string_view>& names,
                                           std::string_view source) {
  for (const auto& item : json.items())
    if (std::find(names.begin(), names.end(), item.key()) == names.end()) {
      auto suggestion = item.key().size() > 100 ? std::string_view{} : torchtrain::detail::closest_name(item.key(), names);
      throw FileError(fmt::format("{}: unknown key '{}'{}", source, torchtrain::detail::printable(item.key()),
                                  suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion)));
    }
}

}  // namespace detail

TORCHTRAIN_INLINE FileError unexpected_value(std::string_view source, std::string_view key, std::string_view expected,
                                             const nlohmann::json& got) {
  return FileError(fmt::format("{}: '{}' must be {}, got {}", source, key, expected, detail::shown(got)));
}

TORCHTRAIN_INLINE void require_object(const nlohmann::json& json, std::string_view source) {
  if (!json.is_object()) throw FileError(fmt::format("{}: must hold a JSON object, got {}", source, detail::shown(json)));
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
