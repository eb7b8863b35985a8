// GaLore's gradient projector (Zhao et al., 2024): a matrix gradient moved into a low-rank
// subspace found by SVD, and an update moved back, with the arithmetic of galore_torch.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>

namespace torchtrain::optim {

/// Which side of a gradient GaLore projects, by galore_torch's `proj_type`:
/// - standard ("std"): the smaller side (the columns of a tall matrix, the rows of a wide one);
/// - reverse_standard ("reverse_std"): the larger side;
/// - right, left: always the columns, always the rows;
/// - full ("full"): both.
enum class GaLoreProjection { standard, reverse_standard, right, left, full };
constexpr auto enum_names(GaLoreProjection) {
  return std::array<std::string_view, 5>{"std", "reverse_std", "right", "left", "full"};
}

/// GaLore's settings for the projected parameters, with the Python Trainer's defaults.
struct GaLoreSettings {
  std::int64_t rank = 128;                                     // of the subspace
  std::int64_t update_proj_gap = 200;                          // steps between two SVDs
  double scale = 0.25;                                         // of the update moved back
  GaLoreProjection proj_type = GaLoreProjection::standard;
};

/// galore_torch's GaLoreProjector, its orthogonal matrix kept in the parameter's state
/// (so that checkpoints carry it): "ortho_matrix", or for full projection
/// "ortho_matrix_0" (the left factor) and "ortho_matrix_1" (the right one), the items of
/// galore_torch's list.
///
/// Requires a matrix gradient (two dimensions). At the parameter's first step, and at every
/// step whose count (from 0, before the update) is a multiple of update_proj_gap, the matrix
/// is recomputed from the gradient's SVD, in float32 whatever the gradient's type: the first
/// `rank` right singular vectors (a projection on the right, the gradient's columns) or left
/// ones (on the left, its rows); then cast back to the gradient's type.
class GaLoreProjector {
 public:
  explicit GaLoreProjector(GaLoreSettings settings) : settings_(settings) {}

  /// The gradient moved into the subspace: `m x rank` projected on the right, `rank x n`
  /// on the left, `rank x rank` for full projection (rank capped by the matrix's sides).
  /// `state.step` is the parameter's step count before this update.
  torch::Tensor project(const torch::Tensor& gradient, NamedState& state) const;

  /// A low-rank update moved back to the parameter's shape `like` (its gradient's), times scale.
  /// galore_torch decides the side again from the low-rank shape; this uses project()'s side,
  /// which is the same in every case galore_torch can compute (reverse_std on a wide matrix with
  /// rank at least its rows fails there on mismatched shapes).
  torch::Tensor project_back(const torch::Tensor& low_rank, const torch::Tensor& like, const NamedState& state) const;

  const GaLoreSettings& settings() const { return settings_; }

  /// What project() makes of a gradient of `sizes` (a matrix) and type `dtype`: the
  /// low-rank gradient's shape, and the matrices it keeps in the state.
  struct Layout {
    std::vector<std::int64_t> projected;
    std::vector<StateTensor> matrices;
  };
  Layout layout(torch::IntArrayRef sizes, torch::Dtype dtype) const;

 private:
  enum class Side { right, left, both };

  Side side(torch::IntArrayRef sizes) const;

  struct SingularVectors {
    torch::Tensor left;   // U[:, :rank], m x rank
    torch::Tensor right;  // Vh[:rank, :], rank x n
  };

  // galore_torch's get_orthogonal_matrix: the SVD in float32, the factors in the gradient's type.
  SingularVectors singular_vectors(const torch::Tensor& gradient) const;

  GaLoreSettings settings_;
};

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>

#include <c10/util/Exception.h>

namespace torchtrain::optim {

TORCHTRAIN_INLINE torch::Tensor GaLoreProjector::project(const torch::Tensor& gradient, NamedState& state) const {
  TORCH_CHECK(gradient.dim() == 2, "GaLore projects matrices; this gradient has ", gradient.dim(), " dimensions");
  const bool refresh = state.step % settings_.update_proj_gap == 0;
  const Side projected = side(gradient.sizes());
  if (projected == Side::both) {
    auto& left = state.tensors["ortho_matrix_0"];
    auto& right = state.tensors["ortho_matrix_1"];
    if (!left.defined() || !right.defined() || refresh) {
      auto vectors = singular_vectors(gradient);
      left = vectors.left;
      right = vectors.right;
    }
    return torch::matmul(torch::matmul(left.t(), gradient), right.t());
  }
  auto& ortho = state.tensors["ortho_matrix"];
  if (!ortho.defined() || refresh) {
    auto vectors = singular_vectors(gradient);
    ortho = projected == Side::right ? vectors.right : vectors.left;
  }
  return projected == Side::right ? torch::matmul(gradient, ortho.t()) : torch::matmul(ortho.t(), gradient);
}

TORCHTRAIN_INLINE torch::Tensor GaLoreProjector::project_back(const torch::Tensor& low_rank, const torch::Tensor& like,
                                                              const NamedState& state) const {
  const Side projected = side(like.sizes());
  const auto full_rank =
      projected == Side::both  ? torch::matmul(torch::matmul(state.tensors.at("ortho_matrix_0"), low_rank),
                                               state.tensors.at("ortho_matrix_1"))
      : projected == Side::right ? torch::matmul(low_rank, state.tensors.at("ortho_matrix"))
                                 : torch::matmul(state.tensors.at("ortho_matrix"), low_rank);
  return full_rank * settings_.scale;
}

TORCHTRAIN_INLINE GaLoreProjector::Layout GaLoreProjector::layout(torch::IntArrayRef sizes, torch::Dtype dtype) const {
  const std::int64_t rows = sizes[0], columns = sizes[1];
  const std::int64_t rank = std::min({settings_.rank, rows, columns});  // the SVD's vectors, at most
  switch (side(sizes)) {
    case Side::right: return {{rows, rank}, {{"ortho_matrix", {rank, columns}, dtype}}};
    case Side::left: return {{rank, columns}, {{"ortho_matrix", {rows, rank}, dtype}}};
    case Side::both:
      return {{rank, rank}, {{"ortho_matrix_0", {rows, rank}, dtype}, {"ortho_matrix_1", {rank, columns}, dtype}}};
  }
  return {};
}

TORCHTRAIN_INLINE GaLoreProjector::Side GaLoreProjector::side(torch::IntArrayRef sizes) const {
  const bool tall = sizes[0] >= sizes[1];
  if (settings_.proj_type == GaLoreProjection::full) return Side::both;
  if (settings_.proj_type == GaLoreProjection::standard) return tall ? Side::right : Side::left;
  if (settings_.proj_type == GaLoreProjection::reverse_standard) return tall ? Side::left : Side::right;
  return settings_.proj_type == GaLoreProjection::right ? Side::right : Side::left;
}

TORCHTRAIN_INLINE GaLoreProjector::SingularVectors GaLoreProjector::singular_vectors(
    const torch::Tensor& gradient) const {
  const bool is_float = gradient.scalar_type() == torch::kFloat;
  auto [u, s, vh] = torch::linalg_svd(is_float ? gradient : gradient.to(torch::kFloat), /*full_matrices=*/false);
  // Copies, not views, so that the state does not hold all of U and Vh.
  return {u.slice(1, 0, settings_.rank).to(gradient.options(), /*non_blocking=*/false, /*copy=*/true),
          vh.slice(0, 0, settings_.rank).to(gradient.options(), /*non_blocking=*/false, /*copy=*/true)};
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
