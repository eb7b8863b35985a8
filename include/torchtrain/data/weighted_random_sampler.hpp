// WeightedRandomSampler: samples drawn with given probabilities, as PyTorch's WeightedRandomSampler.
#pragma once

#include <cstdint>
#include <optional>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::data {

/// Draws `num_samples` indices (default: as many as the dataset has) with probability
/// proportional to `weights`, with or without replacement, as
/// `torch.utils.data.WeightedRandomSampler` does (torch.multinomial). The draw depends only
/// on (seed, epoch), so every epoch differs and a resumed run draws the same again.
struct WeightedRandomSampler {
  torch::Tensor weights;  // one non-negative weight per sample
  std::optional<std::int64_t> num_samples;
  bool replacement = true;
  std::uint64_t seed = 42;

  torch::Tensor order(std::int64_t size, std::int64_t epoch) const;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

namespace torchtrain::data {

TORCHTRAIN_INLINE torch::Tensor WeightedRandomSampler::order(std::int64_t size, std::int64_t epoch) const {
  if (!weights.defined() || weights.dim() != 1 || weights.size(0) != size)
    throw ArgumentError(fmt::format("WeightedRandomSampler: give .weights as a 1-D tensor of one weight per training "
                                    "sample ({}), got {}",
                                    size, weights.defined() ? fmt::format("{} weights in {} dimensions", weights.numel(),
                                                                          weights.dim())
                                                            : std::string("none")));
  const std::int64_t draws = num_samples.value_or(size);
  if (draws < 1) throw ArgumentError(fmt::format("WeightedRandomSampler: num_samples must be at least 1, got {}", draws));
  if (!replacement && draws > size)
    throw ArgumentError(fmt::format("WeightedRandomSampler: {} draws without replacement from {} samples cannot be "
                                    "made; set replacement, or num_samples at most {}",
                                    draws, size, size));
  auto generator = at::detail::createCPUGenerator(seed + static_cast<std::uint64_t>(epoch));
  return torch::multinomial(weights.to(torch::kCPU, torch::kDouble), draws, replacement, generator);
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
