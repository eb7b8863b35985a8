// Read-only bytes with shared ownership: a file's pages mapped into memory, or a string made
// here. Tensors may point into them and keep them alive, so a large file is loaded without
// copying it into new memory first (on the machines measured, touching new memory cost
// more than reading the disk: docs/benchmarks.md, "Checkpoints").
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain::io {

class SharedBytes {
 public:
  SharedBytes() = default;
  /// Takes `bytes` made in memory (implicit, so that a std::string assigns).
  SharedBytes(std::string bytes);

  /// The whole content of `path`, mapped copy-on-write: nothing is read until it is used,
  /// and a write into the mapping (through a tensor that points into it) changes this
  /// process's copy of that page, never the file. Like every mapping (and Python's
  /// safetensors), it assumes the file is not truncated while it lives: the checkpoints
  /// torchtrain maps are never rewritten, only removed whole. With `checksum`, also the
  /// file's length and CRC-32, read at once: over the mapping where the whole file is in
  /// the page cache, else by reading it through a small buffer as `cat` does, which brings
  /// it into the page cache (from the disk, 1.3 times as fast as faulting the mapping in
  /// page by page: docs/benchmarks.md, "Checkpoints"). Throws FileError.
  static SharedBytes map_file(const std::filesystem::path& path, FileChecksum* checksum = nullptr);

  std::string_view view() const { return view_; }
  const char* data() const { return view_.data(); }
  std::size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  /// What keeps the bytes alive: a copy of it, held by a tensor's deleter, outlives this.
  const std::shared_ptr<const void>& owner() const { return owner_; }

  friend bool operator==(const SharedBytes& bytes, std::string_view other) { return bytes.view_ == other; }

 private:
  std::shared_ptr<const void> owner_;
  std::string_view view_;
};

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include <torchtrain/io/crc32.hpp>

namespace torchtrain::io {

TORCHTRAIN_INLINE SharedBytes::SharedBytes(std::string bytes) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  view_ = *owned;
  owner_ = std::move(owned);
}

namespace detail {

// The CRC-32 of `file`, mapped at `mapped`: see SharedBytes::map_file.
inline std::uint32_t crc32_of_mapped_file(const FileReader& file, const char* mapped, std::size_t size) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  if (::mincore(const_cast<char*>(mapped), size, resident.data()) == 0 &&
      std::all_of(resident.begin(), resident.end(), [](unsigned char flags) { return flags & 1; }))
    return io::crc32(0, mapped, size);
  std::vector<char> buffer(std::min(size, std::size_t{256} << 10));  // stays in the CPU's cache
  std::uint32_t crc = 0;
  for (std::size_t offset = 0; offset < size; offset += buffer.size()) {
    const auto piece = std::min(buffer.size(), size - offset);
    file.read_at(offset, buffer.data(), piece);
    crc = io::crc32(crc, buffer.data(), piece);
  }
  return crc;
}

}  // namespace detail

TORCHTRAIN_INLINE SharedBytes SharedBytes::map_file(const std::filesystem::path& path, FileChecksum* checksum) {
  const FileReader file(path);  // open, and a regular file
  SharedBytes bytes;
  const auto size = static_cast<std::size_t>(file.size());
  if (checksum) *checksum = {.size = size, .crc32 = 0};
  if (size == 0) {  // a mapping cannot be empty
    bytes.owner_ = std::make_shared<const std::string>();
    return bytes;
  }
  void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.native_handle(), 0);
  if (mapped == MAP_FAILED) throw detail::system_error("map", path, errno);
  // The mapping keeps the file open when the reader closes it.
  bytes.view_ = std::string_view(static_cast<const char*>(mapped), size);
  bytes.owner_ = std::shared_ptr<const void>(mapped, [size](const void* at) { ::munmap(const_cast<void*>(at), size); });
  if (checksum) checksum->crc32 = detail::crc32_of_mapped_file(file, bytes.data(), size);
  return bytes;
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
