// set_up_process: what a Trainer sets for the whole process before training: seed, determinism, TF32, verbosity, SIGXFSZ.
#pragma once

#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/trainer/set_seed.hpp>

namespace torchtrain {

/// Seeds the process (with --full_determinism, deterministic kernels too), sets the float32
/// precision of --tf32 and the verbosity (log_level, or log_level_replica on a process that
/// does not log). --tf32 sets LibTorch's float32 precision for every backend and op ("tf32"
/// or "ieee"), as the Python Trainer sets torch.backends.fp32_precision; a backend's own
/// setting, where one was made, still wins. Asking for it without a CUDA device is an
/// error there too. SIGXFSZ is ignored, as the Python interpreter ignores it, unless the
/// program handles it: a write past `ulimit -f` then fails with EFBIG, which a FileError
/// reports, instead of killing the process without a word.
TORCHTRAIN_INLINE void set_up_process(const TrainingArguments& args, torch::Device device, bool logs);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <csignal>
#include <ATen/Context.h>

namespace torchtrain {

TORCHTRAIN_INLINE void set_up_process(const TrainingArguments& args, torch::Device device, bool logs) {
  if (struct sigaction current {}; ::sigaction(SIGXFSZ, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
    std::signal(SIGXFSZ, SIG_IGN);
  if (args.full_determinism)
    enable_full_determinism(args.seed);
  else
    set_seed(args.seed);
  if (args.tf32) {
    if (*args.tf32 && !device.is_cuda())
      throw ArgumentError("--tf32 needs a CUDA GPU (Ampere or newer); this run is on the CPU: drop --tf32");
    at::globalContext().setFloat32Precision(at::Float32Backend::GENERIC, at::Float32Op::ALL,
                                            *args.tf32 ? at::Float32Precision::TF32 : at::Float32Precision::IEEE);
  }
  set_verbosity(logs ? args.log_level : args.log_level_replica);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
