// JsonLinesLogger: each log as one JSON object on a line of its own, appended to a file.
#pragma once

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

/// The JSON line of a log at `step`: the object `python_json_dumps(metrics_to_json(entry))`
/// writes for the log_history entry (the log's values and "step"), and a line break.
/// Written straight from the values, without a JSON tree in between, since it runs at
/// every log.
TORCHTRAIN_INLINE std::string json_line(const Metrics& logs, int step);

/// Logger policy: appends each log to `<logging_dir>/log_history.jsonl` as one line
/// holding the JSON object that trainer_state.json's log_history holds for it: the
/// log's values and "step", keys sorted, numbers as Python's json module writes them:
///   {"epoch": 0.5, "grad_norm": 1.25, "learning_rate": 4.5e-05, "loss": 0.4321, "step": 50}
/// A file already there (a resumed run with the same folder) is continued. The file and
/// its folder are created at the first log, so that a logger that never logs (on a rank
/// other than the main process) writes nothing; an error there is thrown at once.
///
/// The lines are written off the training thread (see LogWriter: within 0.1 s, so
/// `tail -f` shows them; flush(); errors).
class JsonLinesLogger {
 public:
  using torchtrain_category = category::logger;
  static constexpr std::string_view report_to_name = "jsonl";  // its name in --report_to
  static constexpr std::string_view file_name = "log_history.jsonl";

  /// Writes in `--logging_dir` (see LogFolder).
  JsonLinesLogger() = default;
  explicit JsonLinesLogger(std::filesystem::path logging_dir) : folder_(std::move(logging_dir)) {}
  // Defined with the other members, so that a program does not compile the writer's thread.
  JsonLinesLogger(JsonLinesLogger&&) noexcept;
  JsonLinesLogger& operator=(JsonLinesLogger&&) noexcept;
  ~JsonLinesLogger();

  void setup(const TrainingArguments& args) { folder_.setup(args); }

  void log(const Metrics& logs, const TrainerState& state);

  /// Nothing: the metrics that Trainer::log_metrics prints were logged when computed.
  void log_metrics(std::string_view, const Metrics&) {}

  /// Returns once every log so far is in the file.
  void flush();

  /// The file the logs go to.
  std::filesystem::path path() const { return folder_.path() / file_name; }

 private:
  struct Lines {
    io::AppendFile file;
    void write(const std::vector<LogRecord>& records);
  };

  LogFolder folder_;
  std::unique_ptr<LogWriter<Lines>> writer_;  // a pointer: a program does not instantiate the writer
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <torchtrain/detail/python_float_repr.hpp>
#include <torchtrain/io/metrics_json.hpp>
#include <torchtrain/io/python_json.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE std::string json_line(const Metrics& logs, int step) {
  std::vector<std::pair<std::string_view, double>> entries;
  entries.reserve(logs.size() + 1);
  for (const auto& [name, value] : logs)
    if (name != "step") entries.emplace_back(name, value);
  entries.emplace_back("step", step);
  std::sort(entries.begin(), entries.end());  // by name, as Python's sort_keys (UTF-8 byte order is code point order)
  std::string line = "{";
  for (const auto& [name, value] : entries) {
    if (line.size() > 1) line += ", ";
    line += io::detail::python_quote(name);
    line += ": ";
    constexpr double exact_integers = 9007199254740992.0;  // 2^53, as metrics_to_json
    if (is_count_metric(name) && std::trunc(value) == value && std::abs(value) <= exact_integers)
      line += std::to_string(static_cast<std::int64_t>(value));
    else
      line += torchtrain::detail::python_float_repr(value);
  }
  return line + "}\n";
}

TORCHTRAIN_INLINE JsonLinesLogger::JsonLinesLogger(JsonLinesLogger&&) noexcept = default;
TORCHTRAIN_INLINE JsonLinesLogger& JsonLinesLogger::operator=(JsonLinesLogger&&) noexcept = default;
TORCHTRAIN_INLINE JsonLinesLogger::~JsonLinesLogger() = default;

TORCHTRAIN_INLINE void JsonLinesLogger::log(const Metrics& logs, const TrainerState& state) {
  if (!writer_) writer_ = std::make_unique<LogWriter<Lines>>(Lines{io::open_lines_for_append(path())});
  writer_->push({logs, state.global_step});
}

TORCHTRAIN_INLINE void JsonLinesLogger::flush() {
  if (writer_) writer_->flush();
}

TORCHTRAIN_INLINE void JsonLinesLogger::Lines::write(const std::vector<LogRecord>& records) {
  std::string lines;
  for (const auto& record : records) lines += json_line(record.logs, record.step);
  file.append(lines);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
