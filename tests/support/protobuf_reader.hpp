// A protobuf wire-format reader for the tests, written from the format's description: fields by wire type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#ifndef DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES
#define DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES  // LibTorch's glog defines CHECK (see tests/unit/testing.hpp)
#endif
#include <doctest/doctest.h>

namespace test_support {

/// The unsigned number that `bytes` hold, least significant byte first (fixed64, fixed32).
inline std::uint64_t little_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

/// One field of a message, as the wire gives it.
struct ProtoField {
  int number;
  int wire_type;
  std::uint64_t number_value;  // varint, fixed64 or fixed32
  std::string bytes;           // length-delimited
};

/// The varint at `at` in `message`, moving `at` past it; fails the test where the message ends first.
inline std::uint64_t read_varint(std::string_view message, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    DOCTEST_REQUIRE(at < message.size());
    const auto byte = static_cast<unsigned char>(message[at++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return value;
  }
}

/// The fields of `message` in their order; fails the test at a wire type other than 0, 1, 2
/// and 5, or at a field that runs past the end.
inline std::vector<ProtoField> read_fields(std::string_view message) {
  std::vector<ProtoField> fields;
  for (std::size_t at = 0; at < message.size();) {
    const auto key = read_varint(message, at);
    ProtoField field{static_cast<int>(key >> 3), static_cast<int>(key & 7), 0, {}};
    switch (field.wire_type) {
      case 0: field.number_value = read_varint(message, at); break;
      case 1: field.number_value = little_endian(message.substr(at, 8)); at += 8; break;
      case 5: field.number_value = little_endian(message.substr(at, 4)); at += 4; break;
      case 2: {
        const auto length = read_varint(message, at);
        field.bytes = std::string(message.substr(at, length));
        at += length;
        break;
      }
      default: DOCTEST_FAIL("unexpected wire type ", field.wire_type);
    }
    DOCTEST_REQUIRE(at <= message.size());
    fields.push_back(field);
  }
  return fields;
}

}  // namespace test_support
