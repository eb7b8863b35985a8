// Step overrides: the Python Trainer's compute_loss, training_step and prediction_step, as members of the object given as the Trainer's loss.
#pragma once

#include <concepts>
#include <type_traits>
#include <utility>

#include <torch/types.h>

#include <torchtrain/loss/loss.hpp>
#include <torchtrain/trainer/detail/forward.hpp>
#include <torchtrain/trainer/prediction_output.hpp>

namespace torchtrain {

/// What compute_loss returns when evaluation should take the logits from the outputs it
/// made (the Python `return_outputs=True`); returning the loss alone, evaluation runs a
/// forward of its own for them.
template <class Outputs>
struct LossAndOutputs {
  torch::Tensor loss;
  Outputs outputs;
};

/// The Python `compute_loss(model, inputs, num_items_in_batch=...)`: a member
/// `compute_loss(model, batch, num_items_in_batch)` (the loss divided by the labels of the
/// whole window, given as a tensor) or `compute_loss(model, batch)` (the batch's mean),
/// returning the loss or a LossAndOutputs.
template <class Overrides, class Model, class Batch>
concept ComputesLossCountingItems =
    requires(Overrides& overrides, Model& model, const Batch& batch, const torch::Tensor& num_items_in_batch) {
      overrides.compute_loss(model, batch, num_items_in_batch);
    };
template <class Overrides, class Model, class Batch>
concept ComputesLoss = ComputesLossCountingItems<Overrides, Model, Batch> ||
                       requires(Overrides& overrides, Model& model, const Batch& batch) {
                         overrides.compute_loss(model, batch);
                       };

/// The Python `training_step`: a member `training_step(step, batch)` that computes the loss
/// of one micro-batch as it likes (two forwards, say) and hands it to `step.backward(loss)`;
/// precision, accumulation, clipping, gradient synchronization and logs stay the Trainer's
/// (see TrainingStep for what `step` offers).
template <class Overrides, class Step, class Batch>
concept ReplacesTrainingStep = requires(Overrides& overrides, Step& step, const Batch& batch) {
  overrides.training_step(step, batch);
};

/// The Python `prediction_step`: a member `prediction_step(model, batch)` returning a
/// PredictionStepOutput, called in eval mode without autograd under the precision's
/// autocast, for every batch of evaluate() and predict() (generation, for example).
template <class Overrides, class Model, class Batch>
concept ReplacesPredictionStep = requires(Overrides& overrides, Model& model, const Batch& batch) {
  { overrides.prediction_step(model, batch) } -> std::convertible_to<PredictionStepOutput>;
};

namespace detail {

template <class Model, class Batch>
using outputs_of = std::remove_cvref_t<decltype(forward(std::declval<Model&>(), std::declval<const Batch&>()))>;

/// Whether the loss of a window is divided by its labels (num_items_in_batch), not by its
/// number of micro-batches: a compute_loss that takes the count, or a loss that does.
template <class Loss, class Model, class Batch>
inline constexpr bool counts_items = ComputesLoss<Loss, Model, Batch>
                                         ? ComputesLossCountingItems<Loss, Model, Batch>
                                         : loss::CountsItems<Loss, outputs_of<Model, Batch>, Batch>;

template <class Result>
const torch::Tensor& loss_of(const Result& result) {
  if constexpr (std::convertible_to<const Result&, const torch::Tensor&>)
    return result;
  else
    return result.loss;
}

/// The loss of one batch: compute_loss's when given, else `loss(outputs, batch)`. With
/// `num_items_in_batch` defined, a counting loss divides by it.
template <class Loss, class Model, class Batch>
auto compute_loss(Loss& loss, Model& model, const Batch& batch, const torch::Tensor& num_items_in_batch) {
  if constexpr (ComputesLoss<Loss, Model, Batch>) {
    if constexpr (ComputesLossCountingItems<Loss, Model, Batch>)
      return loss.compute_loss(model, batch, num_items_in_batch.defined() ? num_items_in_batch : loss::count_items(loss, batch));
    else
      return loss.compute_loss(model, batch);
  } else {
    auto outputs = forward(model, batch);
    torch::Tensor value;
    if constexpr (loss::CountsItems<Loss, decltype(outputs), Batch>)
      value = num_items_in_batch.defined() ? loss(outputs, batch, num_items_in_batch) : loss(outputs, batch);
    else
      value = loss(outputs, batch);
    return LossAndOutputs<decltype(outputs)>{std::move(value), std::move(outputs)};
  }
}

/// The Trainer's own prediction step: the loss when the batch has labels (a counting loss
/// divides by the batch's own count, as Python's does), and the logits of the outputs.
template <class Loss, class Model, class Batch>
PredictionStepOutput default_prediction_step(Loss& loss, Model& model, const Batch& batch) {
  PredictionStepOutput output;
  if (batch.labels.defined()) {
    const torch::Tensor count = [&] {
      if constexpr (counts_items<Loss, Model, Batch>) return loss::count_items(loss, batch);
      else return torch::Tensor();
    }();
    auto result = compute_loss(loss, model, batch, count);
    output.loss = loss_of(result);
    if constexpr (requires { result.outputs; }) {
      if constexpr (HasLogits<decltype(result.outputs)>) output.logits = logits_of(result.outputs);
      return output;
    }
  }
  // Without labels, or a compute_loss that returned the loss alone: the outputs of a forward.
  auto outputs = forward(model, batch);
  if constexpr (HasLogits<decltype(outputs)>) output.logits = logits_of(outputs);
  return output;
}

/// The prediction step of one batch: the loss object's own prediction_step when it has one
/// (ReplacesPredictionStep), else the Trainer's.
template <class Loss, class Model, class Batch>
PredictionStepOutput prediction_step(Loss& loss, Model& model, const Batch& batch) {
  if constexpr (ReplacesPredictionStep<Loss, Model, Batch>)
    return loss.prediction_step(model, batch);
  else
    return default_prediction_step(loss, model, batch);
}

/// Checks at the user's line that a member named like an override can be called as one.
template <class Overrides, class Model, class Batch>
constexpr bool check_step_overrides() {
  if constexpr (requires { &Overrides::compute_loss; })
    static_assert(ComputesLoss<Overrides, Model, Batch>,
                  "this loss's compute_loss cannot be called as compute_loss(model, batch, num_items_in_batch) or "
                  "compute_loss(model, batch) with this Trainer's model and batch types (see docs/customization.md)");
  if constexpr (requires { &Overrides::prediction_step; })
    static_assert(ReplacesPredictionStep<Overrides, Model, Batch>,
                  "this loss's prediction_step cannot be called as prediction_step(model, batch) returning a "
                  "PredictionStepOutput with this Trainer's model and batch types (see docs/customization.md)");
  return true;
}

}  // namespace detail

}  // namespace torchtrain
