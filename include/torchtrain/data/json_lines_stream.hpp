// JsonLinesStream: a JSON lines file read one line at a time, as an IterableDataset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <torch/data/example.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/json_fields.hpp>

struct gzFile_s;  // zlib's open file (zlib.h), which only the definitions need whole

namespace torchtrain::data {

/// The samples of a JSON lines file (plain or gzip) in file order, as JsonLinesDataset
/// reads them, but holding one line at a time: for files larger than memory. Errors name
/// the file and line, when the line is reached.
class JsonLinesStream {
 public:
  explicit JsonLinesStream(std::filesystem::path path, JsonFields fields = {})
      : path_(std::move(path)), fields_(std::move(fields)) {
    restart(0);
  }

  /// Back to the first line (the order is the file's, whatever the epoch).
  void restart(std::int64_t /*epoch*/ = 0);

  std::optional<torch::data::Example<>> next();

 private:
  struct Close {
    void operator()(gzFile_s* file) const;
  };

  // The next line without its newline; false at the end of the file.
  bool read_line(std::string& line);

  std::filesystem::path path_;
  JsonFields fields_;
  std::unique_ptr<gzFile_s, Close> file_;
  std::int64_t line_number_ = 0;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <zlib.h>

#include <torchtrain/data/detail/json_sample.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE void JsonLinesStream::restart(std::int64_t /*epoch*/) {
  file_.reset(gzopen(path_.c_str(), "rb"));
  if (!file_)
    throw DataError(fmt::format("cannot open '{}': {}", path_.string(), errno ? std::strerror(errno) : "out of memory"));
  line_number_ = 0;
}

TORCHTRAIN_INLINE std::optional<torch::data::Example<>> JsonLinesStream::next() {
  std::string line;
  while (read_line(line)) {
    ++line_number_;
    if (!detail::is_blank(line))
      return detail::json_sample(line, fields_, fmt::format("{}:{}", path_.string(), line_number_));
  }
  return std::nullopt;
}

TORCHTRAIN_INLINE void JsonLinesStream::Close::operator()(gzFile_s* file) const { gzclose(file); }

TORCHTRAIN_INLINE bool JsonLinesStream::read_line(std::string& line) {
  line.clear();
  char buffer[1 << 12];
  while (gzgets(file_.get(), buffer, sizeof buffer) != nullptr) {
    line += buffer;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      return true;
    }
  }
  int code = Z_OK;
  const char* message = gzerror(file_.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END)
    throw DataError(fmt::format("cannot read '{}': {} (is the file damaged?)", path_.string(), message));
  return !line.empty();  // a last line without a newline
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
