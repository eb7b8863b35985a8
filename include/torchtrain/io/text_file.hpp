// Reading and writing whole text files, with errors that name the file and the reason.
#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <torchtrain/io/python_json.hpp>

namespace torchtrain::io {

namespace detail {

inline std::string last_system_error() { return errno != 0 ? std::strerror(errno) : "unknown error"; }

}  // namespace detail

/// The bytes of the file at `path`. Throws FileError naming the file when it cannot be
/// opened or read.
inline std::string read_text_file(const std::filesystem::path& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("cannot open '{}': {}", path.string(), detail::last_system_error()));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw FileError(fmt::format("cannot read '{}': {}", path.string(), detail::last_system_error()));
  return text;
}

/// Replaces the file at `path` with `text` (a plain write: neither atomic nor synced to
/// disk). Throws FileError naming the file when it cannot be written.
inline void write_text_file(const std::filesystem::path& path, std::string_view text) {
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw FileError(fmt::format("cannot create '{}': {}", path.string(), detail::last_system_error()));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw FileError(fmt::format("cannot write '{}': {}", path.string(), detail::last_system_error()));
}

}  // namespace torchtrain::io
