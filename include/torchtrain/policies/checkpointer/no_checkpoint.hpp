// NoCheckpoint: a checkpointer policy that writes nothing.
#pragma once

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/checkpoint_folders.hpp>

namespace torchtrain {

/// Checkpointer policy that ignores save requests (Lightning's `enable_checkpointing=False`);
/// --load_best_model_at_end is an error with it, since no checkpoint would hold the best.
class NoCheckpoint : public HuggingFaceFolders {
 public:
  using HuggingFaceFolders::HuggingFaceFolders;
  using torchtrain_category = category::checkpointer;
  static constexpr bool writes_checkpoints = false;

  void save(Checkpoint, const SaveRequest&) {}
  void wait() {}
};

}  // namespace torchtrain
