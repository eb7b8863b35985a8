// ProcessGroupStrategy: what DDP and FSDP share: joining the run's processes, the device, the collectives the Trainer asks for, and rank 0's buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/detail/gather_shards.hpp>
#include <torchtrain/distributed/process_group.hpp>

namespace torchtrain::detail {

/// Gradient averaging on or off for the backward passes in its lifetime, then restored;
/// `Synchronizer` is what averages them (DDP's buckets, FSDP's shards: `sync()`,
/// `set_sync(bool)`), null at world size 1.
template <class Synchronizer>
class GradientSyncScope {
 public:
  GradientSyncScope(Synchronizer* synchronizer, bool enabled)
      : synchronizer_(synchronizer), previous_(synchronizer && synchronizer->sync()) {
    if (synchronizer_) synchronizer_->set_sync(enabled);
  }
  ~GradientSyncScope() {
    if (synchronizer_) synchronizer_->set_sync(previous_);
  }
  GradientSyncScope(const GradientSyncScope&) = delete;
  GradientSyncScope& operator=(const GradientSyncScope&) = delete;

 private:
  Synchronizer* synchronizer_;
  bool previous_;
};

/// The base of the strategies with one process per device: not a policy by itself.
class ProcessGroupStrategy {
 public:
  torch::Device device() const { return device_; }

  at::Tensor reduce_sum(const at::Tensor& value) const;
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
  /// Every rank's `bytes`, in rank order (a collective every rank calls).
  std::vector<std::string> gather_bytes(std::string bytes);

  int rank() const { return group_ ? group_->rank() : 0; }
  /// The rank among the processes of this machine (LOCAL_RANK): 0 is the node's first.
  int local_rank() const { return group_ ? group_->environment().local_rank : 0; }
  int world_size() const { return group_ ? group_->size() : 1; }
  bool is_main_process() const { return rank() == 0; }

 protected:
  /// Joins the process group (--ddp_backend, --ddp_timeout), moves the model to this
  /// rank's device (cuda:LOCAL_RANK when CUDA is used, else the CPU) and copies rank 0's
  /// parameters and buffers to every rank; keeps the buffers to copy again before forwards
  /// unless --ddp_broadcast_buffers false. False at world size 1 (nothing to join).
  template <class Model>
  bool join(Model& model, const TrainingArguments& args) {
    join_process_group(args);
    model->to(device_);
    if (!group_->environment().distributed()) return false;
    copy_from_rank_0(model->parameters(), model->buffers(), args);
    return true;
  }

  /// Rank 0's buffers to every rank, as PyTorch DDP's broadcast_buffers; nothing for a model without any.
  void broadcast_buffers() {
    if (!buffers_.empty()) broadcast_from_rank_0(buffers_, "copying rank 0's buffers to every rank");
  }

  torch::Device device_ = torch::kCPU;
  std::shared_ptr<distributed::ProcessGroup> group_;

 private:
  // join's part that is not the model's: this rank's device (device_) and the process group (group_).
  void join_process_group(const TrainingArguments& args);
  // join's copy of rank 0's parameters and buffers (of the model on its device) to every rank.
  void copy_from_rank_0(const std::vector<at::Tensor>& parameters, const std::vector<at::Tensor>& buffers,
                        const TrainingArguments& args);
  // One flat broadcast per dtype, not one per tensor: a model has hundreds of small tensors.
  void broadcast_from_rank_0(const std::vector<at::Tensor>& tensors, std::string_view what);

  std::vector<at::Tensor> buffers_;  // synchronized before forwards; empty with --ddp_broadcast_buffers false
};

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <chrono>
#include <cstddef>

#include <torch/cuda.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE at::Tensor ProcessGroupStrategy::reduce_sum(const at::Tensor& value) const {
  if (world_size() == 1) return value;
  // Gloo sums no bfloat16: such a value travels as float32.
  auto sum = value.detach().to(value.scalar_type() == torch::kBFloat16 ? torch::kFloat : value.scalar_type(),
                               /*non_blocking=*/false, /*copy=*/true);
  group_->allreduce_sum(sum, "summing a count or metric over the ranks");
  return sum.to(value.scalar_type());
}

TORCHTRAIN_INLINE std::vector<std::string> ProcessGroupStrategy::gather_bytes(std::string bytes) {
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

TORCHTRAIN_INLINE void ProcessGroupStrategy::join_process_group(const TrainingArguments& args) {
  const auto env = distributed::read_environment();
  const bool cuda = !args.use_cpu && torch::cuda::is_available();
  const auto backend = args.ddp_backend.value_or(cuda ? "nccl" : "gloo");
  device_ = cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(distributed::cuda_device_of(
                                                   env, static_cast<int>(torch::cuda::device_count()), backend)))
                 : torch::Device(torch::kCPU);
  group_ = distributed::default_process_group({.backend = backend, .timeout = std::chrono::seconds(args.ddp_timeout)});
}

TORCHTRAIN_INLINE void ProcessGroupStrategy::copy_from_rank_0(const std::vector<at::Tensor>& parameters,
                                                              const std::vector<at::Tensor>& buffers,
                                                              const TrainingArguments& args) {
  broadcast_from_rank_0(parameters, "copying rank 0's parameters to every rank");
  broadcast_from_rank_0(buffers, "copying rank 0's buffers to every rank");
  if (args.ddp_broadcast_buffers.value_or(true)) buffers_ = buffers;
}

TORCHTRAIN_INLINE void ProcessGroupStrategy::broadcast_from_rank_0(const std::vector<at::Tensor>& tensors,
                                                                   std::string_view what) {
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

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
