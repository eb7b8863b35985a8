// SyncCheckpoint: the default checkpointer, writing the Python Trainer's layout before training goes on.
#pragma once

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/checkpoint_folders.hpp>

namespace torchtrain {

/// Checkpointer policy that writes each checkpoint (model.safetensors, optimizer,
/// scheduler, scaler and random state, trainer_state.json, training_args.json) and
/// rotates old ones before the next step starts.
class SyncCheckpoint : public HuggingFaceFolders {
 public:
  using HuggingFaceFolders::HuggingFaceFolders;
  using torchtrain_category = category::checkpointer;
  static constexpr bool writes_checkpoints = true;

  void save(Checkpoint checkpoint, const SaveRequest& request) { save_checkpoint(checkpoint, request); }
  void wait() {}
};

}  // namespace torchtrain
