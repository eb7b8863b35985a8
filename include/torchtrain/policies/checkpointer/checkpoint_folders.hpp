// HuggingFaceFolders: finding and reading checkpoints in the Python Trainer's layout, shared by the built-in checkpointers.
#pragma once

#include <filesystem>
#include <optional>
#include <utility>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/checkpoint_folders.hpp>

namespace torchtrain {

/// Where the built-in checkpointers put, find and read checkpoints: `checkpoint-<step>`
/// folders in output_dir (or in the folder they were given: `SyncCheckpoint("ckpt")`), in
/// the Python Trainer's layout, whose checkpoints they also read, every file's CRC checked
/// against the manifest.
class HuggingFaceFolders {
 public:
  HuggingFaceFolders() = default;
  /// Checkpoints in `folder` rather than in output_dir.
  explicit HuggingFaceFolders(std::filesystem::path folder) : folder_(std::move(folder)) {}

  /// The folder of the checkpoint at `step`.
  std::filesystem::path folder_for(const std::filesystem::path& output_dir, int step) const {
    return checkpoint_folder(folder_.value_or(output_dir), step);
  }
  /// The newest complete checkpoint, if any.
  std::optional<std::filesystem::path> latest(const std::filesystem::path& output_dir) const {
    return latest_checkpoint(folder_.value_or(output_dir));
  }
  /// The checkpoint in `folder` (only the weights with `model_only`); FileError naming the
  /// file that is missing or corrupt.
  Checkpoint read(const std::filesystem::path& folder, bool model_only) const {
    return read_checkpoint(folder, model_only);
  }

 private:
  std::optional<std::filesystem::path> folder_;
};

}  // namespace torchtrain
