// CRC-32 (zlib's, IEEE 802.3) at memory speed: carry-less multiplication where the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TORCHTRAIN_CRC32_FOLDING 1
#else
#define TORCHTRAIN_CRC32_FOLDING 0
#endif

namespace torchtrain::io {

namespace detail {

// zlib's crc32_z checksums about 1 GB/s on this project's machines, a quarter of the time
// a checkpoint takes to write (docs/benchmarks.md, "Checkpoints"): folding 64 bytes at a
// time with PCLMULQDQ (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
// PCLMULQDQ Instruction", Intel, 2009) runs at about 16 GB/s, and 256 bytes at a time with
// VPCLMULQDQ at about 40 GB/s, faster than a copy, so that checking a checkpoint read from
// the page cache costs less than reading it.
// The constants are powers of x modulo the bit-reflected polynomial 0x1DB710641 given in
// that paper: x^(4*128+32), x^(4*128-32) (fold by 4), x^(128+32), x^(128-32) (fold by 1),
// x^64 (128 to 64 bits), and Barrett's mu and P; each is bit-reflected(x^n mod P) << 1.
#if TORCHTRAIN_CRC32_FOLDING
// x's two halves times k's, added (a lambda would not inherit the target attribute).
__attribute__((target("pclmul,sse4.1"))) inline __m128i crc32_fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

// The state of the folding loops: the bytes so far folded into four 16-byte lanes, the last
// of which ends where `bytes` now points. Each loop advances `bytes` and `size` past what it
// folded in.
struct FourLanes {
  __m128i x0, x1, x2, x3;
};

// 64 bytes per round while 64 remain.
__attribute__((target("pclmul,sse4.1"))) inline FourLanes crc32_fold_by_four(FourLanes lanes,
                                                                            const unsigned char*& bytes,
                                                                            std::size_t& size) {
  const auto load = [](const unsigned char* at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)); };
  const auto fold = crc32_fold;
  const __m128i by_four = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
  for (; size >= 64; bytes += 64, size -= 64) {
    lanes.x0 = _mm_xor_si128(fold(lanes.x0, by_four), load(bytes));
    lanes.x1 = _mm_xor_si128(fold(lanes.x1, by_four), load(bytes + 16));
    lanes.x2 = _mm_xor_si128(fold(lanes.x2, by_four), load(bytes + 32));
    lanes.x3 = _mm_xor_si128(fold(lanes.x3, by_four), load(bytes + 48));
  }
  return lanes;
}

// With VPCLMULQDQ (AVX-512), four 64-byte registers fold 256 bytes per round, four times
// the 16-byte loop's work per instruction: memory speed again on the CPUs that have it.
// by_sixteen holds x^(2048+32) and x^(2048-32) (256 bytes ahead), computed as the others.
#define TORCHTRAIN_CRC32_WIDE_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1")))
TORCHTRAIN_CRC32_WIDE_TARGET inline __m512i crc32_fold_wide(__m512i x, __m512i k) {
  return _mm512_xor_si512(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11));
}

TORCHTRAIN_CRC32_WIDE_TARGET inline __m512i crc32_load_wide(const unsigned char* at) { return _mm512_loadu_si512(at); }

TORCHTRAIN_CRC32_WIDE_TARGET inline FourLanes crc32_fold_by_sixteen(std::uint32_t crc, const unsigned char*& bytes,
                                                                   std::size_t& size) {
  // Requires: size >= 256.
  const auto load = crc32_load_wide;
  const auto fold = crc32_fold_wide;
  // (_mm512_set_epi64, not GCC 12's broadcast and extract intrinsics, which warn under -Wall.)
  const __m512i by_sixteen = _mm512_set_epi64(0x1322d1430, 0x11542778a, 0x1322d1430, 0x11542778a, 0x1322d1430,
                                              0x11542778a, 0x1322d1430, 0x11542778a);
  const __m512i by_four = _mm512_set_epi64(0x1c6e41596, 0x154442bd4, 0x1c6e41596, 0x154442bd4, 0x1c6e41596,
                                           0x154442bd4, 0x1c6e41596, 0x154442bd4);
  __m512i z0 = _mm512_xor_si512(load(bytes), _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, crc));
  __m512i z1 = load(bytes + 64), z2 = load(bytes + 128), z3 = load(bytes + 192);
  bytes += 256;
  size -= 256;
  for (; size >= 256; bytes += 256, size -= 256) {
    z0 = _mm512_xor_si512(fold(z0, by_sixteen), load(bytes));
    z1 = _mm512_xor_si512(fold(z1, by_sixteen), load(bytes + 64));
    z2 = _mm512_xor_si512(fold(z2, by_sixteen), load(bytes + 128));
    z3 = _mm512_xor_si512(fold(z3, by_sixteen), load(bytes + 192));
  }
  // Each register into the next (64 bytes ahead), then the 64-byte rounds left.
  __m512i z = _mm512_xor_si512(fold(z0, by_four), z1);
  z = _mm512_xor_si512(fold(z, by_four), z2);
  z = _mm512_xor_si512(fold(z, by_four), z3);
  for (; size >= 64; bytes += 64, size -= 64) z = _mm512_xor_si512(fold(z, by_four), load(bytes));
  alignas(64) __m128i lanes[4];
  _mm512_store_si512(lanes, z);
  return {lanes[0], lanes[1], lanes[2], lanes[3]};
}
#undef TORCHTRAIN_CRC32_WIDE_TARGET

inline bool has_wide_carryless_multiply() {
  static const bool has = __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}

__attribute__((target("pclmul,sse4.1"))) inline std::uint32_t crc32_folded(std::uint32_t crc,
                                                                           const unsigned char* bytes,
                                                                           std::size_t size) {
  // Requires: size >= 64 and a multiple of 16; `crc` not inverted (zlib's value inverted).
  const auto load = [](const unsigned char* at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)); };
  const auto fold = crc32_fold;
  const __m128i by_one = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
  FourLanes lanes;
  if (size >= 256 && has_wide_carryless_multiply()) {
    lanes = crc32_fold_by_sixteen(crc, bytes, size);
  } else {
    lanes = {_mm_xor_si128(load(bytes), _mm_cvtsi32_si128(static_cast<int>(crc))), load(bytes + 16), load(bytes + 32),
             load(bytes + 48)};
    bytes += 64;
    size -= 64;
    lanes = crc32_fold_by_four(lanes, bytes, size);
  }
  auto [x0, x1, x2, x3] = lanes;
  __m128i x = _mm_xor_si128(fold(x0, by_one), x1);
  x = _mm_xor_si128(fold(x, by_one), x2);
  x = _mm_xor_si128(fold(x, by_one), x3);
  for (; size >= 16; bytes += 16, size -= 16) x = _mm_xor_si128(fold(x, by_one), load(bytes));

  const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
  x = _mm_xor_si128(_mm_clmulepi64_si128(x, by_one, 0x10), _mm_srli_si128(x, 8));  // 128 to 64 bits
  x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, low32), _mm_set_epi64x(0, 0x163cd6124), 0x00),
                    _mm_srli_si128(x, 4));  // 64 to 32 bits, then Barrett's reduction
  const __m128i barrett = _mm_set_epi64x(0x1F7011641, 0x1DB710641);
  __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x, low32), barrett, 0x10), low32);
  t = _mm_xor_si128(_mm_clmulepi64_si128(t, barrett, 0x00), x);
  return static_cast<std::uint32_t>(_mm_extract_epi32(t, 1));
}

inline bool has_carryless_multiply() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return has;
}
#endif

}  // namespace detail

/// The CRC-32 of `size` bytes at `data`, continuing from `crc` (the CRC of the bytes before
/// them; 0 to start): exactly zlib's `crc32_z(crc, data, size)`, several times faster on
/// x86-64 CPUs with PCLMULQDQ (all since 2010).
inline std::uint32_t crc32(std::uint32_t crc, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (size == 0) return crc;  // zlib's crc32 of a null pointer is a fresh CRC, not an update
#if TORCHTRAIN_CRC32_FOLDING
  if (size >= 64 && detail::has_carryless_multiply()) {
    const std::size_t folded = size & ~std::size_t{15};
    crc = ~detail::crc32_folded(~crc, bytes, folded);
    bytes += folded;
    size -= folded;
    if (size == 0) return crc;
  }
#endif
  return static_cast<std::uint32_t>(crc32_z(crc, bytes, size));
}

}  // namespace torchtrain::io
