// EvalPrediction: what compute_metrics receives, as in the Python Trainer.
#pragma once

#include <torch/types.h>

namespace torchtrain {

/// Predictions (the model's logits, or what preprocess_logits_for_metrics made of them)
/// and label ids of a whole evaluation set, concatenated over batches, on the CPU.
struct EvalPrediction {
  torch::Tensor predictions;
  torch::Tensor label_ids;
};

}  // namespace torchtrain
