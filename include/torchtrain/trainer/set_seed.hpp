// set_seed: one call that makes a run repeatable.
#pragma once

#include <cstdint>

#include <torch/utils.h>

namespace torchtrain {

/// Seeds LibTorch's global generators (CPU and, where present, CUDA), as the Python
/// `transformers.set_seed` does for torch. Call it before building the model so that
/// its initial weights repeat; the Trainer calls it again with `seed` when created.
inline void set_seed(std::uint64_t seed) { torch::manual_seed(seed); }

}  // namespace torchtrain
