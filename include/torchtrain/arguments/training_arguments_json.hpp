// training_args.json: the TrainingArguments of a run as a JSON file, one key per field.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain {

/// The text of training_args.json: every field of `args` under its name, keys sorted,
/// indent 2 (the layout of Python's `TrainingArguments.to_json_string()`, with sorted
/// keys), enums by name, empty optionals as null, doubles in their shortest exact form,
/// and a final newline.
inline std::string training_arguments_json(const TrainingArguments& args) {
  return io::python_json_dumps(io::to_json(args), 2) + "\n";
}

/// TrainingArguments from the text of a training_args.json. A key that is missing keeps
/// its default (a file written before a field existed still loads).
/// Throws FileError, a sentence naming `file_name` and the key, for text that is not
/// JSON, an unknown key (with the field it probably meant), or a value of the wrong type.
/// The values are not validated: that is `validate`'s job.
inline TrainingArguments training_arguments_from_json(std::string_view text, std::string_view file_name) {
  TrainingArguments args;
  io::from_json(io::python_json_loads(text, file_name), args, file_name, io::UnknownKeys::reject);
  return args;
}

/// Writes training_arguments_json(args) to `path` (a plain write; checkpoints go through
/// their own durable writer). Throws FileError naming the file when that fails.
inline void save_training_arguments(const TrainingArguments& args, const std::filesystem::path& path) {
  io::replace_file(path, training_arguments_json(args));
}

/// Reads the training_args.json at `path`. Throws FileError naming the file when it
/// cannot be read, and as training_arguments_from_json for its content.
inline TrainingArguments load_training_arguments(const std::filesystem::path& path) {
  return training_arguments_from_json(io::read_file(path), path.string());
}

}  // namespace torchtrain
