// DDP: distributed data parallel over c10d, one process per device (Gloo on the CPU, NCCL on CUDA).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/cuda.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/distributed/detail/gather_shards.hpp>
#include <torchtrain/distributed/detail/gradient_buckets.hpp>
#include <torchtrain/distributed/process_group.hpp>
#include <torchtrain/policies/category.hpp>

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
class DDP {
 public:
  using torchtrain_category = category::strategy;
  static constexpr int default_bucket_cap_mb = 25;  // PyTorch DDP's

  /// Turns the all-reduce of the backward passes in its lifetime on or off, then restores.
  class GradientSyncScope {
   public:
    GradientSyncScope(distributed::detail::GradientBuckets* buckets, bool enabled)
        : buckets_(buckets), previous_(buckets && buckets->sync()) {
      if (buckets_) buckets_->set_sync(enabled);
    }
    ~GradientSyncScope() {
      if (buckets_) buckets_->set_sync(previous_);
    }
    GradientSyncScope(const GradientSyncScope&) = delete;
    GradientSyncScope& operator=(const GradientSyncScope&) = delete;

   private:
    distributed::detail::GradientBuckets* buckets_;
    bool previous_;
  };

  /// Joins the process group (--ddp_backend, --ddp_timeout), places the model, makes the
  /// replicas equal and hooks the gradient all-reduce into backward.
  template <class Model>
  void setup(Model& model, const TrainingArguments& args) {
    const auto env = distributed::read_environment();
    const bool cuda = !args.use_cpu && torch::cuda::is_available();
    const auto backend = args.ddp_backend.value_or(cuda ? "nccl" : "gloo");
    device_ = cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(distributed::cuda_device_of(
                                                     env, static_cast<int>(torch::cuda::device_count()), backend)))
                   : torch::Device(torch::kCPU);
    group_ = distributed::default_process_group({.backend = backend, .timeout = std::chrono::seconds(args.ddp_timeout)});
    model->to(device_);
    if (!group_->environment().distributed()) return;
    broadcast_from_rank_0(model->parameters(), "copying rank 0's parameters to every rank");
    broadcast_from_rank_0(model->buffers(), "copying rank 0's buffers to every rank");
    if (args.ddp_broadcast_buffers.value_or(true)) buffers_ = model->buffers();
    const auto bucket_bytes = static_cast<std::size_t>(args.ddp_bucket_cap_mb.value_or(default_bucket_cap_mb)) << 20;
    buckets_ = std::make_unique<distributed::detail::GradientBuckets>(model->parameters(), group_, bucket_bytes);
  }

  /// Rank 0's buffers to every rank (the loop calls it before each training forward and
  /// each evaluation), as PyTorch DDP's broadcast_buffers; nothing for a model without any.
  void synchronize_buffers() {
    if (!buffers_.empty()) broadcast_from_rank_0(buffers_, "copying rank 0's buffers to every rank");
  }

  torch::Device device() const { return device_; }
  GradientSyncScope gradient_sync(bool enabled) { return {buckets_.get(), enabled}; }

  at::Tensor reduce_sum(const at::Tensor& value) const {
    if (world_size() == 1) return value;
    // Gloo sums no bfloat16: such a value travels as float32.
    auto sum = value.detach().to(value.scalar_type() == torch::kBFloat16 ? torch::kFloat : value.scalar_type(),
                                 /*non_blocking=*/false, /*copy=*/true);
    group_->allreduce_sum(sum, "summing a count or metric over the ranks");
    return sum.to(value.scalar_type());
  }
  at::Tensor reduce_mean(const at::Tensor& value) const {
    return world_size() == 1 ? value : reduce_sum(value) / world_size();
  }
  /// Returns once every rank got here (around checkpoint writes: no rank reads a half-written one).
  void barrier(std::string_view what) const {
    if (group_) group_->barrier(what);
  }
  /// The samples of an evaluation set of `size` that this rank evaluates.
  torch::Tensor evaluation_shard(std::int64_t size) const {
    return distributed::detail::evaluation_shard(size, rank(), world_size());
  }
  /// The outputs of every rank's evaluation shard, in dataset order (see gather_shards).
  torch::Tensor gather_shards(const torch::Tensor& shard, std::int64_t size) const {
    return distributed::detail::gather_shards(*group_, shard, size, device_);
  }

  /// The replicas are equal: this process's weights are the model's.
  template <class Model>
  StateDict state_dict(Model& model) {
    return torchtrain::state_dict(*model);
  }
  /// Every rank's `bytes`, in rank order (a collective every rank calls).
  std::vector<std::string> gather_bytes(std::string bytes) {
    const int world = world_size();
    if (world == 1) return {std::move(bytes)};
    const auto size = static_cast<std::int64_t>(bytes.size());
    const auto sizes = gather_shards(torch::tensor({size}), world).cpu();
    const auto all = gather_shards(torch::from_blob(bytes.data(), {1, size}, torch::kUInt8), world).cpu();
    std::vector<std::string> gathered;
    for (int rank = 0; rank < world; ++rank) {
      const auto row = all[rank].narrow(0, 0, sizes[rank].item<std::int64_t>()).contiguous();
      gathered.emplace_back(reinterpret_cast<const char*>(row.data_ptr<std::uint8_t>()),
                            static_cast<std::size_t>(row.numel()));
    }
    return gathered;
  }

  int rank() const { return group_ ? group_->rank() : 0; }
  /// The rank among the processes of this machine (LOCAL_RANK): 0 is the node's first.
  int local_rank() const { return group_ ? group_->environment().local_rank : 0; }
  int world_size() const { return group_ ? group_->size() : 1; }
  bool is_main_process() const { return rank() == 0; }
  /// The gradient all-reduce machinery, or null at world size 1 (for tests and benchmarks).
  distributed::detail::GradientBuckets* gradient_buckets() { return buckets_.get(); }

 private:
  // One flat broadcast per dtype, not one per tensor: a model has hundreds of small tensors.
  void broadcast_from_rank_0(const std::vector<at::Tensor>& tensors, std::string_view what) {
    torch::NoGradGuard no_grad;
    std::vector<bool> done(tensors.size(), false);
    for (std::size_t first = 0; first < tensors.size(); ++first) {
      if (done[first]) continue;
      std::vector<at::Tensor> same;
      for (std::size_t i = first; i < tensors.size(); ++i)
        if (!done[i] && tensors[i].scalar_type() == tensors[first].scalar_type()) {
          same.push_back(tensors[i]);
          done[i] = true;
        }
      std::vector<at::Tensor> flat_parts;
      for (const auto& tensor : same) flat_parts.push_back(tensor.reshape({-1}));
      auto flat = torch::cat(flat_parts);
      group_->broadcast(flat, 0, what);
      std::int64_t offset = 0;
      for (auto& tensor : same) {
        tensor.copy_(flat.narrow(0, offset, tensor.numel()).view(tensor.sizes()));
        offset += tensor.numel();
      }
    }
  }

  torch::Device device_ = torch::kCPU;
  std::shared_ptr<distributed::ProcessGroup> group_;
  std::unique_ptr<distributed::detail::GradientBuckets> buckets_;
  std::vector<at::Tensor> buffers_;  // synchronized before forwards; empty with --ddp_broadcast_buffers false
};

}  // namespace torchtrain
