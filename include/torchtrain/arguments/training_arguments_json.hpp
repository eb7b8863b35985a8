// training_args.json: the TrainingArguments of a run as a JSON file, one key per field.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// The text of training_args.json: every field of `args` under its name, keys sorted,
/// indent 2 (the layout of Python's `TrainingArguments.to_json_string()`, with sorted
/// keys), enums by name, empty optionals as null, doubles in their shortest exact form,
/// and a final newline. As Python's to_dict: the fields Python types `dict | str` as the
/// JSON object they hold, and hub_token masked as "<HUB_TOKEN>".
TORCHTRAIN_INLINE std::string training_arguments_json(const TrainingArguments& args);

/// TrainingArguments from the text of a training_args.json. A key that is missing keeps
/// its default (a file written before a field existed still loads).
/// Throws FileError, a sentence naming `file_name` and the key, for text that is not
/// JSON, an unknown key (with the field it probably meant), or a value of the wrong type.
/// The values are not validated: that is `validate`'s job.
TORCHTRAIN_INLINE TrainingArguments training_arguments_from_json(std::string_view text, std::string_view file_name);

/// Writes training_arguments_json(args) to `path` (a plain write; checkpoints go through
/// their own durable writer). Throws FileError naming the file when that fails.
TORCHTRAIN_INLINE void save_training_arguments(const TrainingArguments& args, const std::filesystem::path& path);

/// Reads the training_args.json at `path`. Throws FileError naming the file when it
/// cannot be read, and as training_arguments_from_json for its content.
TORCHTRAIN_INLINE TrainingArguments load_training_arguments(const std::filesystem::path& path);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

namespace detail {
// The fields Python types `dict | str`: strings of JSON text here, objects in the file.
inline constexpr const char* python_dict_fields[] = {"lr_scheduler_kwargs",           "activation_checkpointing_kwargs",
                                                     "gradient_checkpointing_kwargs", "liger_kernel_config",
                                                     "accelerator_config",            "fsdp_config",
                                                     "deepspeed"};
}  // namespace detail

TORCHTRAIN_INLINE std::string training_arguments_json(const TrainingArguments& args) {
  auto json = io::to_json(args);
  for (const char* key : detail::python_dict_fields) {
    auto found = json.find(key);
    if (found == json.end() || !found->is_string()) continue;
    const auto& text = found->get_ref<const std::string&>();
    if (!text.starts_with('{')) continue;  // name=value text stays text
    try {  // nesting bounded: python_json_dumps recurses
      if (auto parsed = detail::parse_json<ArgumentError>(text, key); parsed.is_object()) *found = std::move(parsed);
    } catch (const ArgumentError&) {  // not a JSON object: written as the text it is
    }
  }
  json["hub_token"] = "<HUB_TOKEN>";  // never the token itself
  return io::python_json_dumps(json, 2) + "\n";
}

TORCHTRAIN_INLINE TrainingArguments training_arguments_from_json(std::string_view text, std::string_view file_name) {
  TrainingArguments args;
  auto json = io::python_json_loads(text, file_name);
  if (json.is_object()) {
    for (const char* key : detail::python_dict_fields)
      if (auto found = json.find(key); found != json.end() && found->is_object()) *found = io::python_json_dumps(*found);
    // Python keeps optim_target_modules as it was given, a list or one string ("all-linear",
    // a regular expression); here it is a list of one.
    if (auto found = json.find("optim_target_modules"); found != json.end() && found->is_string())
      *found = nlohmann::json::array({*found});
  }
  io::from_json(json, args, file_name, io::UnknownKeys::reject);
  return args;
}

TORCHTRAIN_INLINE void save_training_arguments(const TrainingArguments& args, const std::filesystem::path& path) {
  io::replace_file(path, training_arguments_json(args));
}

TORCHTRAIN_INLINE TrainingArguments load_training_arguments(const std::filesystem::path& path) {
  return training_arguments_from_json(io::read_file(path), path.string());
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
