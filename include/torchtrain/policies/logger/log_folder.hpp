// LogFolder: where a file logger writes, decided as late as the arguments allow.
#pragma once

#include <filesystem>
#include <optional>
#include <utility>

#include <torchtrain/arguments/logging_dir.hpp>
#include <torchtrain/arguments/training_arguments.hpp>

namespace torchtrain {

/// The folder given to the logger's constructor; else `--logging_dir` once the trainer
/// has called `setup(args)`; else, for a logger used on its own, default_logging_dir().
class LogFolder {
 public:
  LogFolder() = default;
  explicit LogFolder(std::filesystem::path folder) : folder_(std::move(folder)) {}

  void setup(const TrainingArguments& args) {
    if (!folder_ && args.logging_dir) folder_ = *args.logging_dir;
  }

  const std::filesystem::path& path() const {
    if (!folder_) folder_ = default_logging_dir();
    return *folder_;
  }

 private:
  mutable std::optional<std::filesystem::path> folder_;  // chosen at the first use, at the latest
};

}  // namespace torchtrain
