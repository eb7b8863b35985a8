// loop_state.pt: what a checkpoint keeps of the loop itself (the running loss, where the epoch stands), compiled once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/trainer/training_data.hpp>
#include <torchtrain/trainer/training_progress.hpp>

namespace torchtrain {

/// The bytes of loop_state.pt: `progress`'s running loss and `position`, the epoch and the
/// batches of it taken.
TORCHTRAIN_INLINE std::string loop_state_bytes(const TrainingProgress& progress, const EpochPosition& position);

/// Restores `progress` (its tensors onto `device`) from loop_state.pt's `bytes` and returns
/// the epoch position saved, when the file holds one. Throws FileError naming `file_name`
/// when the bytes are no archive, lack a value, or hold a position no run reaches.
TORCHTRAIN_INLINE std::optional<EpochPosition> load_loop_state(std::string_view bytes, std::string_view file_name,
                                                               TrainingProgress& progress, torch::Device device);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdint>
#include <limits>

#include <fmt/format.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/archive_bytes.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE std::string loop_state_bytes(const TrainingProgress& progress, const EpochPosition& position) {
  torch::serialize::OutputArchive archive;
  progress.save(archive);
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(position.epoch)));
  archive.write("epoch_batches_taken", c10::IValue(position.batches_taken));
  return io::archive_bytes(archive);
}

TORCHTRAIN_INLINE std::optional<EpochPosition> load_loop_state(std::string_view bytes, std::string_view file_name,
                                                               TrainingProgress& progress, torch::Device device) {
  std::optional<EpochPosition> position;
  io::read_archive(bytes, file_name, [&](torch::serialize::InputArchive& archive) {
    progress.load(archive, device);
    c10::IValue epoch, batches_taken;
    if (!archive.try_read("epoch", epoch) || !archive.try_read("epoch_batches_taken", batches_taken)) return;
    const std::int64_t saved_epoch = epoch.toInt(), taken = batches_taken.toInt();
    // Checked for meaning: a stream resumed at a negative epoch or count would train what
    // the run never planned.
    const auto refuse = [&](const char* key, std::int64_t value) {
      throw FileError(fmt::format("cannot restore from '{}': {}", file_name, no_run_reaches(key, std::to_string(value))));
    };
    if (saved_epoch < 0 || saved_epoch > std::numeric_limits<int>::max()) refuse("epoch", saved_epoch);
    if (taken < 0) refuse("epoch_batches_taken", taken);
    position = EpochPosition{static_cast<int>(saved_epoch), taken};
  });
  return position;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
