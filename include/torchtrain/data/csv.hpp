// Reading numeric CSV files, plain or gzip-compressed, with errors that name file and line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::data {

/// The numbers of a CSV file, row-major.
struct CsvTable {
  std::vector<float> values;
  std::int64_t rows = 0;
  std::int64_t columns = 0;

  /// A [rows, columns] float32 tensor holding a copy of the values.
  torch::Tensor to_tensor() const {
    return torch::from_blob(const_cast<float*>(values.data()), {rows, columns}, torch::kFloat32)
        .clone();
  }
};

/// Reads a CSV file of numbers, separated by commas, one row per line, every row with
/// the same number of fields. `skip_header_lines` lines at the top are ignored. A file
/// ending in .gz (or any gzip data) is decompressed on the fly.
/// Throws DataError naming the file, line and column for anything that is not such a table.
TORCHTRAIN_INLINE CsvTable read_numeric_csv(const std::filesystem::path& path, int skip_header_lines = 0);

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <zlib.h>

#include <torchtrain/detail/printable.hpp>

namespace torchtrain::data {

namespace detail {

// The whole content of a file; gzip data is decompressed, anything else read as is.
inline std::string read_maybe_gzipped(const std::filesystem::path& path) {
  if (std::error_code error; std::filesystem::is_directory(path, error))  // gzread would say "Is a directory"
    throw DataError(fmt::format("cannot read '{}': it is a folder; name a file", path.string()));
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr)
    throw DataError(fmt::format("cannot open '{}': {}", path.string(),
                                errno ? std::strerror(errno) : "out of memory"));
  std::string content;
  char buffer[1 << 16];
  int read = 0;
  while ((read = gzread(file, buffer, sizeof buffer)) > 0) content.append(buffer, static_cast<std::size_t>(read));
  int code = Z_OK;
  std::string message = gzerror(file, &code);  // a stream cut short ends reading with Z_BUF_ERROR
  if (read < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    gzclose(file);
    if (auto prefix = path.string() + ": "; message.starts_with(prefix)) message.erase(0, prefix.size());
    throw DataError(fmt::format("cannot read '{}': {} (is the file damaged?)", path.string(), message));
  }
  gzclose(file);
  return content;
}

}  // namespace detail

TORCHTRAIN_INLINE CsvTable read_numeric_csv(const std::filesystem::path& path, int skip_header_lines) {
  const std::string content = detail::read_maybe_gzipped(path);
  CsvTable table;
  std::string_view rest = content;
  for (std::int64_t line_number = 1; !rest.empty(); ++line_number) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_number <= skip_header_lines || line.find_first_not_of(" \t") == std::string_view::npos)
      continue;

    std::int64_t fields = 0;
    for (std::size_t start = 0; start <= line.size(); ++fields) {
      auto comma = std::min(line.find(',', start), line.size());
      std::string_view field = line.substr(start, comma - start);
      while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
      while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
      float value = 0;
      auto [parsed_end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (field.empty() || error != std::errc{} || parsed_end != field.data() + field.size())
        throw DataError(fmt::format("{}:{}: field {} is '{}', not a number{}{}", path.string(), line_number,
                                    fields + 1, torchtrain::detail::printable(field),
                                    error == std::errc::result_out_of_range ? " a float can hold" : "",
                                    "; fix or drop that line"));
      if (!std::isfinite(value))  // nan and inf parse, and would ruin the run in silence
        throw DataError(fmt::format("{}:{}: field {} is '{}', not a finite number; fill or drop that row",
                                    path.string(), line_number, fields + 1, torchtrain::detail::printable(field)));
      table.values.push_back(value);
      start = comma + 1;
    }
    if (table.rows > 0 && fields != table.columns)
      throw DataError(fmt::format("{}:{}: expected {} fields like the lines before, found {}; fix or drop that line",
                                  path.string(), line_number, table.columns, fields));
    table.columns = fields;
    ++table.rows;
  }
  if (table.rows == 0)
    throw DataError(fmt::format("{}: no data rows (the file is empty or blank); give a file of comma-separated numbers",
                                path.string()));
  return table;
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
