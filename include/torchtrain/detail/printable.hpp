// printable: text from outside the program (a flag's value, a key, a field of a file) made fit to quote in a message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// `text` as a message may show it: printable characters (ASCII and well-formed UTF-8) as
/// they are, every other byte as `\xNN` (NUL, newline and invalid UTF-8 included), and only
/// the first `limit` characters, then how long the text was. A message that quotes what a
/// user gave must stay one short, printable line, whatever was given: a binary file, 64 KiB
/// of one flag, a NUL byte (which would end the message in C).
TORCHTRAIN_INLINE std::string printable(std::string_view text, std::size_t limit = 80);

/// LibTorch's reason for refusing a file, as a message may show it: printable, without the
/// advice its zip reader adds that a miniz error may be a bug of PyTorch (of a file read
/// here, it is a damaged file).
TORCHTRAIN_INLINE std::string libtorch_reason(std::string_view what);

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

namespace torchtrain::detail {

// The length of the well-formed UTF-8 sequence of a printable character at text[i]; 0 for
// a control byte, a C1 control or a byte that starts no well-formed sequence.
inline std::size_t printable_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead >= 0x20 && lead < 0x7f) return 1;
  const std::size_t length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3
                             : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k)
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  if (lead == 0xc2 && byte(i + 1) < 0xa0) return 0;                  // U+0080..U+009F, the C1 controls
  if (lead == 0xe0 && byte(i + 1) < 0xa0) return 0;                  // overlong
  if (lead == 0xed && byte(i + 1) >= 0xa0) return 0;                 // a UTF-16 surrogate
  if (lead == 0xf0 && byte(i + 1) < 0x90) return 0;                  // overlong
  if (lead == 0xf4 && byte(i + 1) >= 0x90) return 0;                 // beyond U+10FFFF
  return length;
}

TORCHTRAIN_INLINE std::string printable(std::string_view text, std::size_t limit) {
  std::string shown;
  std::size_t i = 0;
  for (std::size_t characters = 0; i < text.size() && characters < limit; ++characters) {
    if (const auto length = printable_sequence(text, i); length > 0) {
      shown.append(text.substr(i, length));
      i += length;
    } else {
      shown += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i++]));
    }
  }
  if (i < text.size()) shown += fmt::format("... ({} bytes in all)", text.size());
  return shown;
}

TORCHTRAIN_INLINE std::string libtorch_reason(std::string_view what) {
  if (const auto advice = what.find(". This is an internal miniz error"); advice != std::string_view::npos)
    what = what.substr(0, advice);
  return printable(what, 200);
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
