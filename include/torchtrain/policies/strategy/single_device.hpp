// SingleDevice: one process on one device (CUDA when available, else the CPU).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include <torch/cuda.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Strategy policy: the whole model on one device, no gradient synchronization. The hooks
/// are those of every strategy (StrategyPolicy); with one process each returns its input.
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
  void synchronize_buffers() {}
  at::Tensor reduce_mean(const at::Tensor& value) const { return value; }
  at::Tensor reduce_sum(const at::Tensor& value) const { return value; }
  void barrier(std::string_view /*what*/) const {}
  torch::Tensor evaluation_shard(std::int64_t size) const { return torch::arange(size, torch::kLong); }
  torch::Tensor gather_shards(const torch::Tensor& outputs, std::int64_t /*size*/) const { return outputs; }
  template <class Model>
  StateDict state_dict(Model& model) {
    return torchtrain::state_dict(*model);
  }
  std::vector<std::string> gather_bytes(std::string bytes) { return {std::move(bytes)}; }
  int rank() const { return 0; }
  int local_rank() const { return 0; }
  int world_size() const { return 1; }
  bool is_main_process() const { return true; }

 private:
  torch::Device device_ = torch::kCPU;
};

}  // namespace torchtrain
