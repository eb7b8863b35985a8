// JitCheckpoint: --enable_jit_checkpoint: a SIGTERM (a pre-empted job) makes the run save a checkpoint at the end of its step and stop.
#pragma once

#include <atomic>
#include <csignal>

#include <torch/types.h>

namespace torchtrain {

namespace detail {

inline std::atomic<bool> termination_requested{false};

// A signal handler may only set a lock-free flag.
inline void request_termination(int) { termination_requested.store(true, std::memory_order_relaxed); }

}  // namespace detail

/// While alive and enabled, SIGTERM no longer ends the process: it asks the training loop
/// to save a checkpoint at the end of the current step and stop, as the Python Trainer's
/// `enable_jit_checkpoint` (Slurm's pre-emption and Kubernetes' eviction send SIGTERM
/// first; give them a grace period longer than a step and a save). The handler that was
/// there before comes back when it ends.
class JitCheckpoint {
 public:
  explicit JitCheckpoint(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    detail::termination_requested = false;
    previous_ = std::signal(SIGTERM, &detail::request_termination);
  }
  ~JitCheckpoint() {
    if (enabled_) std::signal(SIGTERM, previous_);
  }
  JitCheckpoint(const JitCheckpoint&) = delete;
  JitCheckpoint& operator=(const JitCheckpoint&) = delete;

  /// True on every process once any of them got SIGTERM, so that all save the same step.
  /// A collective when enabled: every process calls it at the end of every step.
  template <class Strategy>
  bool requested(Strategy& strategy) const {
    if (!enabled_) return false;
    const double mine = detail::termination_requested.load(std::memory_order_relaxed) ? 1 : 0;
    return strategy.reduce_sum(torch::tensor({mine}, torch::TensorOptions(torch::kDouble).device(strategy.device())))
               .template item<double>() > 0;
  }

 private:
  bool enabled_;
  void (*previous_)(int) = SIG_DFL;
};

}  // namespace torchtrain
