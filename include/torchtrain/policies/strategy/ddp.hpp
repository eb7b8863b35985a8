// DDP: distributed data parallel over c10d, one process per device (Gloo on the CPU, NCCL on CUDA).
#pragma once

#include <cstddef>
#include <memory>

#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/distributed/detail/gradient_buckets.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/strategy/detail/process_group_strategy.hpp>

namespace torchtrain {

/// Strategy policy: a replica of the model in every process of the run, each training on
/// its shard of every global batch, with gradients averaged so the replicas stay equal.
///
/// The hooks are those of every strategy (StrategyPolicy). At setup the process joins the run's
/// process group (torchrun, Slurm or Open MPI variables; see distributed::read_environment;
/// world size 1 without them), moves the model to its device (cuda:LOCAL_RANK when CUDA
/// is used, else the CPU) and copies rank 0's parameters and buffers to every rank.
/// Gradients are averaged by bucketed all-reduces that overlap backward (--ddp_bucket_cap_mb,
/// 25 MB as PyTorch DDP); inside gradient_sync(false) nothing is reduced. Rank 0's buffers
/// (BatchNorm's running statistics) are copied again before each training forward and
/// each evaluation (unless --ddp_broadcast_buffers false).
class DDP : public detail::ProcessGroupStrategy {
 public:
  using torchtrain_category = category::strategy;
  static constexpr int default_bucket_cap_mb = 25;  // PyTorch DDP's

  /// Turns the all-reduce of the backward passes in its lifetime on or off, then restores.
  using GradientSyncScope = detail::GradientSyncScope<distributed::detail::GradientBuckets>;

  /// Joins the process group (--ddp_backend, --ddp_timeout), places the model, makes the
  /// replicas equal and hooks the gradient all-reduce into backward.
  template <class Model>
  void setup(Model& model, const TrainingArguments& args) {
    if (!join(model, args)) return;
    const auto bucket_bytes = static_cast<std::size_t>(args.ddp_bucket_cap_mb.value_or(default_bucket_cap_mb)) << 20;
    buckets_ = std::make_unique<distributed::detail::GradientBuckets>(model->parameters(), group_, bucket_bytes);
  }

  /// Rank 0's buffers to every rank (the loop calls it before each training forward and
  /// each evaluation), as PyTorch DDP's broadcast_buffers; nothing for a model without any.
  void synchronize_buffers() { broadcast_buffers(); }

  GradientSyncScope gradient_sync(bool enabled) { return {buckets_.get(), enabled}; }

  /// The replicas are equal: this process's weights are the model's.
  template <class Model>
  StateDict state_dict(Model& model) {
    return torchtrain::state_dict(*model);
  }

  /// The gradient all-reduce machinery, or null at world size 1 (for tests and benchmarks).
  distributed::detail::GradientBuckets* gradient_buckets() { return buckets_.get(); }

 private:
  std::unique_ptr<distributed::detail::GradientBuckets> buckets_;
};

}  // namespace torchtrain
