// main_input: the tensor of a batch that Python's Trainer calls the model's main input.
#pragma once

#include <torch/types.h>

namespace torchtrain::detail {

/// `batch.input_ids` (TokenBatch and its kind) or `batch.inputs` (Batch): what Python's
/// `main_input_name` names, which num_input_tokens_seen and total_flos count. Not
/// declared for a batch with neither, so that `requires { main_input(batch); }` tells.
template <class Batch>
  requires requires(const Batch& batch) { torch::Tensor(batch.input_ids); }
const torch::Tensor& main_input(const Batch& batch) {
  return batch.input_ids;
}
template <class Batch>
  requires(requires(const Batch& batch) { torch::Tensor(batch.inputs); } &&
           !requires(const Batch& batch) { torch::Tensor(batch.input_ids); })
const torch::Tensor& main_input(const Batch& batch) {
  return batch.inputs;
}

}  // namespace torchtrain::detail
