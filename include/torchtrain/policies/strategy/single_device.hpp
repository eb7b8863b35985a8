// SingleDevice: one process on one device (CUDA when available, else the CPU).
#pragma once

#include <cstdint>
#include <string_view>

#include <torch/cuda.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Strategy policy: the whole model on one device, no gradient synchronization.
///
/// Every strategy offers: `setup(model, args)` to place the model; `device()`;
/// `gradient_sync(bool)` returning a scope in which backward does (or does not)
/// synchronize gradients; `reduce_mean(tensor)` and `reduce_sum(tensor)` over processes;
/// `barrier(what)`; `evaluation_shard(size)`, the samples of an evaluation set this
/// process evaluates, and `gather_shards(outputs, size)`, every process's outputs in
/// dataset order; rank and world size. With one process each of these returns its input.
class SingleDevice {
 public:
  using torchtrain_category = category::strategy;

  /// An empty scope: with one process there is nothing to synchronize.
  struct GradientSyncScope {};

  template <class Model>
  void setup(Model& model, const TrainingArguments& args) {
    device_ = !args.use_cpu && torch::cuda::is_available() ? torch::Device(torch::kCUDA)
                                                             : torch::Device(torch::kCPU);
    model->to(device_);
  }

  torch::Device device() const { return device_; }
  GradientSyncScope gradient_sync(bool /*enabled*/) const { return {}; }
  at::Tensor reduce_mean(const at::Tensor& value) const { return value; }
  at::Tensor reduce_sum(const at::Tensor& value) const { return value; }
  void barrier(std::string_view /*what*/) const {}
  torch::Tensor evaluation_shard(std::int64_t size) const { return torch::arange(size, torch::kLong); }
  torch::Tensor gather_shards(const torch::Tensor& outputs, std::int64_t /*size*/) const { return outputs; }
  int rank() const { return 0; }
  int local_rank() const { return 0; }
  int world_size() const { return 1; }
  bool is_main_process() const { return true; }

 private:
  torch::Device device_ = torch::kCPU;
};

}  // namespace torchtrain
