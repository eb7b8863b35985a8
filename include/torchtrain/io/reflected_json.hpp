// Boost.Hana-reflected structs as JSON objects, one key per field, and back. Brings
// nlohmann's whole header, so torchtrain.hpp leaves it out: include it by name.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/json_field.hpp>

namespace torchtrain::io {

/// Types adapted with BOOST_HANA_ADAPT_STRUCT (TORCHTRAIN_REFLECT).
template <class T>
concept Reflected = torchtrain::detail::Reflected<T>;

/// Whether a reflected object with keys that are not fields is an error or fine.
enum class UnknownKeys { reject, ignore };

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

namespace torchtrain::io {

namespace detail {

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

TORCHTRAIN_INLINE void require_object(const nlohmann::json& json, std::string_view source) {
  if (!json.is_object()) throw FileError(fmt::format("{}: must hold a JSON object, got {}", source, detail::shown(json)));
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
