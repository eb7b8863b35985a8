// set_seed and enable_full_determinism: one call that makes a run repeatable.
#pragma once

#include <torchtrain/core/config.hpp>

#include <cstdint>

#include <torch/utils.h>

namespace torchtrain {

/// Seeds LibTorch's global generators (CPU and, where present, CUDA), as the Python
/// `transformers.set_seed` does for torch. Call it before building the model so that
/// its initial weights repeat; the Trainer calls it again with `seed` when created.
inline void set_seed(std::uint64_t seed) { torch::manual_seed(seed); }

/// set_seed, then deterministic kernels only, as the Python `enable_full_determinism`
/// (the Trainer calls it for --full_determinism): an operation without a deterministic
/// kernel throws (or, with `warn_only`, warns), cuDNN neither benchmarks nor picks
/// nondeterministic algorithms, and cuBLAS gets the fixed workspace it needs for
/// repeatable results (an environment variable read when CUDA starts, so set it first).
TORCHTRAIN_INLINE void enable_full_determinism(std::uint64_t seed, bool warn_only = false);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdlib>
#include <ATen/Context.h>

namespace torchtrain {

TORCHTRAIN_INLINE void enable_full_determinism(std::uint64_t seed, bool warn_only) {
  set_seed(seed);
  ::setenv("CUDA_LAUNCH_BLOCKING", "1", /*overwrite=*/1);
  ::setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8", /*overwrite=*/1);
  at::globalContext().setDeterministicAlgorithms(true, warn_only);
  at::globalContext().setDeterministicCuDNN(true);
  at::globalContext().setBenchmarkCuDNN(false);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
