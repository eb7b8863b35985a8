// EvalPrediction: what compute_metrics receives, as in the Python Trainer.
#pragma once

#include <torch/types.h>

namespace torchtrain {

/// Predictions (the model's logits, or what preprocess_logits_for_metrics made of them)
/// and label ids of a whole evaluation set, concatenated over batches and padded with -100
/// where sequence lengths differ, on the CPU (with --batch_eval_metrics: of one batch, where
/// the model ran).
/// `inputs` and `losses` are defined only when --include_for_metrics names them; `losses`
/// holds, for each sample, the loss of its batch (as Python repeats the batch loss).
struct EvalPrediction {
  torch::Tensor predictions;
  torch::Tensor label_ids;
  torch::Tensor inputs;
  torch::Tensor losses;
};

}  // namespace torchtrain
