// gather_shards: every rank's evaluation outputs put back together in dataset order, without padding.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/process_group.hpp>

namespace torchtrain::distributed::detail {

/// The samples of a dataset of `size` that rank r of R evaluates: r, r + R, r + 2R, ...
/// (no sample twice, so sums over ranks are exact; the first size % R ranks get one more).
TORCHTRAIN_INLINE torch::Tensor evaluation_shard(std::int64_t size, int rank, int world_size);

/// All ranks' `shard` (rows in evaluation_shard order), as one tensor of `size` rows in
/// dataset order. Shards may differ beyond dim 0 (sequences padded per rank): the shorter
/// are padded with `pad` (-100, the ignore index, as the Python Trainer pads). Each rank's
/// shard is first padded to ceil(size / R) rows; those rows land at positions >= size
/// after interleaving, so cutting at `size` removes exactly them. The collective runs on
/// `device` (the CPU for Gloo, the GPU for NCCL); the result is on the shard's device.
TORCHTRAIN_INLINE torch::Tensor gather_shards(ProcessGroup& group, const torch::Tensor& shard, std::int64_t size,
                                              const torch::Device& device, double pad = -100);

}  // namespace torchtrain::distributed::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::distributed::detail {

TORCHTRAIN_INLINE torch::Tensor evaluation_shard(std::int64_t size, int rank, int world_size) {
  return torch::arange(rank, size, world_size, torch::kLong);
}

TORCHTRAIN_INLINE torch::Tensor gather_shards(ProcessGroup& group, const torch::Tensor& shard, std::int64_t size,
                                              const torch::Device& device, double pad) {
  if (group.size() == 1 || !shard.defined()) return shard;
  const int world = group.size();
  const std::int64_t rows = (size + world - 1) / world;
  // Every rank's shape, to pad all to the largest.
  auto shape = torch::tensor(shard.sizes().vec(), torch::kLong).to(device);
  const auto shapes = group.all_gather(shape, "gathering the shapes of the evaluation outputs");
  std::vector<std::int64_t> padded_shape = shard.sizes().vec();
  padded_shape[0] = rows;
  for (const auto& other : shapes) {
    const auto sizes = other.cpu();
    if (sizes.size(0) != shard.dim())
      throw DistributedError(fmt::format("rank {}: the evaluation outputs have {} dimensions here and {} on another "
                                         "rank; a model must give outputs of one rank on every process",
                                         group.rank(), shard.dim(), sizes.size(0)));
    for (std::int64_t d = 1; d < shard.dim(); ++d)
      padded_shape[d] = std::max(padded_shape[d], sizes[d].item<std::int64_t>());
  }
  // Gloo reduces and gathers no bfloat16 or bool: those travel as float32 and uint8 (exactly).
  const auto wire_type = shard.scalar_type() == torch::kBFloat16 ? torch::kFloat
                         : shard.scalar_type() == torch::kBool   ? torch::kUInt8
                                                                 : shard.scalar_type();
  // An unsigned type cannot hold the ignore index: padding is cut off or unread there anyway.
  const double pad_value = wire_type == torch::kUInt8 ? 0 : pad;
  auto padded = torch::full(padded_shape, pad_value, shard.options().dtype(wire_type).device(device));
  auto target = padded;
  for (std::int64_t d = 0; d < shard.dim(); ++d) target = target.narrow(d, 0, shard.size(d));
  target.copy_(shard);
  const auto parts = group.all_gather(padded, "gathering the evaluation outputs");
  // [rows, R, ...]: row i of rank r is sample i R + r.
  return torch::stack(parts, 1).flatten(0, 1).narrow(0, 0, size).to(shard.device(), shard.scalar_type());
}

}  // namespace torchtrain::distributed::detail

#endif  // TORCHTRAIN_DEFINITIONS
