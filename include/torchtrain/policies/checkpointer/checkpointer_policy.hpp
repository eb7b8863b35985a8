// CheckpointerPolicy: what a checkpointer writes, finds and reads, checked where the Trainer is named.
#pragma once

#include <concepts>
#include <filesystem>
#include <optional>
#include <utility>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// A checkpointer policy (see docs/policies.md): `writes_checkpoints` (false for one that
/// never writes, which --load_best_model_at_end refuses); `save(checkpoint, request)`, on
/// the processes that save, when the flow asks for a save; `wait()`, which returns once
/// every save is on disk and rethrows a save's error; `folder_for(output_dir, step)`, where
/// the checkpoint of a step goes; `latest(output_dir)`, the checkpoint
/// `resume_from_checkpoint=true` resumes from; `read(folder, model_only)`, a checkpoint
/// back in memory (HuggingFaceFolders gives the last two for the Python layout).
template <class C>
concept CheckpointerPolicy =
    PolicyOf<C, category::checkpointer> &&
    requires(C& checkpointer, const C& reader, Checkpoint checkpoint, const SaveRequest& request,
             const std::filesystem::path& folder) {
      { C::writes_checkpoints } -> std::convertible_to<bool>;
      checkpointer.save(std::move(checkpoint), request);
      checkpointer.wait();
      { reader.folder_for(folder, 1) } -> std::convertible_to<std::filesystem::path>;
      { reader.latest(folder) } -> std::convertible_to<std::optional<std::filesystem::path>>;
      { reader.read(folder, true) } -> std::convertible_to<Checkpoint>;
    };

/// A checkpointer that may copy a save's tensors after save() returns, beside the next
/// steps, when SaveRequest::copy_beside_training asks it to (AsyncCheckpoint):
/// `wait_for_copy()` returns once the last save's tensors are copied, and the Trainer calls
/// it before it changes them (before the optimizer's step, before a callback is given the
/// model). A checkpointer without it has copied or written them when save() returns.
template <class C>
concept CopiesBesideTraining = CheckpointerPolicy<C> && requires(C& checkpointer) { checkpointer.wait_for_copy(); };

namespace checkpointer_hooks {

template <class Checkpointer>
void wait_for_copy(Checkpointer& checkpointer) {
  if constexpr (CopiesBesideTraining<Checkpointer>) checkpointer.wait_for_copy();
}

}  // namespace checkpointer_hooks

namespace detail {

template <class C>
constexpr bool check_checkpointer_policy() {
  static_assert(requires { { C::writes_checkpoints } -> std::convertible_to<bool>; },
                "torchtrain: this checkpointer policy (C below) has no `static constexpr bool writes_checkpoints`");
  static_assert(requires(C& c, Checkpoint checkpoint, const SaveRequest& request) {
                  c.save(std::move(checkpoint), request);
                },
                "torchtrain: this checkpointer policy (C below) has no `void save(Checkpoint, const SaveRequest&)`");
  static_assert(requires(C& c) { c.wait(); },
                "torchtrain: this checkpointer policy (C below) has no `void wait()` (return once every save is on "
                "disk)");
  static_assert(requires(const C& c, const std::filesystem::path& output_dir) {
                  { c.folder_for(output_dir, 1) } -> std::convertible_to<std::filesystem::path>;
                },
                "torchtrain: this checkpointer policy (C below) has no `std::filesystem::path folder_for(const "
                "std::filesystem::path& output_dir, int step) const` (derive from HuggingFaceFolders for the Python "
                "layout)");
  static_assert(requires(const C& c, const std::filesystem::path& output_dir) {
                  { c.latest(output_dir) } -> std::convertible_to<std::optional<std::filesystem::path>>;
                },
                "torchtrain: this checkpointer policy (C below) has no `std::optional<std::filesystem::path> "
                "latest(const std::filesystem::path& output_dir) const` (derive from HuggingFaceFolders for the "
                "Python layout)");
  static_assert(requires(const C& c, const std::filesystem::path& folder) {
                  { c.read(folder, true) } -> std::convertible_to<Checkpoint>;
                },
                "torchtrain: this checkpointer policy (C below) has no `Checkpoint read(const std::filesystem::path& "
                "folder, bool model_only) const` (derive from HuggingFaceFolders for the Python layout)");
  return CheckpointerPolicy<C>;
}

}  // namespace detail

}  // namespace torchtrain
