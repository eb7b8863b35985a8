// The pickles of a torch.save file or LibTorch archive, checked before LibTorch's unpickler allocates what they declare.
#pragma once

#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>

namespace torchtrain::io {

/// Why LibTorch's unpickler must not read `pickle`, or "" when every length it declares
/// fits in the bytes left and every memo index it stores under is below its size. The
/// unpickler allocates what a length or a memo index says before it finds the pickle short
/// (pytorch/pytorch#185443): a crafted file of a few kilobytes could take gigabytes.
/// Opcodes it does not know end the check: the unpickler refuses them itself.
TORCHTRAIN_INLINE std::string pickle_problem(std::string_view pickle);

/// Checks every pickle (`*.pkl` record) of the zip archive in `bytes`, as torch.save and
/// LibTorch's archives write it; a c10::Error names the record and what it declares.
TORCHTRAIN_INLINE void check_pickles(std::string_view bytes);

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

}  // namespace detail

TORCHTRAIN_INLINE std::string pickle_problem(std::string_view pickle) {
  std::size_t at = 0;
  const auto left = [&] { return pickle.size() - at; };
  const auto little_endian = [&](std::size_t width) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value |= std::uint64_t{static_cast<unsigned char>(pickle[at + i])} << (8 * i);
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

TORCHTRAIN_INLINE void check_pickles(std::string_view bytes) {
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
