// CsvLogger: logs as the rows of a CSV table, for spreadsheets and pandas.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/io/append_file.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/file_error.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/logger/log_folder.hpp>
#include <torchtrain/trainer/metrics.hpp>
#include <torchtrain/trainer/trainer_state.hpp>

namespace torchtrain {

namespace detail {

/// `text` as a CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
/// break, with inner quotes doubled.
inline std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string field = "\"";
  for (char c : text) field += c == '"' ? std::string("\"\"") : std::string(1, c);
  return field + '"';
}

/// The fields of one CSV line (RFC 4180 quoting), without its line break.
inline std::vector<std::string> split_csv_line(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else if (c != '\r' || quoted) {
      fields.back() += c;
    }
  }
  return fields;
}

/// `value` as Python's csv module writes a float (its repr): 0.1, 4.5e-05, 1e+16, nan,
/// inf, -inf.
inline std::string csv_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return io::detail::python_float_repr(value);
}

}  // namespace detail

/// Logger policy: writes each log as one row of `<logging_dir>/log_history.csv`.
///
/// Columns: "step" (state.global_step) first, then every name logged, in the order first
/// seen. The header comes from the first log. A log that brings names not seen before
/// widens the table: the new columns go to the right, and the file is rewritten at once
/// (atomically) with the wider header and an empty cell there in every earlier row. A
/// row leaves empty the cells of names its log lacks (an evaluation row has no "loss").
/// Numbers are written as Python's csv module writes floats (0.1, 4.5e-05, nan, inf).
///
/// Each row reaches the system when it is logged. A file already there (a resumed run with
/// the same folder) is continued under its header. The file and its folder are created at
/// the first log, so that a logger that never logs (on a rank other than the main
/// process) writes nothing. Throws FileError when the file cannot be written, or when an
/// existing file's first column is not "step".
class CsvLogger {
 public:
  using torchtrain_category = category::logger;
  static constexpr std::string_view report_to_name = "csv";  // its name in --report_to
  static constexpr std::string_view file_name = "log_history.csv";

  /// Writes in `--logging_dir` (see LogFolder).
  CsvLogger() = default;
  explicit CsvLogger(std::filesystem::path logging_dir) : folder_(std::move(logging_dir)) {}

  void setup(const TrainingArguments& args) { folder_.setup(args); }

  void log(const Metrics& logs, const TrainerState& state) {
    if (!file_) open();
    const std::size_t known = columns_.size();
    for (const auto& [name, value] : logs)
      if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) columns_.push_back(name);
    if (!header_written_)
      write_header();
    else if (columns_.size() > known)
      widen(columns_.size() - known);

    std::string row = std::to_string(state.global_step);
    for (std::size_t column = 1; column < columns_.size(); ++column) {
      row += ',';
      for (const auto& [name, value] : logs)
        if (name == columns_[column]) {
          row += detail::csv_number(value);
          break;
        }
    }
    file_->append(row + '\n');
  }

  /// Nothing: the metrics that Trainer::log_metrics prints were logged when computed.
  void log_metrics(std::string_view, const Metrics&) {}

  /// The file the logs go to.
  std::filesystem::path path() const { return folder_.path() / file_name; }

 private:
  void open() {
    file_.emplace(io::open_lines_for_append(path()));
    const std::string content = io::read_file(path());
    header_written_ = !content.empty();
    if (!header_written_) {
      columns_ = {"step"};
      return;
    }
    columns_ = detail::split_csv_line(std::string_view(content).substr(0, content.find('\n')));
    if (columns_.front() != "step")
      throw FileError(fmt::format("cannot continue '{}': its first column is '{}', not 'step', so it is no table of "
                                  "logs; move it away or choose another logging_dir",
                                  path().string(), columns_.front()));
  }

  std::string header() const {
    std::string line;
    for (std::size_t column = 0; column < columns_.size(); ++column) {
      if (column > 0) line += ',';
      line += detail::csv_field(columns_[column]);
    }
    return line + '\n';
  }

  void write_header() {
    file_->append(header());
    header_written_ = true;
  }

  // Rewrites the file with the current header, every row ending in `added` empty cells.
  void widen(std::size_t added) {
    const std::string content = io::read_file(path());
    std::string widened = header();
    const std::string empty_cells(added, ',');
    for (std::size_t start = content.find('\n') + 1; start < content.size();) {
      const std::size_t end = std::min(content.find('\n', start), content.size());
      widened.append(content, start, end - start);
      widened += empty_cells + '\n';
      start = end + 1;
    }
    io::replace_file(path(), widened);
    file_.emplace(path());  // the old descriptor holds the file replaced
  }

  LogFolder folder_;
  std::optional<io::AppendFile> file_;
  std::vector<std::string> columns_;
  bool header_written_ = false;
};

}  // namespace torchtrain
