// HuggingFaceFolders: finding and reading checkpoints in the Python Trainer's layout, shared by the built-in checkpointers.
#pragma once

#include <filesystem>
#include <optional>

#include <torchtrain/checkpoint/checkpoint.hpp>

namespace torchtrain {

/// How the built-in checkpointers find and read checkpoints: `checkpoint-<step>` folders
/// in output_dir (the Python Trainer's, whose checkpoints they also read), every file's
/// CRC checked against the manifest.
struct HuggingFaceFolders {
  /// The newest complete checkpoint in `output_dir`, if any.
  std::optional<std::filesystem::path> latest(const std::filesystem::path& output_dir) const {
    return latest_checkpoint(output_dir);
  }
  /// The checkpoint in `folder` (only the weights with `model_only`); FileError naming the
  /// file that is missing or corrupt.
  Checkpoint read(const std::filesystem::path& folder, bool model_only) const {
    return read_checkpoint(folder, model_only);
  }
};

}  // namespace torchtrain
