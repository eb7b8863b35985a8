// A torch.save file or LibTorch archive, checked before LibTorch's readers allocate what its
// bytes declare: the sizes in its zip directory, the lengths and memo indexes in its pickles.
#pragma once

#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>

namespace torchtrain::io {

/// Why LibTorch's zip reader must not read `bytes`, or "" when every record of its central
/// directory declares sizes it can have: its bytes within the file, and a stored record no
/// more than the file holds, a deflated one (LibTorch archives deflate their code) no more
/// than deflate can expand its bytes to. The reader allocates a record's declared size before it reads or inflates it: a
/// record of a few bytes could otherwise take gigabytes. A directory that cannot be walked is
/// left to LibTorch, which refuses the whole archive.
TORCHTRAIN_INLINE std::string zip_problem(std::string_view bytes);

/// Why LibTorch's unpickler must not read `pickle`, or "" when every length it declares
/// fits in the bytes left and every memo index it stores under is below its size. The
/// unpickler allocates what a length or a memo index says before it finds the pickle short
/// (pytorch/pytorch#185443): a crafted file of a few kilobytes could take gigabytes.
/// Opcodes it does not know end the check: the unpickler refuses them itself.
TORCHTRAIN_INLINE std::string pickle_problem(std::string_view pickle);

/// Checks the zip directory of the archive in `bytes` (zip_problem), then every pickle
/// (`*.pkl` record) in it (pickle_problem); a c10::Error names the record and what it declares.
TORCHTRAIN_INLINE void check_archive(std::string_view bytes);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>

namespace torchtrain::io {

namespace detail {

// Bytes in memory as LibTorch's zip reader reads a file, without copying them.
class BytesReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesReader(std::string_view bytes) : bytes_(bytes) {}
  std::size_t size() const override { return bytes_.size(); }
  std::size_t read(std::uint64_t position, void* destination, std::size_t size, const char*) const override {
    if (position >= bytes_.size()) return 0;
    size = std::min<std::size_t>(size, bytes_.size() - position);
    std::memcpy(destination, bytes_.data() + position, size);
    return size;
  }

 private:
  std::string_view bytes_;
};

// The unsigned number in the `width` bytes of `bytes` at `at`, little-endian (the caller has
// checked that they are there).
inline std::uint64_t little_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return value;
}

}  // namespace detail

TORCHTRAIN_INLINE std::string zip_problem(std::string_view bytes) {
  using detail::little_endian;
  // The zip format's records, by signature and fixed size (APPNOTE 4.3).
  constexpr std::uint64_t end_signature = 0x06054b50, zip64_locator_signature = 0x07064b50,
                          zip64_end_signature = 0x06064b50, entry_signature = 0x02014b50;
  constexpr std::size_t end_size = 22, zip64_locator_size = 20, zip64_end_size = 56, entry_size = 46;
  constexpr std::uint64_t in_zip64_field = 0xffffffff;  // a 32-bit size whose value is in the zip64 extra field
  constexpr std::size_t longest_comment = 0xffff;
  constexpr std::uint64_t stored = 0, deflated = 8;  // the methods miniz reads
  constexpr std::uint64_t most_inflated = 1032;     // deflate's largest ratio of output to input

  // The end of the central directory, where miniz finds it: the last signature with room for
  // the record after it, within a comment's length of the end.
  if (bytes.size() < end_size) return "";
  std::size_t end = bytes.size() - end_size;
  while (little_endian(bytes, end, 4) != end_signature) {
    if (end == 0 || bytes.size() - end >= end_size + longest_comment) return "";
    --end;
  }
  std::uint64_t entries = little_endian(bytes, end + 10, 2), at = little_endian(bytes, end + 16, 4);
  if (end >= zip64_locator_size && little_endian(bytes, end - zip64_locator_size, 4) == zip64_locator_signature) {
    const auto zip64_end = little_endian(bytes, end - zip64_locator_size + 8, 8);
    if (bytes.size() >= zip64_end_size && zip64_end <= bytes.size() - zip64_end_size &&
        little_endian(bytes, zip64_end, 4) == zip64_end_signature) {
      entries = little_endian(bytes, zip64_end + 32, 8);
      at = little_endian(bytes, zip64_end + 48, 8);
    }
  }
  for (std::uint64_t entry = 0; entry < entries; ++entry) {
    if (at > bytes.size() || bytes.size() - at < entry_size || little_endian(bytes, at, 4) != entry_signature)
      return "";
    const auto method = little_endian(bytes, at + 10, 2);
    auto compressed_size = little_endian(bytes, at + 20, 4), size = little_endian(bytes, at + 24, 4);
    const auto name_length = little_endian(bytes, at + 28, 2), extra_length = little_endian(bytes, at + 30, 2),
               comment_length = little_endian(bytes, at + 32, 2);
    if (bytes.size() - at - entry_size < name_length + extra_length + comment_length) return "";
    const auto name = bytes.substr(at + entry_size, name_length);
    // Sizes of all ones are in the zip64 extra field (id 1): the size first, then the
    // compressed size, each there only where its 32-bit field is all ones.
    auto extra = bytes.substr(at + entry_size + name_length, extra_length);
    while (extra.size() >= 4) {
      const auto id = little_endian(extra, 0, 2), length = little_endian(extra, 2, 2);
      if (length > extra.size() - 4) break;
      if (id == 1) {
        std::size_t field = 4;
        for (auto* value : {&size, &compressed_size})
          if (*value == in_zip64_field && field + 8 <= 4 + length) {
            *value = little_endian(extra, field, 8);
            field += 8;
          }
        break;
      }
      extra.remove_prefix(4 + length);
    }
    if (method != stored && method != deflated)
      return fmt::format("a record {} compressed by method {}, which LibTorch cannot read", name, method);
    if (compressed_size > bytes.size())
      return fmt::format("a record {} of {} compressed bytes in a file of {}", name, compressed_size, bytes.size());
    if (method == stored && size > bytes.size())
      return fmt::format("a record {} of {} bytes in a file of {}", name, size, bytes.size());
    if (method == deflated && size > most_inflated * compressed_size)
      return fmt::format("a record {} of {} bytes deflated into {}, more than deflate can expand them to", name, size,
                         compressed_size);
    at += entry_size + name_length + extra_length + comment_length;
  }
  return "";
}

TORCHTRAIN_INLINE std::string pickle_problem(std::string_view pickle) {
  std::size_t at = 0;
  const auto left = [&] { return pickle.size() - at; };
  const auto little_endian = [&](std::size_t width) {
    const auto value = detail::little_endian(pickle, at, width);
    at += width;
    return value;
  };
  const auto memo_problem = [&](std::uint64_t index) {
    return index < pickle.size()
               ? std::string()
               : fmt::format("a memo index of {} in a pickle of {} bytes", index, pickle.size());
  };
  while (at < pickle.size()) {
    const auto opcode = static_cast<unsigned char>(pickle[at++]);
    std::size_t argument = 0, length = 0, lines = 0;  // a fixed-size argument, a length's width, text lines
    bool memo = false;                                // the argument is a memo index to store under
    switch (opcode) {
      case '.': return "";  // STOP
      case 'K': case 'h': case 0x80: case 0x82: argument = 1; break;
      case 'q': argument = 1, memo = true; break;
      case 'M': case 0x83: argument = 2; break;
      case 'J': case 'j': case 0x84: argument = 4; break;
      case 'r': argument = 4, memo = true; break;
      case 'G': case 0x95: argument = 8; break;  // BINFLOAT; FRAME, whose argument is a length
      case 'U': case 'C': case 0x8a: case 0x8c: length = 1; break;
      case 'T': case 'X': case 'B': case 0x8b: length = 4; break;
      case 0x8d: case 0x8e: case 0x96: length = 8; break;
      case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': case 'g': lines = 1; break;
      case 'p': lines = 1, memo = true; break;
      case 'c': case 'i': lines = 2; break;
      case '(': case '0': case '1': case '2': case 'N': case 'R': case 'a': case 'b': case 'd': case '}':
      case 'e': case 'l': case ']': case 'o': case 's': case 't': case ')': case 'u': case 'Q':
      case 0x81: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8f: case 0x90: case 0x91:
      case 0x92: case 0x93: case 0x94: case 0x97: case 0x98:
        continue;  // no argument
      default: return "";  // an opcode the unpickler refuses
    }
    if (argument || length) {
      const auto width = argument + length;
      if (left() < width) return fmt::format("an opcode cut off after {} bytes", at);
      const auto value = little_endian(width);
      if (memo) {
        if (auto problem = memo_problem(value); !problem.empty()) return problem;
      } else if ((length || opcode == 0x95) && value > left()) {
        return fmt::format("{} bytes where {} are left", value, left());
      }
      if (length) at += value;
    }
    for (; lines > 0; --lines) {
      const auto end = pickle.find('\n', at);
      if (end == std::string_view::npos) return "a line without its end";
      if (memo) {  // a text PUT: the index in decimal
        const auto text = pickle.substr(at, end - at);
        std::uint64_t index = 0;
        if (std::from_chars(text.data(), text.data() + text.size(), index).ec == std::errc::result_out_of_range)
          return fmt::format("a memo index of {} in a pickle of {} bytes", text, pickle.size());
        if (auto problem = memo_problem(index); !problem.empty()) return problem;
      }
      at = end + 1;
    }
  }
  return "";  // no STOP: the unpickler says so
}

TORCHTRAIN_INLINE void check_archive(std::string_view bytes) {
  const auto directory_problem = zip_problem(bytes);
  TORCH_CHECK(directory_problem.empty(), "its zip directory declares ", directory_problem);
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<detail::BytesReader>(bytes));
  for (const auto& name : reader.getAllRecords()) {
    if (!name.ends_with(".pkl")) continue;
    const auto [data, size] = reader.getRecord(name);
    const auto problem = pickle_problem(std::string_view(static_cast<const char*>(data.get()), size));
    TORCH_CHECK(problem.empty(), "its ", name, " declares ", problem);
  }
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
