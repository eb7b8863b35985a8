// libFuzzer entry point for torchtrain's readers of untrusted bytes. One binary serves
// every reader (each translation unit with LibTorch's headers costs a minute to compile);
// TORCHTRAIN_FUZZ_READER picks one when the fuzzer starts: safetensors, json_arguments,
// json_lines, csv or checkpoint. tools/fuzz.sh builds and runs it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/arguments/parse_args.hpp>
#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/arguments/training_arguments_json.hpp>
#include <torchtrain/arguments/validate.hpp>
#include <torchtrain/data/csv.hpp>
#include <torchtrain/data/json_lines.hpp>
#include <torchtrain/data/json_lines_stream.hpp>
#include <torchtrain/io/safetensors.hpp>
#include <torchtrain/trainer/training_plan.hpp>

#include "checkpoint_reader.hpp"
#include "fuzz_support.hpp"

namespace tt = torchtrain;

// A user's struct beside TrainingArguments, as examples pass to parse_args: the kinds of
// field TrainingArguments has few of (a list of numbers, an optional number).
struct FuzzArguments {
  std::string data = "train.csv";
  std::vector<int> layer_sizes = {16, 8};
  std::optional<double> dropout;
  std::int64_t block_size = 128;
  bool shuffle = true;
};
TORCHTRAIN_REFLECT(FuzzArguments, data, layer_sizes, dropout, block_size, shuffle);

namespace {

using Reader = void (*)(std::string_view bytes);

// The fuzz bytes as a file named `name` in the scratch folder.
std::filesystem::path input_file(std::string_view name, std::string_view bytes) {
  auto file = fuzz::scratch_folder() / name;
  fuzz::write_bytes(file, bytes);
  return file;
}

void read_safetensors(std::string_view bytes) {
  const auto file = input_file("model.safetensors", bytes);
  fuzz::expect_only<tt::FileError>([&] { tt::io::load_safetensors(file); }, {file.string()});
}

// A config file as `program --config file.json` reads it, then as training_args.json.
void read_json_arguments(std::string_view bytes) {
  const auto file = input_file("config.json", bytes);
  const char* argv[] = {"program", "--config", file.c_str()};
  // The values then go where a run takes them: validation, and the plan that counts steps.
  fuzz::expect_only<tt::ArgumentError>(
      [&] {
        auto [args, own] = tt::parse_args<tt::TrainingArguments, FuzzArguments>(3, argv);
        tt::derive_defaults(args);
        tt::validate(args);
        tt::plan_training(args, 1000, args.gradient_accumulation_steps);
      },
      {file.string(), "--", "training set"});
  fuzz::expect_only<tt::FileError>([&] { tt::training_arguments_from_json(bytes, "training_args.json"); },
                                   {"training_args.json"});
}

// Both readers of a JSON lines file: the dataset (whole file) and the stream (line by line).
void read_json_lines(std::string_view bytes) {
  const auto file = input_file("data.jsonl", bytes);
  fuzz::expect_only<tt::data::DataError>([&] { tt::data::JsonLinesDataset dataset(file); }, {file.string()});
  fuzz::expect_only<tt::data::DataError>(
      [&] {
        tt::data::JsonLinesStream stream(file, {.inputs = "input_ids", .labels = ""});
        while (stream.next()) {
        }
      },
      {file.string()});
}

void read_csv(std::string_view bytes) {
  const auto file = input_file("data.csv", bytes);
  fuzz::expect_only<tt::data::DataError>([&] { tt::data::read_numeric_csv(file).to_tensor(); }, {file.string()});
}

Reader reader = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("TORCHTRAIN_FUZZ_READER");
  const std::string_view chosen = name ? name : "";
  if (chosen == "safetensors") reader = read_safetensors;
  else if (chosen == "json_arguments") reader = read_json_arguments;
  else if (chosen == "json_lines") reader = read_json_lines;
  else if (chosen == "csv") reader = read_csv;
  else if (chosen == "checkpoint") reader = fuzz::read_checkpoint_file;
  if (!reader) {
    std::fprintf(stderr, "set TORCHTRAIN_FUZZ_READER to safetensors, json_arguments, json_lines, csv or checkpoint "
                         "(got '%s')\n", name ? name : "");
    std::exit(2);
  }
  if (reader == fuzz::read_checkpoint_file) fuzz::prepare_checkpoint();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
