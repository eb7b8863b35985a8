// CsvLogger: logs as the rows of a CSV table, for spreadsheets and pandas.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/io/append_file.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/logger/log_folder.hpp>
#include <torchtrain/policies/logger/log_writer.hpp>

namespace torchtrain {

/// Logger policy: writes each log as one row of `<logging_dir>/log_history.csv`.
///
/// Columns: "step" (state.global_step) first, then every name logged, in the order first
/// seen. The header comes from the first log. A log that brings names not seen before
/// widens the table: the new columns go to the right, and the file is rewritten
/// (atomically) with the wider header and an empty cell there in every earlier row. A
/// row leaves empty the cells of names its log lacks (an evaluation row has no "loss").
/// Numbers are written as Python's csv module writes floats (0.1, 4.5e-05, nan, inf).
///
/// A file already there (a resumed run with the same folder) is continued under its
/// header. The file and its folder are created at the first log, so that a logger that
/// never logs (on a rank other than the main process) writes nothing; an error there
/// (the folder cannot be made, an existing file's first column is not "step") is thrown
/// at once. The rows are written off the training thread (see LogWriter: within 0.1 s,
/// flush(), errors).
class CsvLogger {
 public:
  using torchtrain_category = category::logger;
  static constexpr std::string_view report_to_name = "csv";  // its name in --report_to
  static constexpr std::string_view file_name = "log_history.csv";

  /// Writes in `--logging_dir` (see LogFolder).
  CsvLogger() = default;
  explicit CsvLogger(std::filesystem::path logging_dir) : folder_(std::move(logging_dir)) {}
  // Defined with the other members, so that a program does not compile the writer's thread.
  CsvLogger(CsvLogger&&) noexcept;
  CsvLogger& operator=(CsvLogger&&) noexcept;
  ~CsvLogger();

  void setup(const TrainingArguments& args) { folder_.setup(args); }

  void log(const Metrics& logs, const TrainerState& state);

  /// Nothing: the metrics that Trainer::log_metrics prints were logged when computed.
  void log_metrics(std::string_view, const Metrics&) {}

  /// Returns once every log so far is in the file.
  void flush();

  /// The file the logs go to.
  std::filesystem::path path() const { return folder_.path() / file_name; }

 private:
  // The open file and its columns; only the writer thread touches it after open().
  struct Table {
    std::filesystem::path path;
    io::AppendFile file;
    std::vector<std::string> columns;
    bool header_written = false;

    static Table open(const std::filesystem::path& path);
    void write(const std::vector<LogRecord>& records);
    std::string header() const;
    // Rewrites the file with the current header, every row ending in `added` empty cells.
    void widen(std::size_t added);
  };

  LogFolder folder_;
  std::unique_ptr<LogWriter<Table>> writer_;  // a pointer: a program does not instantiate the writer
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/python_float_repr.hpp>
#include <torchtrain/io/durable_file.hpp>

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
  return torchtrain::detail::python_float_repr(value);
}

}  // namespace detail

TORCHTRAIN_INLINE CsvLogger::CsvLogger(CsvLogger&&) noexcept = default;
TORCHTRAIN_INLINE CsvLogger& CsvLogger::operator=(CsvLogger&&) noexcept = default;
TORCHTRAIN_INLINE CsvLogger::~CsvLogger() = default;

TORCHTRAIN_INLINE void CsvLogger::log(const Metrics& logs, const TrainerState& state) {
  if (!writer_) writer_ = std::make_unique<LogWriter<Table>>(Table::open(path()));
  writer_->push({logs, state.global_step});
}

TORCHTRAIN_INLINE void CsvLogger::flush() {
  if (writer_) writer_->flush();
}

TORCHTRAIN_INLINE CsvLogger::Table CsvLogger::Table::open(const std::filesystem::path& path) {
  Table table{path, io::open_lines_for_append(path), {"step"}, false};
  const std::string content = io::read_file(path);
  if (content.empty()) return table;
  table.header_written = true;
  table.columns = detail::split_csv_line(std::string_view(content).substr(0, content.find('\n')));
  if (table.columns.front() != "step")
    throw FileError(fmt::format("cannot continue '{}': its first column is '{}', not 'step', so it is no table "
                                "of logs; move it away or choose another logging_dir",
                                path.string(), table.columns.front()));
  return table;
}

TORCHTRAIN_INLINE void CsvLogger::Table::write(const std::vector<LogRecord>& records) {
  std::string rows;
  for (const auto& [logs, step, time] : records) {
    const std::size_t known = columns.size();
    for (const auto& [name, value] : logs)
      if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
    if (!header_written) {
      rows += header();
      header_written = true;
    } else if (columns.size() > known) {
      file.append(rows);
      rows.clear();
      widen(columns.size() - known);
    }
    rows += std::to_string(step);
    for (std::size_t column = 1; column < columns.size(); ++column) {
      rows += ',';
      for (const auto& [name, value] : logs)
        if (name == columns[column]) {
          rows += detail::csv_number(value);
          break;
        }
    }
    rows += '\n';
  }
  file.append(rows);
}

TORCHTRAIN_INLINE std::string CsvLogger::Table::header() const {
  std::string line;
  for (std::size_t column = 0; column < columns.size(); ++column) {
    if (column > 0) line += ',';
    line += detail::csv_field(columns[column]);
  }
  return line + '\n';
}

TORCHTRAIN_INLINE void CsvLogger::Table::widen(std::size_t added) {
  const std::string content = io::read_file(path);
  std::string widened = header();
  const std::string empty_cells(added, ',');
  for (std::size_t start = content.find('\n') + 1; start < content.size();) {
    const std::size_t end = std::min(content.find('\n', start), content.size());
    widened.append(content, start, end - start);
    widened += empty_cells + '\n';
    start = end + 1;
  }
  io::replace_file(path, widened);
  file = io::AppendFile(path);  // the old descriptor holds the file replaced
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
