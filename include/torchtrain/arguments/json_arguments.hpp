// read_json_arguments: fills reflected argument structs from one JSON file, as the Python
// `HfArgumentParser.parse_json_file` does.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

namespace detail {
// Python's fields typed `dict | str` (lr_scheduler_kwargs, accelerator_config, ...) and
// `str | bool` are strings here, holding the JSON text of what Python wrote.
template <class T>
concept StringField = std::is_same_v<T, std::string> || std::is_same_v<T, std::optional<std::string>>;

// A struct that read_json_arguments fills, seen without its type: the reading is compiled
// once, and only the work on each field is compiled per struct (TrainingArguments' in the
// library, with TORCHTRAIN_HEADER_ONLY=0).
struct JsonArgumentStruct {
  void* object;
  // Appends the names of the struct's fields, in order.
  void (*field_names)(const void* object, std::vector<std::string_view>& names);
  // A copy of the struct with the fields set that `json` has a key for, except those in
  // `keep`; throws FileError naming `source` and the key for a value of the wrong type.
  std::shared_ptr<void> (*read)(const void* object, const nlohmann::json& json,
                                const std::vector<std::string_view>& keep, std::string_view source);
  // Moves a copy that `read` made into the struct.
  void (*take)(void* object, void* read);
};

// JsonArgumentStruct's functions for one struct type.
template <class Struct>
struct JsonArgumentFields {
  static void field_names(const void* object, std::vector<std::string_view>& names);
  static std::shared_ptr<void> read(const void* object, const nlohmann::json& json,
                                    const std::vector<std::string_view>& keep, std::string_view source);
  static void take(void* object, void* read);
};

template <class Struct>
void JsonArgumentFields<Struct>::field_names(const void* object, std::vector<std::string_view>& names) {
  detail::for_each_field(*static_cast<const Struct*>(object),
                         [&](std::string_view name, const auto&) { names.push_back(name); });
}

template <class Struct>
std::shared_ptr<void> JsonArgumentFields<Struct>::read(const void* object, const nlohmann::json& json,
                                                       const std::vector<std::string_view>& keep,
                                                       std::string_view source) {
  auto result = std::make_shared<Struct>(*static_cast<const Struct*>(object));
  nlohmann::json own = nlohmann::json::object();
  detail::for_each_field(*result, [&](std::string_view name, const auto& field) {
    using Field = std::remove_cvref_t<decltype(field)>;
    auto found = json.find(std::string(name));
    if (found == json.end() || std::find(keep.begin(), keep.end(), name) != keep.end()) return;
    own[std::string(name)] = detail::ListField<Field> && !found->is_array() && !found->is_null()
                                 ? nlohmann::json::array({*found})
                             : detail::StringField<Field> && !found->is_string() && !found->is_null()
                                 ? nlohmann::json(found->dump())
                                 : *found;
  });
  io::from_json(own, *result, source, io::UnknownKeys::ignore);
  return result;
}

template <class Struct>
void JsonArgumentFields<Struct>::take(void* object, void* read) {
  *static_cast<Struct*>(object) = std::move(*static_cast<Struct*>(read));
}

#if !TORCHTRAIN_HEADER_ONLY  // compiled once, in the library
extern template struct JsonArgumentFields<TrainingArguments>;
#endif

template <class Struct>
JsonArgumentStruct json_argument_struct(Struct& object) {
  using Fields = JsonArgumentFields<Struct>;
  return {&object, &Fields::field_names, &Fields::read, &Fields::take};
}

// read_json_arguments for structs seen without their types.
TORCHTRAIN_INLINE void read_json_argument_structs(const std::filesystem::path& path,
                                                  const std::vector<std::string_view>& keep,
                                                  std::span<const JsonArgumentStruct> structs);

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
  const std::array<detail::JsonArgumentStruct, sizeof...(Structs)> structs{detail::json_argument_struct(objects)...};
  detail::read_json_argument_structs(path, keep, structs);
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/python_json.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE void read_json_argument_structs(const std::filesystem::path& path,
                                                  const std::vector<std::string_view>& keep,
                                                  std::span<const JsonArgumentStruct> structs) {
  const std::string source = path.string();
  try {
    const auto json = io::python_json_loads(io::read_file(path), source);
    io::require_object(json, source);
    std::vector<std::string_view> names;
    for (const auto& s : structs) s.field_names(s.object, names);
    io::detail::reject_unknown_keys(json, names, source);
    // Each struct reads its own keys, on copies, so that an error changes nothing.
    std::vector<std::shared_ptr<void>> results;
    for (const auto& s : structs) results.push_back(s.read(s.object, json, keep, source));
    for (std::size_t i = 0; i < structs.size(); ++i) structs[i].take(structs[i].object, results[i].get());
  } catch (const FileError& error) {
    throw ArgumentError(error.what());
  }
}

#ifdef TORCHTRAIN_COMPILING_LIBRARY
template struct JsonArgumentFields<TrainingArguments>;
#endif

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
