// ResumeFrom: what train() resumes from, as the Python `resume_from_checkpoint` argument.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain {

/// Nothing (a fresh run), `true` (the latest complete checkpoint in output_dir), or a
/// checkpoint folder. From a script's `--resume_from_checkpoint`, "true" or "True" means
/// the latest and any other text is a folder: `trainer.train(args.resume_from_checkpoint)`.
class ResumeFrom {
 public:
  ResumeFrom() = default;
  ResumeFrom(bool latest) : latest_(latest) {}
  ResumeFrom(const char* folder) : ResumeFrom(std::optional<std::string>(folder)) {}
  ResumeFrom(std::string folder) : ResumeFrom(std::optional<std::string>(std::move(folder))) {}
  ResumeFrom(std::filesystem::path folder) : folder_(std::move(folder)) {}
  ResumeFrom(std::optional<std::string> argument) {
    if (!argument) return;
    if (*argument == "true" || *argument == "True")
      latest_ = true;
    else if (*argument != "false" && *argument != "False")
      folder_ = std::move(*argument);
  }

  /// As below, with the latest checkpoint in the Python layout.
  std::optional<std::filesystem::path> folder(const std::filesystem::path& output_dir) const {
    return folder(output_dir, latest_ ? latest_checkpoint(output_dir) : std::nullopt);
  }
  /// The folder to resume from, or nullopt for a fresh run; `latest` is the newest complete
  /// checkpoint the checkpointer finds in output_dir. FileError when `true` finds none.
  std::optional<std::filesystem::path> folder(const std::filesystem::path& output_dir,
                                              const std::optional<std::filesystem::path>& latest) const {
    if (folder_) return *folder_;
    if (!latest_) return std::nullopt;
    if (latest) return latest;
    throw FileError(fmt::format("No valid checkpoint found in output directory '{}': train without "
                                "--resume_from_checkpoint, or name a checkpoint folder",
                                output_dir.string()));
  }

 private:
  bool latest_ = false;
  std::optional<std::filesystem::path> folder_;
};

}  // namespace torchtrain
