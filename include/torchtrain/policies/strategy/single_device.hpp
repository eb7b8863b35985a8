// SingleDevice: one process on one device (CUDA when available, else the CPU).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Strategy policy: the whole model on one device, no gradient synchronization. The hooks
/// are those of every strategy (StrategyPolicy); with one process each returns its input.
class SingleDevice {
 public:
  using torchtrain_category = category::strategy;

  /// An empty scope: with one process there is nothing to synchronize.
  struct GradientSyncScope {};

  /// Places the model. Refuses to run as one of several processes that torchrun or
  /// torchtrain-launch (or mpirun) started: each would train the whole run alone into one
  /// output_dir, deleting the others' temporary checkpoints. Under Slurm, whose batch
  /// script may run one process in an allocation of many tasks, it warns instead.
  template <class Model>
  void setup(Model& model, const TrainingArguments& args) {
    device_ = checked_device(args);
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
  // What setup checks and the device it places the model on (the part that is not the model's).
  static torch::Device checked_device(const TrainingArguments& args);

  torch::Device device_ = torch::kCPU;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>
#include <torch/cuda.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/distributed/environment.hpp>
#include <torchtrain/io/messages.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE torch::Device SingleDevice::checked_device(const TrainingArguments& args) {
  if (const auto env = distributed::read_ranks(); env.distributed()) {
    const auto problem = fmt::format(
        "this process is rank {} of {} ({} variables), but its Trainer has no distributed strategy, so each of "
        "the {} processes would train the whole run alone into --output_dir {}",
        env.rank, env.world_size, env.launcher, env.world_size, args.output_dir);
    if (env.launcher != "slurm")
      throw ArgumentError(problem + ": name one (Trainer<DDP> or Trainer<FSDP>, beside your other policies), or "
                                    "start one process without a launcher");
    message(LogLevel::warning, "{}; name a distributed strategy if that is not what you meant", problem);
  }
  return !args.use_cpu && torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
