// read_json_arguments: fills reflected argument structs from one JSON file, as the Python
// `HfArgumentParser.parse_json_file` does.
#pragma once

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/closest_name.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

namespace detail {
// Python's fields typed `dict | str` (lr_scheduler_kwargs, accelerator_config, ...) and
// `str | bool` are strings here, holding the JSON text of what Python wrote.
template <class T>
concept StringField = std::is_same_v<T, std::string> || std::is_same_v<T, std::optional<std::string>>;
}  // namespace detail

/// Sets fields of `objects` from the JSON object in the file at `path`: each key names a
/// field of one of the structs and holds its value in the form training_args.json has
/// (a list field also takes a single value as a list of one; a string field takes any
/// other JSON value as its JSON text, as Python's `dict | str` fields need). Fields named in `keep` (set
/// by flags, which win) and fields without a key keep their values.
/// Throws ArgumentError, a sentence naming the file and the key, when the file cannot be
/// read or is not a JSON object, a key is no field of any struct (suggesting the closest
/// field), or a value has the wrong type; the objects are then unchanged.
template <io::Reflected... Structs>
void read_json_arguments(const std::filesystem::path& path, const std::vector<std::string_view>& keep,
                         Structs&... objects) {
  const std::string source = path.string();
  try {
    const auto json = io::python_json_loads(io::read_file(path), source);
    io::require_object(json, source);
    std::vector<std::string_view> names;
    (detail::for_each_field(objects, [&](std::string_view name, const auto&) { names.push_back(name); }), ...);
    for (const auto& item : json.items())
      if (std::find(names.begin(), names.end(), item.key()) == names.end()) {
        auto suggestion = item.key().size() > 100 ? std::string_view{} : detail::closest_name(item.key(), names);
        throw ArgumentError(fmt::format("{}: unknown key '{}'{}", source, torchtrain::detail::printable(item.key()),
                                        suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion)));
      }
    // Each struct reads its own keys, on copies, so that an error changes nothing.
    auto read = [&](auto object) {
      nlohmann::json own = nlohmann::json::object();
      detail::for_each_field(object, [&](std::string_view name, const auto& field) {
        using Field = std::remove_cvref_t<decltype(field)>;
        auto found = json.find(std::string(name));
        if (found == json.end() || std::find(keep.begin(), keep.end(), name) != keep.end()) return;
        own[std::string(name)] = detail::ListField<Field> && !found->is_array() && !found->is_null()
                                     ? nlohmann::json::array({*found})
                                 : detail::StringField<Field> && !found->is_string() && !found->is_null()
                                     ? nlohmann::json(found->dump())
                                     : *found;
      });
      io::from_json(own, object, source, io::UnknownKeys::ignore);
      return object;
    };
    std::tuple<Structs...> results{read(objects)...};
    std::tie(objects...) = std::move(results);
  } catch (const FileError& error) {
    throw ArgumentError(error.what());
  }
}

}  // namespace torchtrain
