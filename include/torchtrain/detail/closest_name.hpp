// Finding the known name a misspelt one was meant to be, for "did you mean" hints.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// The number of single-character insertions, deletions and substitutions that turn
/// `a` into `b` (Levenshtein distance).
TORCHTRAIN_INLINE std::size_t edit_distance(std::string_view a, std::string_view b);

/// The first of `candidates` nearest to `name`, when it is close enough to be a typo
/// (at most two edits, and fewer edits than `name` has characters); else empty.
TORCHTRAIN_INLINE std::string_view closest_name(std::string_view name, const std::vector<std::string_view>& candidates);

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <numeric>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  std::iota(previous.begin(), previous.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(previous, current);
  }
  return previous[b.size()];
}

TORCHTRAIN_INLINE std::string_view closest_name(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = std::min<std::size_t>(3, name.size());
  for (auto candidate : candidates)
    if (auto distance = edit_distance(name, candidate); distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  return best;
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
