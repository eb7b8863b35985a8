// APOLLO's projections of a gradient onto a low-rank space: seeded random ones and SVD ones,
// with the numbers of the apollo_torch package (its GradientProjector and GaLoreProjector).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim::apollo {

/// How the projection matrix is made: Gaussian numbers from a seed ("random", the default) or
/// the gradient's leading singular vectors ("svd").
enum class Projection { random, svd };
constexpr auto enum_names(Projection) { return std::array<std::string_view, 2>{"random", "svd"}; }

/// Which side of a gradient G (m x n) the projection P multiplies, as Python's proj_type:
/// "std" the shorter side (G Pᵀ when m >= n, else Pᵀ G), "reverse_std" the longer one,
/// "right" always G Pᵀ, "left" always Pᵀ G.
enum class ProjType { standard, reverse_standard, right, left };
constexpr auto enum_names(ProjType) { return std::array<std::string_view, 4>{"std", "reverse_std", "right", "left"}; }

/// How the low-rank Adam step rescales the full gradient: one factor per channel (the rows or
/// columns of the longer side, "channel") or one for the whole tensor ("tensor").
enum class ScaleType { channel, tensor };
constexpr auto enum_names(ScaleType) { return std::array<std::string_view, 2>{"channel", "tensor"}; }

enum class Side { left, right };

/// The side `type` projects a gradient of `sizes` on.
TORCHTRAIN_INLINE Side side_of(ProjType type, torch::IntArrayRef sizes);

/// A new generator of `device`'s kind seeded with `seed`, as Python's
/// `torch.Generator(device=device).manual_seed(seed)`.
TORCHTRAIN_INLINE at::Generator seeded_generator(const torch::Device& device, std::int64_t seed);

/// The seed after `seed`: apollo_torch's next_seed, the last of 15 random int64 that a CPU
/// generator seeded with `seed` draws in [0, 2^63 - 1).
TORCHTRAIN_INLINE std::int64_t next_seed(std::int64_t seed);

/// P for the random projection of `gradient` (m x n) to `rank`: N(0, 1/rank) numbers from
/// `seed` on the gradient's device, rank x n for Side::right and m x rank for Side::left.
TORCHTRAIN_INLINE torch::Tensor random_projection(const torch::Tensor& gradient, std::int64_t rank, Side side,
                                                  std::int64_t seed);

/// P for the SVD projection of `gradient` to `rank`: its first `rank` right singular vectors
/// (as rows) for Side::right, its first `rank` left ones (as columns) for Side::left.
TORCHTRAIN_INLINE torch::Tensor svd_projection(const torch::Tensor& gradient, std::int64_t rank, Side side);

/// `gradient` in the low-rank space of P: G Pᵀ on the right, Pᵀ G on the left.
TORCHTRAIN_INLINE torch::Tensor project(const torch::Tensor& gradient, const torch::Tensor& projection, Side side);

}  // namespace torchtrain::optim::apollo

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <limits>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

namespace torchtrain::optim::apollo {

TORCHTRAIN_INLINE Side side_of(ProjType type, torch::IntArrayRef sizes) {
  const bool tall = sizes[0] >= sizes[1];
  switch (type) {
    case ProjType::standard: return tall ? Side::right : Side::left;
    case ProjType::reverse_standard: return tall ? Side::left : Side::right;
    case ProjType::right: return Side::right;
    case ProjType::left: return Side::left;
  }
  return Side::right;
}

TORCHTRAIN_INLINE at::Generator seeded_generator(const torch::Device& device, std::int64_t seed) {
  at::Generator generator = device.is_cpu()
                                ? at::make_generator<at::CPUGeneratorImpl>()
                                : at::globalContext().getAcceleratorHooksInterface(device.type()).getNewGenerator(device.index());
  generator.set_current_seed(static_cast<std::uint64_t>(seed));
  return generator;
}

TORCHTRAIN_INLINE std::int64_t next_seed(std::int64_t seed) {
  auto generator = seeded_generator(torch::kCPU, seed);
  auto draws = torch::randint(0, std::numeric_limits<std::int64_t>::max(), {15}, generator, torch::kLong);
  return draws[14].item<std::int64_t>();
}

TORCHTRAIN_INLINE torch::Tensor random_projection(const torch::Tensor& gradient, std::int64_t rank, Side side,
                                                  std::int64_t seed) {
  auto generator = seeded_generator(gradient.device(), seed);
  const auto shape = side == Side::right ? std::vector<std::int64_t>{rank, gradient.size(1)}
                                         : std::vector<std::int64_t>{gradient.size(0), rank};
  auto matrix = torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat).device(gradient.device()));
  return (matrix / std::sqrt(static_cast<double>(rank))).to(gradient.scalar_type());
}

TORCHTRAIN_INLINE torch::Tensor svd_projection(const torch::Tensor& gradient, std::int64_t rank, Side side) {
  auto [u, s, vh] = at::linalg_svd(gradient.to(torch::kFloat), /*full_matrices=*/false);
  auto matrix = side == Side::right ? vh.slice(0, 0, rank) : u.slice(1, 0, rank);
  return matrix.to(gradient.scalar_type());
}

TORCHTRAIN_INLINE torch::Tensor project(const torch::Tensor& gradient, const torch::Tensor& projection, Side side) {
  return side == Side::right ? torch::matmul(gradient, projection.t()) : torch::matmul(projection.t(), gradient);
}

}  // namespace torchtrain::optim::apollo

#endif  // TORCHTRAIN_DEFINITIONS
