// Checkpoint: a sub-module whose activations are recomputed in backward instead of kept (gradient checkpointing).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::nn {

/// Wraps a sub-module, `Checkpoint(Block(...))`, so that with gradient checkpointing on
/// (`--gradient_checkpointing`, set by the Trainer) and in training mode, its activations
/// are not kept for backward: its forward runs again during backward. Gradients are the
/// same, memory is lower, compute is about one more forward of the block. The wrapped
/// module's forward takes and returns one tensor; it is registered as `module`.
class CheckpointImpl : public torch::nn::Module {
 public:
  template <class ModuleHolder>
  explicit CheckpointImpl(ModuleHolder inner) : inner_(inner) {
    register_module("module", inner.ptr());
  }

  torch::Tensor forward(const torch::Tensor& input);

  bool enabled = false;

 private:
  torch::nn::AnyModule inner_;
};
TORCH_MODULE(Checkpoint);

/// Turns gradient checkpointing on or off for every Checkpoint inside `model`.
TORCHTRAIN_INLINE void set_gradient_checkpointing(torch::nn::Module& model, bool enabled);

}  // namespace torchtrain::nn

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/Context.h>
#include <torch/autograd.h>

#include <torchtrain/detail/autocast.hpp>

namespace torchtrain::nn {

namespace detail {

// Runs a module's forward without keeping its activations; backward runs the forward again
// (same random state, same autocast) and differentiates that. The module's parameters are
// inputs of the function, so they get gradients even when the input needs none.
struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& input,
                               torch::nn::AnyModule* module, at::TensorList parameters) {
    const auto device = input.device().type();
    context->saved_data["module"] = reinterpret_cast<std::int64_t>(module);
    context->saved_data["random_state"] = at::globalContext().defaultGenerator(input.device()).get_state();
    context->saved_data["autocast"] = at::autocast::is_autocast_enabled(device);
    context->saved_data["autocast_dtype"] = at::autocast::get_autocast_dtype(device);
    context->saved_data["parameter_count"] = static_cast<std::int64_t>(parameters.size());
    torch::autograd::variable_list saved{input};
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    context->save_for_backward(saved);
    torch::NoGradGuard no_grad;
    return module->forward(input);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list output_gradients) {
    auto saved = context->get_saved_variables();
    auto input = saved[0].detach().requires_grad_(saved[0].requires_grad());
    auto* module = reinterpret_cast<torch::nn::AnyModule*>(context->saved_data["module"].toInt());

    // Recompute under the forward's random state and autocast, then put the state back.
    auto generator = at::globalContext().defaultGenerator(input.device());
    const auto current_state = generator.get_state();
    generator.set_state(context->saved_data["random_state"].toTensor());
    torch::Tensor output;
    {
      torch::AutoGradMode enable_grad(true);
      std::optional<torchtrain::detail::AutocastScope> autocast;
      if (context->saved_data["autocast"].toBool())
        autocast.emplace(input.device().type(), context->saved_data["autocast_dtype"].toScalarType());
      output = module->forward(input);
    }
    generator.set_state(current_state);

    torch::autograd::variable_list inputs{input};
    inputs.insert(inputs.end(), saved.begin() + 1, saved.end());
    std::vector<std::size_t> wanted;  // indices of the inputs that need a gradient
    torch::autograd::variable_list targets;
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].requires_grad()) {
        wanted.push_back(i);
        targets.push_back(inputs[i]);
      }
    auto gradients = torch::autograd::grad({output}, targets, {output_gradients[0]},
                                           /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    // One gradient per input of forward: the tensor, the module (none), each parameter.
    torch::autograd::variable_list result(inputs.size() + 1);
    for (std::size_t k = 0; k < wanted.size(); ++k) result[wanted[k] == 0 ? 0 : wanted[k] + 1] = gradients[k];
    return result;
  }
};

}  // namespace detail

TORCHTRAIN_INLINE torch::Tensor CheckpointImpl::forward(const torch::Tensor& input) {
  if (!enabled || !is_training() || !torch::GradMode::is_enabled()) return inner_.forward(input);
  const auto parameters = inner_.ptr()->parameters();
  return detail::CheckpointFunction::apply(input, &inner_, at::TensorList(parameters));
}

TORCHTRAIN_INLINE void set_gradient_checkpointing(torch::nn::Module& model, bool enabled) {
  for (const auto& module : model.modules(/*include_self=*/true))
    if (auto* checkpoint = dynamic_cast<CheckpointImpl*>(module.get())) checkpoint->enabled = enabled;
}

}  // namespace torchtrain::nn

#endif  // TORCHTRAIN_DEFINITIONS
