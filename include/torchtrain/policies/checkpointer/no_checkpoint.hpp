// NoCheckpoint: a checkpointer policy that writes nothing.
#pragma once

#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Checkpointer policy that ignores save requests (Lightning's `enable_checkpointing=False`).
/// A checkpointer offers `save(loop)`, called when the flow asks for a save; the loop gives
/// access to the model, optimizer, scheduler, precision, arguments and state.
struct NoCheckpoint {
  using torchtrain_category = category::checkpointer;

  template <class TrainingLoop>
  void save(TrainingLoop&) {}
};

}  // namespace torchtrain
