// What the race programs share: the device, clocks that wait for the GPU, the result line
// that benchmarks/race/race.sh collects, and the parts of the hand-written LibTorch loop that
// both workloads use (AdamW, clipping).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <torchtrain/torchtrain.hpp>

namespace race {

namespace tt = torchtrain;
using Clock = std::chrono::steady_clock;

/// The flags of both race programs; each program has a struct of its own for its workload.
struct RaceArguments {
  std::string contestant = "torchtrain";
  int steps = 20;  // timed optimizer steps, after the warm-up ones
  int warmup_steps = 3;
  bool use_cpu = false;
  int seed = 42;
};

inline torch::Device pick_device(bool use_cpu) {
  return !use_cpu && torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

/// The time once all work queued on `device` has finished (CUDA kernels run asynchronously).
inline Clock::time_point finished_now(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
  return Clock::now();
}

/// Start and end of the timed steps: the steps after the warm-up ones.
struct Timing {
  Clock::time_point start, end;
  double seconds() const { return std::chrono::duration<double>(end - start).count(); }
};

/// The torchtrain contestant's arguments: `max_steps` = warm-up + timed steps, the batch and
/// learning rate the others get, fused AdamW, no logging, evaluation or checkpoints.
inline tt::TrainingArguments training_arguments(const RaceArguments& run, int batch_size, double learning_rate) {
  // The Trainer creates its output folder even when it saves nothing: keep it out of the tree.
  return {.output_dir = (std::filesystem::temp_directory_path() / "torchtrain_race").string(),
          .max_steps = run.warmup_steps + run.steps,
          .per_device_train_batch_size = batch_size,
          .optim = tt::OptimizerNames::adamw_torch_fused,
          .learning_rate = learning_rate,
          .logging_strategy = tt::IntervalStrategy::no,
          .save_strategy = tt::SaveStrategy::no,
          .seed = static_cast<std::uint64_t>(run.seed),
          .use_cpu = run.use_cpu};
}

/// A Trainer callback that times optimizer steps `warmup_steps` + 1 to the last one.
struct StepTimer {
  int warmup_steps;
  torch::Device device;
  Timing* timing;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&) const {
    if (state.global_step == warmup_steps) timing->start = finished_now(device);
    if (state.global_step == state.max_steps) timing->end = finished_now(device);
  }
};

/// One contestant's figures: one line `RACE {...}` that race_table.py reads.
struct Result {
  std::string workload, contestant, optimizer, device;
  int timed_steps = 0;
  double seconds = 0;
  double tokens_per_step = 0;   // 0 where a step has no tokens (the MLP)
  double flops_per_token = 0;   // model FLOPs of training per token; 0 where not counted
};

inline void print_result(const Result& result) {
  fmt::print(
      "RACE {{\"workload\": \"{}\", \"contestant\": \"{}\", \"optimizer\": \"{}\", \"device\": \"{}\", "
      "\"timed_steps\": {}, \"seconds\": {:.6f}, \"steps_per_second\": {:.4f}, \"tokens_per_step\": {}, "
      "\"flops_per_token\": {}, \"libtorch\": \"{}\"}}\n",
      result.workload, result.contestant, result.optimizer, result.device, result.timed_steps, result.seconds,
      result.timed_steps / result.seconds, result.tokens_per_step, result.flops_per_token, TORCH_VERSION);
}

inline std::string torchtrain_optimizer_name() { return "adamw_torch_fused (at::_fused_adamw_)"; }

/// The hand-written loop's AdamW: LibTorch's fused kernel, called directly as Python's
/// `AdamW(fused=True)` calls it (LibTorch's C++ torch::optim::AdamW is a per-parameter loop).
class HandWrittenAdamW {
 public:
  HandWrittenAdamW(std::vector<torch::Tensor> parameters, double lr, double weight_decay)
      : parameters_(std::move(parameters)), lr_(lr), weight_decay_(weight_decay) {}

  std::string name() const { return "at::_fused_adamw_"; }

  void step() {
    torch::NoGradGuard no_grad;
    if (exp_avg_.empty()) {  // the state Python's AdamW creates at its first step
      for (const auto& parameter : parameters_) {
        exp_avg_.push_back(torch::zeros_like(parameter));
        exp_avg_sq_.push_back(torch::zeros_like(parameter));
        steps_.push_back(torch::zeros({}, parameter.options().dtype(torch::kFloat)));
      }
    }
    std::vector<torch::Tensor> grads;
    for (const auto& parameter : parameters_) grads.push_back(parameter.grad());
    at::_foreach_add_(steps_, 1);
    at::_fused_adamw_(parameters_, grads, exp_avg_, exp_avg_sq_, {}, steps_, lr_, 0.9, 0.999, weight_decay_, 1e-8,
                      false, false);
  }

  void zero_grad() {
    for (auto& parameter : parameters_) parameter.mutable_grad() = torch::Tensor();
  }

 private:
  std::vector<torch::Tensor> parameters_;
  double lr_, weight_decay_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_, steps_;
};

/// Scales the gradients so that their global L2 norm is at most `max_norm`, keeping the norm
/// on the device (torch::nn::utils::clip_grad_norm_ returns it to the host: a sync per step).
inline void clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& parameter : parameters) grads.push_back(parameter.grad());
  auto total = at::stack(at::_foreach_norm(grads, 2)).norm();
  auto factor = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (auto& grad : grads) grad.mul_(factor);
}

/// A race program's main: parses the flags into `run` and `workload` (both start from the
/// defaults given), trains with the contestant `--contestant` names, calling
/// `train_with_torchtrain(run, workload)`, `train_by_hand(run, workload)` or, where the
/// workload has one, `train_with_cuda_graphs(run, workload)` (torchtrain_cuda_graphs), and
/// prints its RACE line; returns 1 with a message on any error.
template <class Workload, class Torchtrain, class ByHand, class CudaGraphs = std::nullptr_t>
int run_contestant(std::string_view program, int argc, char** argv, RaceArguments run, Workload workload,
                   Torchtrain train_with_torchtrain, ByHand train_by_hand,
                   CudaGraphs train_with_cuda_graphs = nullptr) try {
  std::tie(run, workload) = tt::parse_args(argc, argv, run, workload);
  if (run.warmup_steps < 1 || run.steps < 1)  // the clock starts as the last warm-up step ends
    throw std::invalid_argument("--warmup_steps and --steps must both be at least 1");
  constexpr bool has_cuda_graphs = !std::is_null_pointer_v<CudaGraphs>;
  if (run.contestant == "torchtrain") print_result(train_with_torchtrain(run, workload));
  else if (run.contestant == "libtorch") print_result(train_by_hand(run, workload));
  else if (has_cuda_graphs && run.contestant == "torchtrain_cuda_graphs") {
    if constexpr (has_cuda_graphs) print_result(train_with_cuda_graphs(run, workload));
  } else {
    throw std::invalid_argument(fmt::format("--contestant is torchtrain, libtorch{}, not '{}'",
                                            has_cuda_graphs ? " or torchtrain_cuda_graphs" : "", run.contestant));
  }
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "{}: {}\n", program, error.what());
  return 1;
}

}  // namespace race

TORCHTRAIN_REFLECT(race::RaceArguments,
                   (contestant, "torchtrain, libtorch (the hand-written loop) or, for the MLP on CUDA, "
                                "torchtrain_cuda_graphs (Trainer<CudaGraphs>)"),
                   (steps, "timed optimizer steps"), (warmup_steps, "optimizer steps before the clock starts"),
                   (use_cpu, "train on the CPU even when CUDA is available"), seed);
