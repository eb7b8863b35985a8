// read_json_arguments: fills reflected argument structs from one JSON file, as the Python
// `HfArgumentParser.parse_json_file` does.
#pragma once

#include <array>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include <torchtrain/arguments/detail/argument_fields.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/detail/reflection.hpp>

namespace torchtrain {

namespace detail {

// read_json_arguments for structs seen without their types.
TORCHTRAIN_INLINE void read_json_argument_structs(const std::filesystem::path& path,
                                                  const std::vector<std::string_view>& keep,
                                                  std::span<const ArgumentStruct> structs);

}  // namespace detail

/// Sets fields of `objects` from the JSON object in the file at `path`: each key names a
/// field of one of the structs and holds its value in the form training_args.json has
/// (a list field also takes a single value as a list of one; a string field takes any
/// other JSON value as its JSON text, as Python's `dict | str` fields need). Fields named in `keep` (set
/// by flags, which win) and fields without a key keep their values.
/// Throws ArgumentError, a sentence naming the file and the key, when the file cannot be
/// read or is not a JSON object, a key is no field of any struct (suggesting the closest
/// field), or a value has the wrong type; the objects are then unchanged.
template <detail::Reflected... Structs>
void read_json_arguments(const std::filesystem::path& path, const std::vector<std::string_view>& keep,
                         Structs&... objects) {
  const std::array<detail::ArgumentStruct, sizeof...(Structs)> structs{detail::argument_struct(objects)...};
  detail::read_json_argument_structs(path, keep, structs);
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE void read_json_argument_structs(const std::filesystem::path& path,
                                                  const std::vector<std::string_view>& keep,
                                                  std::span<const ArgumentStruct> structs) {
  const std::string source = path.string();
  try {
    const auto json = io::python_json_loads(io::read_file(path), source);
    io::require_object(json, source);
    std::vector<std::string_view> names;
    for (const auto& s : structs)
      for (const auto& field : s.fields(s.object)) names.push_back(field.name);
    io::detail::reject_unknown_keys(json, names, source);
    // Each struct reads its own keys, on copies, so that an error changes nothing.
    std::vector<std::shared_ptr<void>> copies;
    for (const auto& s : structs) {
      copies.push_back(s.copy(s.object));
      for (const auto& field : s.fields(copies.back().get())) {
        const auto found = json.find(std::string(field.name));
        if (found == json.end() || std::find(keep.begin(), keep.end(), field.name) != keep.end()) continue;
        const bool given = !found->is_null();
        field.type->set_from_json(field.value,
                                  field.type->list && given && !found->is_array()   ? nlohmann::json::array({*found})
                                  : field.type->text && given && !found->is_string() ? nlohmann::json(found->dump())
                                                                                     : *found,
                                  source, field.name);
      }
    }
    for (std::size_t i = 0; i < structs.size(); ++i) structs[i].take(structs[i].object, copies[i].get());
  } catch (const FileError& error) {
    throw ArgumentError(error.what());
  }
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
