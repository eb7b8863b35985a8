// Checkpoint folders in output_dir: their names, which is the latest, and rotation that keeps the best.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// `output_dir/checkpoint-<step>`, as the Python Trainer names its checkpoints.
TORCHTRAIN_INLINE std::filesystem::path checkpoint_folder(const std::filesystem::path& output_dir, int step);

/// The step of a folder named `checkpoint-<step>`; nullopt for any other name (including
/// the `tmp-checkpoint-<step>` folders of saves in progress).
TORCHTRAIN_INLINE std::optional<int> checkpoint_step(const std::filesystem::path& folder);

/// The checkpoint folders in output_dir by step, oldest first, with `best` (when it is
/// one of them) moved to the second-to-last place so that rotation, which deletes from
/// the front, never takes it: the Python Trainer's `_sorted_checkpoints`.
TORCHTRAIN_INLINE std::vector<std::filesystem::path> sorted_checkpoints(const std::filesystem::path& output_dir,
                                                                        const std::optional<std::string>& best = {});

/// What a checkpoint folder is renamed to, in front of its name, while rotation deletes it.
inline constexpr std::string_view deleting_prefix = "deleting-";

/// Deletes the oldest checkpoints beyond `save_total_limit`, never the best one; with a
/// limit of 1 and a best checkpoint that is not the newest, two are kept (the newest, to
/// resume from, and the best). A limit that is absent or not positive keeps everything.
TORCHTRAIN_INLINE void rotate_checkpoints(const std::filesystem::path& output_dir, std::optional<int> save_total_limit,
                                          const std::optional<std::string>& best);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace torchtrain {

TORCHTRAIN_INLINE std::filesystem::path checkpoint_folder(const std::filesystem::path& output_dir, int step) {
  return output_dir / fmt::format("checkpoint-{}", step);
}

TORCHTRAIN_INLINE std::optional<int> checkpoint_step(const std::filesystem::path& folder) {
  constexpr std::string_view prefix = "checkpoint-";
  const std::string name = folder.filename().string();
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  int step = 0;
  const char* last = name.data() + name.size();
  auto [end, error] = std::from_chars(name.data() + prefix.size(), last, step);
  if (error != std::errc{} || end != last) return std::nullopt;
  return step;
}

TORCHTRAIN_INLINE std::vector<std::filesystem::path> sorted_checkpoints(const std::filesystem::path& output_dir,
                                                                        const std::optional<std::string>& best) {
  std::vector<std::pair<int, std::filesystem::path>> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(output_dir, error))
    if (auto step = checkpoint_step(entry.path()); step && entry.is_directory(error)) found.emplace_back(*step, entry.path());
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> folders;
  for (auto& [step, folder] : found) folders.push_back(std::move(folder));
  if (best) {
    auto it = std::find_if(folders.begin(), folders.end(), [&](const auto& folder) {
      return std::filesystem::equivalent(folder, *best, error);
    });
    for (; it != folders.end() && folders.end() - it > 2; ++it) std::iter_swap(it, it + 1);
  }
  return folders;
}

TORCHTRAIN_INLINE void rotate_checkpoints(const std::filesystem::path& output_dir, std::optional<int> save_total_limit,
                                          const std::optional<std::string>& best) {
  if (!save_total_limit || *save_total_limit <= 0) return;
  const auto folders = sorted_checkpoints(output_dir, best);
  std::size_t keep = static_cast<std::size_t>(*save_total_limit);
  std::error_code error;
  if (best && keep == 1 && !folders.empty() && !std::filesystem::equivalent(folders.back(), *best, error)) keep = 2;
  // Renamed first, then deleted: a process killed while deleting leaves a folder that is
  // no longer named as a checkpoint (a half-deleted one would still hold its manifest and
  // pass for complete). The next rotation sweeps such leftovers.
  std::vector<std::filesystem::path> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(output_dir, error))
    if (entry.path().filename().string().starts_with(deleting_prefix)) leftovers.push_back(entry.path());
  for (const auto& leftover : leftovers) std::filesystem::remove_all(leftover, error);
  for (std::size_t i = 0; i + keep < folders.size(); ++i) {
    const auto doomed = folders[i].parent_path() / (std::string(deleting_prefix) + folders[i].filename().string());
    std::filesystem::rename(folders[i], doomed, error);
    std::filesystem::remove_all(error ? folders[i] : doomed, error);
  }
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
