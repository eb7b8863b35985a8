// AppendFile: a log file that only grows, each append handed to the system at once.
#pragma once

#include <filesystem>
#include <string_view>
#include <utility>

#include <torchtrain/core/config.hpp>

namespace torchtrain::io {

/// A file opened for appending. Each append() is one write() to the system, nothing is
/// buffered in the process: a reader that follows the file (`tail -f`, TensorBoard) sees
/// every record as soon as it is appended, and a crash of the process loses none (the
/// system still writes them to disk in its own time: no fsync per record).
class AppendFile {
 public:
  /// Opens `path` for appending, creating it (mode 0644 less the umask) when missing;
  /// its folder must exist. Throws FileError naming the path.
  explicit AppendFile(std::filesystem::path path);

  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  AppendFile(AppendFile&& other) noexcept
      : path_(std::move(other.path_)), descriptor_(std::exchange(other.descriptor_, -1)) {}
  AppendFile& operator=(AppendFile&& other) noexcept;
  ~AppendFile();

  /// Appends `bytes` at the end of the file. Throws FileError (naming the file, the
  /// system's reason and what to do) when not all of them can be written.
  void append(std::string_view bytes);

  const std::filesystem::path& path() const { return path_; }

 private:
  void close() noexcept;

  std::filesystem::path path_;
  int descriptor_ = -1;
};

/// Creates `folder` and its parents where missing. Throws FileError naming the folder.
TORCHTRAIN_INLINE void create_folders(const std::filesystem::path& folder);

/// Opens the text file `path` to append lines to it, creating its folders and the file
/// when missing. When a crash left the file ending in the middle of a line, that line is
/// ended first, so that the next line appended starts on a line of its own.
/// Throws FileError naming the path.
TORCHTRAIN_INLINE AppendFile open_lines_for_append(const std::filesystem::path& path);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cerrno>
#include <cstddef>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain::io {

TORCHTRAIN_INLINE AppendFile::AppendFile(std::filesystem::path path)
    : path_(std::move(path)), descriptor_(detail::open_or_throw(path_, O_WRONLY | O_CREAT | O_APPEND, "open")) {}

TORCHTRAIN_INLINE AppendFile& AppendFile::operator=(AppendFile&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    descriptor_ = std::exchange(other.descriptor_, -1);
  }
  return *this;
}

TORCHTRAIN_INLINE AppendFile::~AppendFile() { close(); }

TORCHTRAIN_INLINE void AppendFile::append(std::string_view bytes) {
  // One call for the whole record unless the system writes less (a signal, a full disk:
  // the next call then reports the reason).
  while (!bytes.empty()) {
    const ssize_t written = ::write(descriptor_, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw detail::system_error("write", path_, written < 0 ? errno : EIO);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
}

TORCHTRAIN_INLINE void AppendFile::close() noexcept {
  if (descriptor_ >= 0) ::close(std::exchange(descriptor_, -1));
}

TORCHTRAIN_INLINE void create_folders(const std::filesystem::path& folder) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error)
    throw FileError(fmt::format("cannot create the folder '{}': {}; check the path and its permissions",
                                folder.string(), error.message()));
}

TORCHTRAIN_INLINE AppendFile open_lines_for_append(const std::filesystem::path& path) {
  if (path.has_parent_path()) create_folders(path.parent_path());
  AppendFile file(path);
  if (!std::filesystem::is_regular_file(path)) return file;  // a device or a pipe has no last line
  FileReader reader(path);
  if (reader.size() > 0) {
    char last = '\n';
    reader.read_at(reader.size() - 1, &last, 1);
    if (last != '\n') file.append("\n");
  }
  return file;
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
