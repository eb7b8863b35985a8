// The checkpoint reader: a valid checkpoint with one file replaced by the fuzz bytes, resumed
// by a real Trainer, so that every file a resume parses (the manifest, model.safetensors,
// trainer_state.json, the torch.save files, loop_state.pt) is reached as a run reaches it.
#include "checkpoint_reader.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torchtrain/torchtrain.hpp>

#include "fuzz_support.hpp"

namespace tt = torchtrain;
namespace fs = std::filesystem;

namespace fuzz {
namespace {

// The files of the valid checkpoint, by name; the selector byte indexes this list.
const std::vector<std::string> fuzzed_files = {
    tt::Checkpoint::model_file,    tt::Checkpoint::trainer_state_file, tt::Checkpoint::optimizer_file,
    tt::Checkpoint::scheduler_file, tt::Checkpoint::rng_state_file,     tt::Checkpoint::loop_state_file,
    tt::Checkpoint::manifest_file,  tt::Checkpoint::training_args_file};
constexpr unsigned keep_manifest = 0x10;
constexpr unsigned python_layout = 0x20;

std::map<std::string, std::string> valid_files;

// A logger that prints nothing: the console logger's thread and lines would cost each run
// more than the resume.
struct Silent {
  using torchtrain_category = tt::category::logger;
  void log(const tt::Metrics&, const tt::TrainerState&) {}
  void log_metrics(std::string_view, const tt::Metrics&) {}
};
using Trainer = tt::Trainer<Silent>;

tt::data::TensorDataset training_data() {
  torch::manual_seed(1);
  return {torch::randn({16, 4}), torch::randint(3, {16})};
}

tt::TrainingArguments arguments(const fs::path& output_dir) {
  return {.output_dir = output_dir.string(),
          .max_steps = 2,
          .per_device_train_batch_size = 4,
          .logging_steps = 1,
          .log_level = tt::LogLevel::error,
          .save_steps = 2};
}

// Resumes a run of the checkpoint's model and arguments from `folder` (at its last step,
// so that nothing trains after the resume).
void resume(const fs::path& folder) {
  torch::manual_seed(7);
  auto args = arguments(scratch_folder() / "resumed");
  args.save_strategy = tt::SaveStrategy::no;
  Trainer trainer(torch::nn::Linear(4, 3), args, training_data(), tt::data::NoDataset{},
                        tt::loss::cross_entropy);
  trainer.train(folder);
}

}  // namespace

void prepare_checkpoint() {
  tt::set_verbosity(tt::LogLevel::error);
  const auto output_dir = scratch_folder() / "trained";
  torch::manual_seed(7);
  Trainer trainer(torch::nn::Linear(4, 3), arguments(output_dir), training_data(), tt::data::NoDataset{},
                        tt::loss::cross_entropy);
  trainer.train();
  for (const auto& entry : fs::directory_iterator(tt::checkpoint_folder(output_dir, 2)))
    valid_files[entry.path().filename().string()] = read_bytes(entry.path());
  for (const auto& name : fuzzed_files)
    if (!valid_files.contains(name)) fail("the trained checkpoint lacks a file", name);
  resume(tt::checkpoint_folder(output_dir, 2));  // the valid checkpoint resumes
  if (const char* seeds = std::getenv("TORCHTRAIN_FUZZ_WRITE_SEEDS")) {
    fs::create_directories(seeds);
    for (std::size_t i = 0; i < fuzzed_files.size(); ++i)
      write_bytes(fs::path(seeds) / ("valid-" + fuzzed_files[i]),
                  std::string(1, static_cast<char>(i)) + valid_files[fuzzed_files[i]]);
  }
}

void read_checkpoint_file(std::string_view bytes) {
  if (bytes.empty()) return;
  const auto selector = static_cast<unsigned char>(bytes[0]);
  const auto& fuzzed = fuzzed_files[(selector & 0x0f) % fuzzed_files.size()];
  bytes.remove_prefix(1);

  const auto folder = scratch_folder() / "checkpoint-2";
  fs::remove_all(folder);
  fs::create_directories(folder);
  for (const auto& [name, content] : valid_files) write_bytes(folder / name, name == fuzzed ? bytes : content);
  if (selector & python_layout) {
    fs::remove(folder / tt::Checkpoint::manifest_file);
    write_bytes(folder / tt::Checkpoint::python_training_args_file, "a pickled TrainingArguments");
  } else if (!(selector & keep_manifest) && fuzzed != tt::Checkpoint::manifest_file) {
    // The manifest vouches for the new bytes, so that they reach the file's own reader.
    auto manifest = nlohmann::json::parse(valid_files[tt::Checkpoint::manifest_file]);
    const auto written = tt::io::checksum_file(folder / fuzzed);
    manifest[fuzzed] = {{"size", written.size}, {"crc32", written.crc32}};
    write_bytes(folder / tt::Checkpoint::manifest_file, manifest.dump(2));
  }
  expect_only<tt::FileError, tt::ArgumentError>([&] { resume(folder); }, {folder.string()});
}

}  // namespace fuzz
