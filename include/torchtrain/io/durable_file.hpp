// Durable file writes and checked reads: every error becomes a FileError, and a folder is
// published by an atomic rename only once everything in it is on disk.
#pragma once

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <stdio.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::io {

/// What identifies a file's content: its length and its CRC-32 (zlib's `crc32`, io::crc32).
struct FileChecksum {
  std::uint64_t size = 0;
  std::uint32_t crc32 = 0;
  friend bool operator==(const FileChecksum&, const FileChecksum&) = default;
};

namespace detail {

// `action` is a verb such as "write"; std::generic_category() gives strerror's text
// without strerror's shared buffer, since an asynchronous writer throws from its own thread.
TORCHTRAIN_INLINE FileError system_error(std::string_view action, const std::filesystem::path& path, int error);

}  // namespace detail

/// A new file written front to back. Keeps the CRC-32 and length of what was written.
/// A failed write leaves a partial file behind: write into a temporary folder and
/// publish_directory() it, so that nothing incomplete ever has the final name.
class FileWriter {
 public:
  /// Creates `path` (mode 0644 less the umask), emptying a file already there.
  /// Throws FileError when it cannot be created.
  explicit FileWriter(std::filesystem::path path);

  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  FileWriter(FileWriter&& other) noexcept
      : path_(std::move(other.path_)),
        descriptor_(std::exchange(other.descriptor_, -1)),
        checksum_(other.checksum_) {}
  FileWriter& operator=(FileWriter&& other) noexcept;

  /// Closes the file without syncing it when finish() was not called (an error is
  /// already on its way, or the caller gave up on the file).
  ~FileWriter() { close_quietly(); }

  /// Appends `size` bytes from `data`, straight from that memory. Throws FileError (naming
  /// the file, the system's reason and what to do) when not all of them can be written.
  /// Requires: finish() not called yet.
  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  /// Syncs the file to disk and closes it; returns the length and CRC-32 of all that was
  /// written. Throws FileError when the system reports a failure in either step.
  /// Requires: finish() not called yet.
  FileChecksum finish();

  const std::filesystem::path& path() const { return path_; }
  /// The number of bytes written so far.
  std::uint64_t size() const { return checksum_.size; }

 private:
  void close_quietly() noexcept;

  std::filesystem::path path_;
  int descriptor_ = -1;
  FileChecksum checksum_;
};

/// Writes `bytes` as the whole content of `path`, synced to disk. Throws FileError.
TORCHTRAIN_INLINE FileChecksum write_file(const std::filesystem::path& path, std::string_view bytes);

/// An existing regular file, read at any offset.
class FileReader {
 public:
  /// Opens `path`. Throws FileError when it cannot be opened or is not a regular file.
  explicit FileReader(std::filesystem::path path);
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader();

  /// The length the file had when it was opened.
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  /// The open file's descriptor, e.g. to map it (SharedBytes::map_file); the reader owns it.
  int native_handle() const { return descriptor_; }

  /// Reads `size` bytes at `offset` into `destination`. Throws FileError when the system
  /// fails or the file ends first (it shrank after it was opened).
  void read_at(std::uint64_t offset, void* destination, std::size_t size) const;

 private:
  std::filesystem::path path_;
  int descriptor_;
  std::uint64_t size_ = 0;
};

/// The whole content of `path`. Throws FileError, e.g. "cannot open 'x': No such file or
/// directory; check the path; its folder must exist".
TORCHTRAIN_INLINE std::string read_file(const std::filesystem::path& path);

/// The whole content of `path`, and in `found` the length and CRC-32 of those very bytes:
/// a file checked as it is read, once. Throws FileError.
TORCHTRAIN_INLINE std::string read_file(const std::filesystem::path& path, FileChecksum& found);

/// The length and CRC-32 of the file at `path`, to compare with what FileWriter::finish()
/// returned. Throws FileError.
TORCHTRAIN_INLINE FileChecksum checksum_file(const std::filesystem::path& path);

/// Makes the entries of folder `path` (names created, renamed or removed in it) durable.
/// Throws FileError.
TORCHTRAIN_INLINE void fsync_directory(const std::filesystem::path& path);

/// Makes folder `temporary` visible as `final` only once all of it is on disk: syncs every
/// file and folder under `temporary` (files written by other means than FileWriter
/// included), renames it to `final` and syncs the folder holding `final`. A crash at any
/// point leaves either no `final` or a complete one.
/// Requires: both on one file system; `final` does not exist (FileError otherwise, with
/// nothing changed).
TORCHTRAIN_INLINE void publish_directory(const std::filesystem::path& temporary, const std::filesystem::path& final);

/// Replaces the file at `path` with what `write(FileWriter&)` writes, atomically: the
/// bytes go to `<path>.tmp`, are synced, and renamed over `path`, then the folder is
/// synced. On an error the old file is untouched and the temporary one removed.
template <class Write>
  requires std::invocable<Write&, FileWriter&>
FileChecksum replace_file(const std::filesystem::path& path, Write&& write) {
  auto temporary = path;
  temporary += ".tmp";
  std::error_code ignored;
  try {
    FileWriter file(temporary);
    write(file);
    const auto checksum = file.finish();
    if (::rename(temporary.c_str(), path.c_str()) != 0) throw detail::system_error("replace", path, errno);
    fsync_directory(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."));
    return checksum;
  } catch (...) {
    std::filesystem::remove(temporary, ignored);
    throw;
  }
}

/// Replaces the file at `path` with `bytes`, atomically (see above).
TORCHTRAIN_INLINE FileChecksum replace_file(const std::filesystem::path& path, std::string_view bytes);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <torchtrain/io/crc32.hpp>

namespace torchtrain::io {

namespace detail {

// What a user can do about a failed system call. ENOSPC and EFBIG are what a full disk
// or an exceeded `ulimit -f` look like halfway through a checkpoint.
inline std::string_view advice_for(int error) {
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      return "free space on that disk or choose another --output_dir";
    case EFBIG:
      return "the file outgrew the size this process (ulimit -f) or the file system allows; "
             "raise that limit or choose another --output_dir";
    case EROFS:
      return "that file system is read-only; choose another --output_dir";
    case EACCES:
    case EPERM:
      return "check the permissions of that path";
    case ENOENT:
    case ENOTDIR:
      return "check the path; its folder must exist";
    case EIO:
      return "the storage device reported an error; check it (dmesg) before trying again";
    default:
      return "check the path and the storage it is on";
  }
}

TORCHTRAIN_INLINE FileError system_error(std::string_view action, const std::filesystem::path& path, int error) {
  return FileError(fmt::format("cannot {} '{}': {}; {}", action, path.string(),
                               std::generic_category().message(error), advice_for(error)));
}

inline int open_or_throw(const std::filesystem::path& path, int flags, std::string_view action) {
  int descriptor = -1;
  do descriptor = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  while (descriptor < 0 && errno == EINTR);
  if (descriptor < 0) throw system_error(action, path, errno);
  return descriptor;
}

// fsync and close, both checked: on some file systems (NFS) a failed write shows up
// only in close.
inline void sync_and_close(int descriptor, const std::filesystem::path& path) {
  if (::fsync(descriptor) != 0) {
    int error = errno;
    ::close(descriptor);
    throw system_error("write", path, error);
  }
  if (::close(descriptor) != 0 && errno != EINTR) throw system_error("write", path, errno);
}

inline void sync_path(const std::filesystem::path& path, int flags) {
  sync_and_close(open_or_throw(path, flags, "open"), path);
}

}  // namespace detail

TORCHTRAIN_INLINE FileWriter::FileWriter(std::filesystem::path path)
    : path_(std::move(path)), descriptor_(detail::open_or_throw(path_, O_WRONLY | O_CREAT | O_TRUNC, "create")) {}

TORCHTRAIN_INLINE FileWriter& FileWriter::operator=(FileWriter&& other) noexcept {
  if (this != &other) {
    close_quietly();
    path_ = std::move(other.path_);
    descriptor_ = std::exchange(other.descriptor_, -1);
    checksum_ = other.checksum_;
  }
  return *this;
}

TORCHTRAIN_INLINE void FileWriter::write(const void* data, std::size_t size) {
  if (descriptor_ < 0) throw std::logic_error("FileWriter::write after finish()");
  const auto* bytes = static_cast<const unsigned char*>(data);
  checksum_.crc32 = io::crc32(checksum_.crc32, bytes, size);
  // write() may write less than asked (a signal, a limit reached); the next call then
  // reports the reason.
  while (size > 0) {
    ssize_t written = ::write(descriptor_, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw detail::system_error("write", path_, written < 0 ? errno : EIO);
    bytes += written;
    size -= static_cast<std::size_t>(written);
    checksum_.size += static_cast<std::uint64_t>(written);
  }
}

TORCHTRAIN_INLINE FileChecksum FileWriter::finish() {
  if (descriptor_ < 0) throw std::logic_error("FileWriter::finish called twice");
  detail::sync_and_close(std::exchange(descriptor_, -1), path_);
  return checksum_;
}

TORCHTRAIN_INLINE void FileWriter::close_quietly() noexcept {
  if (descriptor_ >= 0) ::close(std::exchange(descriptor_, -1));
}

TORCHTRAIN_INLINE FileChecksum write_file(const std::filesystem::path& path, std::string_view bytes) {
  FileWriter file(path);
  file.write(bytes);
  return file.finish();
}

TORCHTRAIN_INLINE FileReader::FileReader(std::filesystem::path path)
    : path_(std::move(path)), descriptor_(detail::open_or_throw(path_, O_RDONLY, "open")) {
  struct stat status {};
  if (::fstat(descriptor_, &status) != 0) {
    int error = errno;
    ::close(descriptor_);
    throw detail::system_error("read", path_, error);
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(descriptor_);
    throw FileError(fmt::format("cannot read '{}': it is not a regular file; check the path", path_.string()));
  }
  size_ = static_cast<std::uint64_t>(status.st_size);
}

TORCHTRAIN_INLINE FileReader::~FileReader() { ::close(descriptor_); }

TORCHTRAIN_INLINE void FileReader::read_at(std::uint64_t offset, void* destination, std::size_t size) const {
  auto* bytes = static_cast<unsigned char*>(destination);
  while (size > 0) {
    ssize_t got = ::pread(descriptor_, bytes, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw detail::system_error("read", path_, errno);
    if (got == 0)
      throw FileError(fmt::format("cannot read '{}': it ends at byte {}, before the {} bytes it had when opened; "
                                  "another process changed it, read it again once that process is done",
                                  path_.string(), offset, size_));
    bytes += got;
    size -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

TORCHTRAIN_INLINE std::string read_file(const std::filesystem::path& path) {
  FileReader file(path);
  std::string content(file.size(), '\0');
  file.read_at(0, content.data(), content.size());
  return content;
}

TORCHTRAIN_INLINE std::string read_file(const std::filesystem::path& path, FileChecksum& found) {
  auto content = read_file(path);
  found = {.size = content.size(), .crc32 = io::crc32(0, content.data(), content.size())};
  return content;
}

TORCHTRAIN_INLINE FileChecksum checksum_file(const std::filesystem::path& path) {
  FileReader file(path);
  std::string chunk(std::size_t{1} << 20, '\0');
  FileChecksum checksum{.size = file.size()};
  for (std::uint64_t offset = 0; offset < file.size(); offset += chunk.size()) {
    auto size = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), file.size() - offset));
    file.read_at(offset, chunk.data(), size);
    checksum.crc32 = io::crc32(checksum.crc32, chunk.data(), size);
  }
  return checksum;
}

TORCHTRAIN_INLINE void fsync_directory(const std::filesystem::path& path) { detail::sync_path(path, O_RDONLY | O_DIRECTORY); }

TORCHTRAIN_INLINE void publish_directory(const std::filesystem::path& temporary, const std::filesystem::path& final) {
  namespace fs = std::filesystem;
  auto refuse = [&](std::string_view why) {
    return FileError(fmt::format("cannot publish '{}' as '{}': {}", temporary.string(), final.string(), why));
  };
  std::error_code error;
  if (fs::exists(fs::symlink_status(final, error)))
    throw refuse("the destination already exists; remove it or choose another --output_dir");
  for (auto it = fs::recursive_directory_iterator(temporary, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (it->is_directory())
      fsync_directory(it->path());
    else if (it->is_regular_file())
      detail::sync_path(it->path(), O_RDONLY);
  }
  if (error) throw refuse(fmt::format("{}; check the path of the temporary folder", error.message()));
  fsync_directory(temporary);
  // rename() would silently replace an empty folder created at `final` meanwhile;
  // RENAME_NOREPLACE refuses it, where the file system supports it.
  int failed = ::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, final.c_str(), RENAME_NOREPLACE);
  if (failed != 0 && (errno == EINVAL || errno == ENOSYS)) failed = ::rename(temporary.c_str(), final.c_str());
  if (failed != 0) {
    int reason = errno;
    if (reason == EEXIST || reason == ENOTEMPTY)
      throw refuse("the destination already exists; remove it or choose another --output_dir");
    if (reason == EXDEV)
      throw refuse("they are on different file systems; keep the temporary folder beside the destination");
    throw refuse(fmt::format("{}; {}", std::generic_category().message(reason), detail::advice_for(reason)));
  }
  auto folder_of = [](const fs::path& path) { return path.has_parent_path() ? path.parent_path() : fs::path("."); };
  fsync_directory(folder_of(final));
  if (folder_of(temporary) != folder_of(final)) fsync_directory(folder_of(temporary));
}

TORCHTRAIN_INLINE FileChecksum replace_file(const std::filesystem::path& path, std::string_view bytes) {
  return replace_file(path, [&](FileWriter& file) { file.write(bytes); });
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
