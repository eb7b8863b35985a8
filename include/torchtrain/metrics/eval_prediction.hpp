// EvalPrediction: what compute_metrics receives, as in the Python Trainer.
#pragma once

#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// Predictions (the model's logits, or what preprocess_logits_for_metrics made of them)
/// and label ids of a whole evaluation set, concatenated over batches and padded with -100
/// where sequence lengths differ, on the CPU (with --batch_eval_metrics: of one batch, where
/// the model ran).
/// `inputs` and `losses` are defined only when --include_for_metrics names them; `losses`
/// holds, for each sample, the loss of its batch (as Python repeats the batch loss).
/// With --eval_do_concat_batches false, the Python Trainer's lists: `batches` holds each
/// batch's outputs in order (on the CPU; with several processes, batch k of every process
/// together) and the four tensors are undefined.
struct EvalPrediction {
  torch::Tensor predictions;
  torch::Tensor label_ids;
  torch::Tensor inputs;
  torch::Tensor losses;
  std::vector<EvalPrediction> batches;
};

/// `prediction` with its `batches` joined as the Trainer joins them otherwise (padded with
/// -100 where sequence lengths differ); `prediction` itself when it has none. The built-in
/// metrics take either through it.
TORCHTRAIN_INLINE EvalPrediction concatenated(const EvalPrediction& prediction);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torchtrain/detail/eval_loop_container.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE EvalPrediction concatenated(const EvalPrediction& prediction) {
  if (prediction.batches.empty()) return prediction;
  EvalPrediction joined;
  const auto join = [&](torch::Tensor EvalPrediction::*part) {
    std::vector<torch::Tensor> parts;
    for (const auto& batch : prediction.batches)
      if ((batch.*part).defined()) parts.push_back(batch.*part);
    joined.*part = parts.empty() ? torch::Tensor() : detail::pad_and_concatenate(parts);
  };
  for (auto part : {&EvalPrediction::predictions, &EvalPrediction::label_ids, &EvalPrediction::inputs,
                    &EvalPrediction::losses})
    join(part);
  return joined;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
