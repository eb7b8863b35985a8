// LibTorch serialization archives as bytes in memory, so that they can be written durably.
#pragma once

#include <string>
#include <string_view>

#include <c10/util/Exception.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::io {

/// The bytes `archive.save_to(file)` would write (a LibTorch zip archive, which C++
/// `torch::load` and Python `torch.jit.load` read).
TORCHTRAIN_INLINE std::string archive_bytes(torch::serialize::OutputArchive& archive);

/// Loads `bytes` into `archive`; FileError naming `file_name` when they are no archive.
TORCHTRAIN_INLINE void load_archive(torch::serialize::InputArchive& archive, std::string_view bytes,
                                    std::string_view file_name);

namespace detail {

// read_archive's error: the FileError naming `file_name` for LibTorch's `error`.
[[noreturn]] TORCHTRAIN_INLINE void throw_cannot_restore(std::string_view file_name, const c10::Error& error);

}  // namespace detail

/// Runs `read(archive)`, turning LibTorch's errors (a missing key, a wrong type) into a
/// FileError naming `file_name`.
template <class Read>
void read_archive(std::string_view bytes, std::string_view file_name, Read&& read) {
  torch::serialize::InputArchive archive;
  load_archive(archive, bytes, file_name);
  try {
    read(archive);
  } catch (const c10::Error& error) {
    detail::throw_cannot_restore(file_name, error);
  }
}

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <exception>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/archive_check.hpp>

namespace torchtrain::io {

TORCHTRAIN_INLINE std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream stream;
  archive.save_to(stream);
  return std::move(stream).str();
}

TORCHTRAIN_INLINE void load_archive(torch::serialize::InputArchive& archive, std::string_view bytes,
                                    std::string_view file_name) {
  const auto damaged = [&](std::string_view reason) {
    return FileError(fmt::format("cannot read '{}': it is not a LibTorch archive or it is damaged ({}); resume from an "
                                 "earlier checkpoint",
                                 file_name, torchtrain::detail::libtorch_reason(reason)));
  };
  try {
    check_archive(bytes);
    archive.load_from(bytes.data(), bytes.size());
  } catch (const c10::Error& error) {
    throw damaged(error.what_without_backtrace());
  } catch (const std::exception& error) {
    // LibTorch's unpickler also throws the standard library's exceptions on bytes it cannot
    // make sense of: torch::jit::ErrorReport for a class name it does not know,
    // std::out_of_range for an object whose fields are missing.
    throw damaged(error.what());
  }
}

}  // namespace torchtrain::io

namespace torchtrain::io::detail {

[[noreturn]] TORCHTRAIN_INLINE void throw_cannot_restore(std::string_view file_name, const c10::Error& error) {
  throw FileError(fmt::format("cannot restore from '{}': {}; it was written for another model, optimizer or "
                              "version, or it is damaged",
                              file_name, torchtrain::detail::libtorch_reason(error.what_without_backtrace())));
}

}  // namespace torchtrain::io::detail

#endif  // TORCHTRAIN_DEFINITIONS
