// The hooks a strategy may add to StrategyPolicy's when it shards the model's training state (FSDP does), and what the others get.
#pragma once

#include <concepts>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/clip_grad_norm.hpp>
#include <torchtrain/optim/python_state_dict.hpp>

namespace torchtrain {

/// A strategy that keeps the weights and the optimizer's state in a layout of its own
/// (shards): it sets the optimizer on that layout (`prepare_optimizer(optimizer)`, once
/// per run), clips gradients by their global norm (`clip_grad_norm(parameters, max_norm)`),
/// hears that the optimizer stepped (`after_optimizer_step()`), loads whole weights
/// (`load_state_dict(model, tensors, source)`) and saves and loads the optimizer's state
/// in a checkpoint (`save_optimizer(optimizer, initial_lrs, checkpoint, folder, saves)`, a
/// collective, `folder` the checkpoint's destination; `load_optimizer(optimizer, checkpoint, folder)`). A strategy without them
/// gets strategy_hooks' defaults: the replicated model's.
template <class S>
concept ShardsTrainingState =
    requires(S& strategy, torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
             const std::vector<double>& initial_lrs, Checkpoint& checkpoint, const std::filesystem::path& folder) {
      strategy.prepare_optimizer(optimizer);
      { strategy.clip_grad_norm(parameters, 1.0) } -> std::convertible_to<torch::Tensor>;
      strategy.after_optimizer_step();
      strategy.save_optimizer(optimizer, initial_lrs, checkpoint, folder, true);
      strategy.load_optimizer(optimizer, std::as_const(checkpoint), folder);
    };

namespace strategy_hooks {

template <class Strategy>
void prepare_optimizer(Strategy& strategy, torch::optim::Optimizer& optimizer) {
  if constexpr (ShardsTrainingState<Strategy>) strategy.prepare_optimizer(optimizer);
}

template <class Strategy>
torch::Tensor clip_grad_norm(Strategy& strategy, const std::vector<torch::Tensor>& parameters, double max_norm) {
  if constexpr (ShardsTrainingState<Strategy>)
    return strategy.clip_grad_norm(parameters, max_norm);
  else
    return optim::clip_grad_norm(parameters, max_norm);
}

template <class Strategy>
void after_optimizer_step(Strategy& strategy) {
  if constexpr (ShardsTrainingState<Strategy>) strategy.after_optimizer_step();
}

/// Loads whole weights into the model (into its shards, where the strategy keeps them).
template <class Strategy, class Model>
void load_state_dict(Strategy& strategy, Model& model, const StateDict& tensors, std::string_view source) {
  if constexpr (requires { strategy.load_state_dict(model, tensors, source); })
    strategy.load_state_dict(model, tensors, source);
  else
    torchtrain::load_state_dict(*model, tensors, source);
}

/// Puts the optimizer's state into `checkpoint`, bound for `folder`, on the processes that
/// save (every process calls it): as Python's state dict (Checkpoint::optimizer_state),
/// which the checkpointer serializes where it writes (AsyncCheckpoint: off the training
/// thread), or as the bytes of an optimizer python_state_dict does not know.
template <class Strategy>
void save_optimizer(Strategy& strategy, const torch::optim::Optimizer& optimizer, const std::vector<double>& initial_lrs,
                    Checkpoint& checkpoint, const std::filesystem::path& folder, bool saves) {
  if constexpr (ShardsTrainingState<Strategy>) {
    strategy.save_optimizer(optimizer, initial_lrs, checkpoint, folder, saves);
  } else if (saves) {
    checkpoint.optimizer_state = optim::python_state_dict(optimizer, initial_lrs);
    if (!checkpoint.optimizer_state) checkpoint.optimizer = optim::optimizer_file_bytes(optimizer, initial_lrs);
  }
}

/// Restores the optimizer's state from a checkpoint read from `folder`.
template <class Strategy>
void load_optimizer(Strategy& strategy, torch::optim::Optimizer& optimizer, const Checkpoint& checkpoint,
                    const std::filesystem::path& folder) {
  if constexpr (ShardsTrainingState<Strategy>) {
    strategy.load_optimizer(optimizer, checkpoint, folder);
  } else {
    if (checkpoint.optimizer.empty() && !checkpoint.optimizer_shards.empty())
      throw FileError(fmt::format("'{}' holds the optimizer's state in {} shards (it was saved by a Trainer<FSDP>); "
                                  "resume it with Trainer<FSDP>",
                                  folder.string(), checkpoint.optimizer_shards.size()));
    optim::load_optimizer_file(optimizer, checkpoint.optimizer, (folder / Checkpoint::optimizer_file).string());
  }
}

}  // namespace strategy_hooks

}  // namespace torchtrain
