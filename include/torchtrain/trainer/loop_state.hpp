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
/// when the bytes are no archive or lack a value.
TORCHTRAIN_INLINE std::optional<EpochPosition> load_loop_state(std::string_view bytes, std::string_view file_name,
                                                               TrainingProgress& progress, torch::Device device);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdint>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

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
    if (archive.try_read("epoch", epoch) && archive.try_read("epoch_batches_taken", batches_taken))
      position = EpochPosition{static_cast<int>(epoch.toInt()), batches_taken.toInt()};
  });
  return position;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
