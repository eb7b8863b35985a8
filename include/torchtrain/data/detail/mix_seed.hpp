// mix_seed: one 64-bit seed from two, so that related inputs give unrelated random streams.
#pragma once

#include <cstdint>

namespace torchtrain::data::detail {

/// splitmix64 of a combination of both: seeds that differ in one bit give unrelated streams.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t value) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (value + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace torchtrain::data::detail
