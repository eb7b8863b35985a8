// JitCheckpoint: --enable_jit_checkpoint: a SIGTERM or SIGUSR1 (a pre-empted job, a job near its time limit) makes the run save a checkpoint at the end of its step and stop.
#pragma once

#include <atomic>
#include <csignal>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

namespace detail {

inline std::atomic<int> termination_signal{0};  // 0: none yet

// A signal handler may only set a lock-free flag.
inline void request_termination(int signal) { termination_signal.store(signal, std::memory_order_relaxed); }

}  // namespace detail

/// While alive and enabled, SIGTERM no longer ends the process: it asks the training loop
/// to save a checkpoint at the end of the current step and stop, as the Python Trainer's
/// `enable_jit_checkpoint` (Slurm's pre-emption and Kubernetes' eviction send SIGTERM
/// first; give them a grace period longer than a step and a save). SIGUSR1 does the same:
/// it is what `sbatch --signal=USR1@<seconds>` sends before a job's time limit (Python's
/// handles SIGTERM only). The handlers that were there before come back when it ends.
class JitCheckpoint {
 public:
  explicit JitCheckpoint(bool enabled);
  ~JitCheckpoint();
  JitCheckpoint(const JitCheckpoint&) = delete;
  JitCheckpoint& operator=(const JitCheckpoint&) = delete;

  /// True on every process once any of them got the signal, so that all save the same step.
  /// A collective when enabled: every process calls it at the end of every step.
  template <class Strategy>
  bool requested(Strategy& strategy) const {
    if (!enabled_) return false;
    const double mine = detail::termination_signal.load(std::memory_order_relaxed) != 0 ? 1 : 0;
    return strategy.reduce_sum(torch::full({1}, mine, torch::TensorOptions(torch::kDouble).device(strategy.device())))
               .template item<double>() > 0;
  }
  /// The signal this process got ("SIGTERM", "SIGUSR1"), or what another process got.
  static const char* signal_name();

 private:
  bool enabled_;
  void (*previous_terminate_)(int) = SIG_DFL;
  void (*previous_user_)(int) = SIG_DFL;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE JitCheckpoint::JitCheckpoint(bool enabled)
    : enabled_(enabled) {
  if (!enabled_) return;
  detail::termination_signal = 0;
  previous_terminate_ = std::signal(SIGTERM, &detail::request_termination);
  previous_user_ = std::signal(SIGUSR1, &detail::request_termination);
}

TORCHTRAIN_INLINE JitCheckpoint::~JitCheckpoint() {
  if (!enabled_) return;
  std::signal(SIGTERM, previous_terminate_);
  std::signal(SIGUSR1, previous_user_);
}

TORCHTRAIN_INLINE const char* JitCheckpoint::signal_name() {
  const int signal = detail::termination_signal.load(std::memory_order_relaxed);
  return signal == SIGTERM ? "SIGTERM" : signal == SIGUSR1 ? "SIGUSR1" : "a signal on another process";
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
