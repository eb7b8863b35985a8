// CRC-32C (Castagnoli), the checksum of TFRecord files, and the masked form they store.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace torchtrain::io {

namespace detail {

// The byte-at-a-time table of the reflected Castagnoli polynomial 0x82F63B78. zlib only
// has the IEEE polynomial (CRC-32), which TFRecord readers reject.
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    table[byte] = crc;
  }
  return table;
}

inline constexpr auto crc32c_table = make_crc32c_table();

}  // namespace detail

/// The CRC-32C of `bytes`, continuing from `crc` (the CRC of the bytes before them; 0 to
/// start). crc32c("123456789") == 0xE3069283.
constexpr std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) {
  crc = ~crc;
  for (char c : bytes) crc = detail::crc32c_table[(crc ^ static_cast<unsigned char>(c)) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

/// `crc` masked as TFRecord files store it: rotated right by 15 bits plus a constant, so
/// that the CRC of data that itself holds CRCs is not degenerate.
constexpr std::uint32_t mask_crc32c(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace torchtrain::io
