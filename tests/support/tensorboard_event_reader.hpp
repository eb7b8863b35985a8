// A TensorBoard event-file reader for the tests, sharing no code with the writer: TFRecords, CRC-32C, Events.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES
#define DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES  // LibTorch's glog defines CHECK (see tests/unit/testing.hpp)
#endif
#include <doctest/doctest.h>

#include "support/protobuf_reader.hpp"

namespace test_support {

/// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), computed bit by bit.
inline std::uint32_t bitwise_crc32c(std::string_view data) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/// TFRecord's masked CRC.
inline std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/// The records of a TFRecord file; fails the test at a bad length or a bad CRC.
inline std::vector<std::string> read_records(const std::string& file) {
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < file.size()) {
    DOCTEST_REQUIRE(file.size() - at >= 12);
    const std::string_view length_bytes(file.data() + at, 8);
    const auto length = little_endian(length_bytes);
    DOCTEST_REQUIRE(little_endian(std::string_view(file.data() + at + 8, 4)) == masked(bitwise_crc32c(length_bytes)));
    DOCTEST_REQUIRE(file.size() - at - 12 >= length + 4);
    const std::string payload = file.substr(at + 12, length);
    DOCTEST_REQUIRE(little_endian(std::string_view(file.data() + at + 12 + length, 4)) ==
                    masked(bitwise_crc32c(payload)));
    records.push_back(payload);
    at += 12 + length + 4;
  }
  return records;
}

/// What an Event message holds: its time, step, file_version, and its Summary's scalars.
struct DecodedEvent {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> values;
};

/// One record's Event; fails the test at a field other than wall_time, step, file_version
/// and a Summary of tagged simple_values.
inline DecodedEvent decode_event(const std::string& payload) {
  DecodedEvent event;
  for (const auto& field : read_fields(payload)) {
    if (field.number == 1 && field.wire_type == 1) event.wall_time = std::bit_cast<double>(field.number_value);
    else if (field.number == 2 && field.wire_type == 0) event.step = static_cast<std::int64_t>(field.number_value);
    else if (field.number == 3 && field.wire_type == 2) event.file_version = field.bytes;
    else if (field.number == 5 && field.wire_type == 2) {
      for (const auto& value : read_fields(field.bytes)) {  // Summary.value, repeated
        DOCTEST_REQUIRE((value.number == 1 && value.wire_type == 2));
        std::string tag;
        std::optional<float> simple_value;
        for (const auto& part : read_fields(value.bytes)) {
          if (part.number == 1 && part.wire_type == 2) tag = part.bytes;
          else if (part.number == 2 && part.wire_type == 5)
            simple_value = std::bit_cast<float>(static_cast<std::uint32_t>(part.number_value));
          else DOCTEST_FAIL("unexpected Summary.Value field ", part.number);
        }
        DOCTEST_REQUIRE(simple_value.has_value());
        event.values.emplace_back(tag, *simple_value);
      }
    } else {
      DOCTEST_FAIL("unexpected Event field ", field.number);
    }
  }
  return event;
}

/// The events of the event file at `path`, in file order.
inline std::vector<DecodedEvent> decode_event_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  const std::string contents{std::istreambuf_iterator<char>(file), {}};
  std::vector<DecodedEvent> events;
  for (const auto& record : read_records(contents)) events.push_back(decode_event(record));
  return events;
}

}  // namespace test_support
