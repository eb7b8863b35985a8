// Block sharding: what a sharded strategy does around a wrapped block's passes, and the base by which it finds the wrapped blocks.
#pragma once

#include <memory>
#include <utility>

#include <torch/nn/module.h>

namespace torchtrain::distributed {

/// What a sharded strategy does around a wrapped block's passes; it sets them at setup
/// (without a sharded strategy a wrapped block is its block and nothing more).
class BlockShardingHooks {
 public:
  virtual ~BlockShardingHooks() = default;
  /// Before the block's forward: makes its parameters whole; true when this call gathered them.
  virtual bool before_forward() = 0;
  /// After the block's forward, given before_forward's answer: frees what it gathered.
  virtual void after_forward(bool gathered) = 0;
  /// When backward reaches the block's output: makes its parameters whole for its backward.
  virtual void before_backward() = 0;
};

/// The base of every nn::ShardedBlock, by which a sharded strategy finds them among a
/// model's modules (each is a unit of its own).
class ShardedBlockBase : public torch::nn::Module {
 public:
  void set_sharding_hooks(std::shared_ptr<BlockShardingHooks> hooks) { hooks_ = std::move(hooks); }
  /// The wrapped block (for its type's name: fsdp_config's transformer_layer_cls_to_wrap).
  virtual const torch::nn::Module& block() const = 0;

 protected:
  std::shared_ptr<BlockShardingHooks> hooks_;
};

}  // namespace torchtrain::distributed
