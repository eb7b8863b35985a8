// TensorBoardLogger: logs as TensorBoard scalars, under the tags the Python Trainer uses.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/io/event_file.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/logger/log_folder.hpp>
#include <torchtrain/policies/logger/log_writer.hpp>

namespace torchtrain {

/// The TensorBoard tag of the logged value `name`, by the Python Trainer's rule
/// (`rewrite_logs`): "eval_<x>" becomes "eval/<x>", "test_<x>" becomes "test/<x>", and
/// every other name goes under "train/": "loss" is "train/loss", "learning_rate"
/// "train/learning_rate", "epoch" "train/epoch" (in evaluation logs too).
TORCHTRAIN_INLINE std::string tensorboard_tag(std::string_view name);

/// Logger policy: writes each value of each log as a TensorBoard scalar (tag by
/// tensorboard_tag, step = state.global_step, value as a float32, stamped with the time
/// of the log) into an event file in `logging_dir`, as the Python Trainer does with
/// report_to="tensorboard"; view them with `tensorboard --logdir <logging_dir>`. The file
/// (see io::EventFileWriter) is created at the first log, so that a logger that never
/// logs (on a rank other than the main process) writes nothing; an error there is thrown
/// at once. The events are encoded and written off the training thread (see LogWriter:
/// within 0.1 s, flush(), errors).
class TensorBoardLogger {
 public:
  using torchtrain_category = category::logger;
  static constexpr std::string_view report_to_name = "tensorboard";  // its name in --report_to

  /// Writes in `--logging_dir` (see LogFolder).
  TensorBoardLogger() = default;
  explicit TensorBoardLogger(std::filesystem::path logging_dir) : folder_(std::move(logging_dir)) {}
  // Defined with the other members, so that a program does not compile the writer's thread.
  TensorBoardLogger(TensorBoardLogger&&) noexcept;
  TensorBoardLogger& operator=(TensorBoardLogger&&) noexcept;
  ~TensorBoardLogger();

  void setup(const TrainingArguments& args) { folder_.setup(args); }

  void log(const Metrics& logs, const TrainerState& state);

  /// Nothing: the metrics that Trainer::log_metrics prints were logged when computed.
  void log_metrics(std::string_view, const Metrics&) {}

  /// Returns once every log so far is in the file.
  void flush();

  const std::filesystem::path& logging_dir() const { return folder_.path(); }
  /// The event file, once the first log has created it.
  const std::optional<std::filesystem::path>& event_file() const { return event_file_; }

 private:
  struct Events {
    io::EventFileWriter file;
    void write(const std::vector<LogRecord>& records);
  };

  LogFolder folder_;
  std::optional<std::filesystem::path> event_file_;
  std::unique_ptr<LogWriter<Events>> writer_;  // a pointer: a program does not instantiate the writer
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE std::string tensorboard_tag(std::string_view name) {
  if (name.starts_with("eval_")) return "eval/" + std::string(name.substr(5));
  if (name.starts_with("test_")) return "test/" + std::string(name.substr(5));
  return "train/" + std::string(name);
}

TORCHTRAIN_INLINE TensorBoardLogger::TensorBoardLogger(TensorBoardLogger&&) noexcept = default;
TORCHTRAIN_INLINE TensorBoardLogger& TensorBoardLogger::operator=(TensorBoardLogger&&) noexcept = default;
TORCHTRAIN_INLINE TensorBoardLogger::~TensorBoardLogger() = default;

TORCHTRAIN_INLINE void TensorBoardLogger::log(const Metrics& logs, const TrainerState& state) {
  if (!writer_) {
    Events events{io::EventFileWriter(folder_.path())};
    event_file_ = events.file.path();
    writer_ = std::make_unique<LogWriter<Events>>(std::move(events));
  }
  writer_->push({logs, state.global_step});
}

TORCHTRAIN_INLINE void TensorBoardLogger::flush() {
  if (writer_) writer_->flush();
}

TORCHTRAIN_INLINE void TensorBoardLogger::Events::write(const std::vector<LogRecord>& records) {
  for (const auto& [logs, step, time] : records)
    for (const auto& [name, value] : logs) file.add_scalar(tensorboard_tag(name), value, step, time);
  file.flush();
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
