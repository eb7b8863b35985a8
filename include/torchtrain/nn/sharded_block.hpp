// ShardedBlock: a block of a model that a sharded strategy gathers whole for its forward and its backward only (FSDP's unit).
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/block_sharding.hpp>

namespace torchtrain::nn {

namespace detail {

// The identity on a block's output whose backward first has `hooks` gather the block's
// parameters again (see GatherBeforeBackward).
TORCHTRAIN_INLINE torch::Tensor gather_before_backward(const torch::Tensor& output,
                                                       const std::shared_ptr<distributed::BlockShardingHooks>& hooks);

}  // namespace detail

/// A block (a transformer layer, say) wrapped so that a sharded strategy (FSDP with
/// full_shard) holds its parameters whole only during its forward and its backward: peak
/// memory holds one block's parameters, not the model's. It takes the block's parameters,
/// buffers and submodules under their own names, so the model's state dict is unchanged,
/// and its forward is the block's. Write `ShardedBlock<Block>(Block(...))` where the model
/// registers the block; the block's forward must return a tensor. Without a sharded
/// strategy it is the block and nothing more.
template <class Block>
class ShardedBlockImpl : public distributed::ShardedBlockBase {
 public:
  explicit ShardedBlockImpl(Block block) : block_(std::move(block)) {
    for (const auto& child : block_->named_children()) register_module(child.key(), child.value());
    for (const auto& parameter : block_->named_parameters(/*recurse=*/false))
      register_parameter(parameter.key(), parameter.value(), parameter.value().requires_grad());
    for (const auto& buffer : block_->named_buffers(/*recurse=*/false)) register_buffer(buffer.key(), buffer.value());
  }

  template <class... Inputs>
  torch::Tensor forward(Inputs&&... inputs) {
    if (!hooks_) return block_->forward(std::forward<Inputs>(inputs)...);
    const bool gathered = hooks_->before_forward();
    torch::Tensor output;
    try {
      output = block_->forward(std::forward<Inputs>(inputs)...);
    } catch (...) {
      hooks_->after_forward(gathered);
      throw;
    }
    hooks_->after_forward(gathered);
    if (!output.requires_grad()) return output;
    return detail::gather_before_backward(output, hooks_);
  }

  /// The block's own training flag follows too (its submodules' are the wrapper's already).
  void train(bool on = true) override {
    torch::nn::Module::train(on);
    block_->train(on);
  }

  const torch::nn::Module& block() const override { return *block_; }
  Block& wrapped() { return block_; }

 private:
  Block block_;
};

template <class Block>
class ShardedBlock : public torch::nn::ModuleHolder<ShardedBlockImpl<Block>> {
 public:
  using torch::nn::ModuleHolder<ShardedBlockImpl<Block>>::ModuleHolder;
  /// The wrapped block's forward (ModuleHolder's call cannot see through a template forward).
  template <class... Inputs>
  torch::Tensor operator()(Inputs&&... inputs) {
    return this->get()->forward(std::forward<Inputs>(inputs)...);
  }
};

}  // namespace torchtrain::nn

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torch/csrc/autograd/custom_function.h>

namespace torchtrain::nn::detail {

// Keeps the hooks alive in an autograd context.
struct HooksCapsule : torch::CustomClassHolder {
  explicit HooksCapsule(std::shared_ptr<distributed::BlockShardingHooks> hooks) : hooks(std::move(hooks)) {}
  std::shared_ptr<distributed::BlockShardingHooks> hooks;
};

// The identity on a block's output; its backward runs just before the block's own, so
// it is where the block's parameters are gathered again. (LibTorch modules have no hooks.)
struct GatherBeforeBackward : torch::autograd::Function<GatherBeforeBackward> {
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& output,
                               const c10::intrusive_ptr<HooksCapsule>& hooks) {
    context->saved_data["hooks"] = c10::IValue::make_capsule(hooks);
    return output.view_as(output);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list gradients) {
    auto capsule = context->saved_data["hooks"].toCapsule();
    static_cast<HooksCapsule*>(capsule.get())->hooks->before_backward();
    return {gradients[0], torch::Tensor()};
  }
};

TORCHTRAIN_INLINE torch::Tensor gather_before_backward(const torch::Tensor& output,
                                                       const std::shared_ptr<distributed::BlockShardingHooks>& hooks) {
  return GatherBeforeBackward::apply(output, c10::make_intrusive<HooksCapsule>(hooks));
}

}  // namespace torchtrain::nn::detail

#endif  // TORCHTRAIN_DEFINITIONS
