// The hooks an accumulation policy may add to AccumulationPolicy's to run the whole optimizer step itself (CudaGraphs does), and what the others get.
#pragma once

#include <span>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>

namespace torchtrain::accumulation_hooks {

/// Before a run's first step, once its optimizer is made: the policy's
/// `begin_run(args, device, optimizer)`, where it has one, refuses what it cannot run
/// (with an ArgumentError naming the flag) and starts afresh; the others need nothing.
template <class Accumulation>
void begin_run(Accumulation& accumulation, const TrainingArguments& args, torch::Device device,
               torch::optim::Optimizer& optimizer) {
  if constexpr (requires { accumulation.begin_run(args, device, optimizer); })
    accumulation.begin_run(args, device, optimizer);
}

/// One optimizer step over `window`; returns whether the optimizer stepped. A policy with
/// `run_step(window, strategy, parts)` runs it all (CudaGraphs); the others run the
/// window's micro-steps through their `accumulate`, then the optimizer step.
///
/// `parts` is the loop's step, whole or split into its host bookkeeping and its device work
/// (what a CUDA graph can capture):
/// - `micro_step(batch, last_of_window)` and `optimizer_step() -> bool`: the whole of each;
/// - `begin_micro_batch(batch, last)` (host: counts, buffers), `device_micro_batch(batch)`
///   (forward, loss, backward; returns the loss that went to backward) and
///   `end_micro_batch(loss, last)` (host: the running loss);
/// - `device_optimizer_step()` (unscale, clip, step; returns the norm before clipping where
///   it clips) and `end_device_optimizer_step(grad_norm)` (host: the callbacks'
///   on_pre_optimizer_step and on_optimizer_step, the schedule, gradients set to none);
/// - `using precision`: the Trainer's precision policy.
template <class Accumulation, class Batch, class Strategy, class Parts>
bool run_step(Accumulation& accumulation, std::span<Batch> window, Strategy& strategy, Parts& parts) {
  if constexpr (requires { accumulation.run_step(window, strategy, parts); }) {
    return accumulation.run_step(window, strategy, parts);
  } else {
    accumulation.accumulate(window, strategy, [&](const Batch& batch, bool last) { parts.micro_step(batch, last); });
    return parts.optimizer_step();
  }
}

}  // namespace torchtrain::accumulation_hooks
