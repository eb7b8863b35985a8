// LogWriter: the thread a file logger writes on, and the record it hands over.
#pragma once

#include <chrono>

#include <torchtrain/core/metrics.hpp>
#include <torchtrain/io/background_writer.hpp>

namespace torchtrain {

/// One log as a file logger's writer thread gets it: the values, the global step and
/// when it was logged.
struct LogRecord {
  Metrics logs;
  int step = 0;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
};

/// The file loggers' writer: a log costs the training thread a copy of its values; a
/// thread of the logger's own formats and writes them, each within 0.1 s of its log (see
/// io::BackgroundWriter). The logger's flush(), which the Trainer calls before a save and
/// when train(), evaluate() or predict() returns, waits for all. A write error from the
/// thread (a full disk) is a FileError thrown by the next log or flush. `Sink` holds the
/// open file and has `void write(std::vector<LogRecord>&)`.
template <class Sink>
using LogWriter = io::BackgroundWriter<LogRecord, Sink>;

}  // namespace torchtrain
