// TensorBoard event files: Event protobufs holding scalar summaries, in TFRecord framing.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/append_file.hpp>

namespace torchtrain::io {

/// `payload` as one TFRecord: its length (uint64), the masked CRC-32C of those 8 bytes,
/// the payload, and the masked CRC-32C of the payload; all numbers little-endian.
TORCHTRAIN_INLINE std::string tfrecord(std::string_view payload);

/// The Event that opens every event file: `wall_time` (seconds since the Unix epoch) and
/// file_version "brain.Event:2", by which TensorBoard recognizes the file.
TORCHTRAIN_INLINE std::string file_version_event(double wall_time);

/// An Event at `step` holding one scalar: summary (field 5) with one Summary.Value
/// (field 1) of `tag` (field 1) and simple_value (field 2, a float32, the type
/// TensorBoard's scalars have).
TORCHTRAIN_INLINE std::string scalar_event(double wall_time, std::int64_t step, std::string_view tag, float value);

/// The name TensorBoard's own writer (used by PyTorch's SummaryWriter) gives an event
/// file: `events.out.tfevents.<seconds, 10 digits>.<host>.<pid>.<number>`, where the
/// number counts the files the process opened. TensorBoard reads any file whose name
/// holds "tfevents".
TORCHTRAIN_INLINE std::string event_file_name(std::int64_t unix_seconds, std::string_view host, long pid, int number);

/// Writes one new event file that TensorBoard reads while it grows. Events are queued
/// by add_scalar() and written by flush(), each flush one system call, as PyTorch's
/// SummaryWriter does (the Python Trainer flushes after each log).
class EventFileWriter {
 public:
  /// Creates `folder` (and its parents) and a new event file in it, named by
  /// event_file_name() with the current time, the host name and this process, and
  /// writes the file_version event. Throws FileError naming the folder or the file.
  explicit EventFileWriter(const std::filesystem::path& folder);

  /// Queues an Event at `step` holding the scalar `tag` = `value` (as a float32), stamped
  /// with `time` (by default, now).
  void add_scalar(std::string_view tag, double value, std::int64_t step,
                  std::chrono::system_clock::time_point time = std::chrono::system_clock::now());

  /// Writes the queued events. Throws FileError (naming the file and what to do); the
  /// events that could not be written are dropped.
  void flush();

  const std::filesystem::path& path() const { return file_.path(); }

 private:
  static double seconds_since_epoch(std::chrono::system_clock::time_point time) {
    return std::chrono::duration<double>(time.time_since_epoch()).count();
  }

  static AppendFile create(const std::filesystem::path& folder);

  AppendFile file_;
  std::string pending_;
};

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <atomic>
#include <bit>
#include <cstddef>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>

#include <torchtrain/detail/host_name.hpp>
#include <torchtrain/io/crc32c.hpp>

namespace torchtrain::io {

namespace detail {

// The protobuf wire format, as much of it as scalar events need: the field numbers are
// those of TensorBoard's event.proto (Event) and summary.proto (Summary, Summary.Value).
enum class WireType : std::uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

inline void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

inline void put_key(std::string& out, int field, WireType type) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(type));
}

// Little-endian, whatever the machine's byte order, as protobuf and TFRecord require.
template <class Unsigned>
void put_little_endian(std::string& out, Unsigned value) {
  for (std::size_t byte = 0; byte < sizeof value; ++byte) out += static_cast<char>((value >> (8 * byte)) & 0xffu);
}

inline void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, WireType::length_delimited);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event fields 1 and 2. A step of 0 is left out, as proto3 leaves out default values.
inline std::string event_header(double wall_time, std::int64_t step) {
  std::string event;
  put_key(event, 1, WireType::fixed64);
  put_little_endian(event, std::bit_cast<std::uint64_t>(wall_time));
  if (step != 0) {
    put_key(event, 2, WireType::varint);
    put_varint(event, static_cast<std::uint64_t>(step));  // int64: two's complement
  }
  return event;
}

}  // namespace detail

TORCHTRAIN_INLINE std::string tfrecord(std::string_view payload) {
  std::string record;
  record.reserve(payload.size() + 16);
  detail::put_little_endian(record, static_cast<std::uint64_t>(payload.size()));
  detail::put_little_endian(record, mask_crc32c(crc32c(record)));
  record += payload;
  detail::put_little_endian(record, mask_crc32c(crc32c(payload)));
  return record;
}

TORCHTRAIN_INLINE std::string file_version_event(double wall_time) {
  std::string event = detail::event_header(wall_time, 0);
  detail::put_bytes(event, 3, "brain.Event:2");
  return event;
}

TORCHTRAIN_INLINE std::string scalar_event(double wall_time, std::int64_t step, std::string_view tag, float value) {
  std::string summary_value;
  detail::put_bytes(summary_value, 1, tag);
  detail::put_key(summary_value, 2, detail::WireType::fixed32);
  detail::put_little_endian(summary_value, std::bit_cast<std::uint32_t>(value));
  std::string summary;
  detail::put_bytes(summary, 1, summary_value);
  std::string event = detail::event_header(wall_time, step);
  detail::put_bytes(event, 5, summary);
  return event;
}

TORCHTRAIN_INLINE std::string event_file_name(std::int64_t unix_seconds, std::string_view host, long pid, int number) {
  return fmt::format("events.out.tfevents.{:010}.{}.{}.{}", unix_seconds, host, pid, number);
}

TORCHTRAIN_INLINE EventFileWriter::EventFileWriter(const std::filesystem::path& folder) : file_(create(folder)) {
  file_.append(tfrecord(file_version_event(seconds_since_epoch(std::chrono::system_clock::now()))));
}

TORCHTRAIN_INLINE void EventFileWriter::add_scalar(std::string_view tag, double value, std::int64_t step,
                                                    std::chrono::system_clock::time_point time) {
  pending_ += tfrecord(scalar_event(seconds_since_epoch(time), step, tag, static_cast<float>(value)));
}

TORCHTRAIN_INLINE void EventFileWriter::flush() {
  if (pending_.empty()) return;
  std::string events = std::move(pending_);
  pending_.clear();
  file_.append(events);
}

TORCHTRAIN_INLINE AppendFile EventFileWriter::create(const std::filesystem::path& folder) {
  create_folders(folder);
  static std::atomic<int> files_opened{0};
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  return AppendFile(folder / event_file_name(seconds, torchtrain::detail::host_name(), static_cast<long>(::getpid()),
                                             files_opened++));
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
