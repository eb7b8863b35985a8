// LogWriter: the thread a file logger writes on, and the record it hands over.
#pragma once

#include <chrono>

#include <torchtrain/io/background_writer.hpp>
#include <torchtrain/trainer/metrics.hpp>

namespace torchtrain {

/// One log as a file logger's writer thread gets it: the values, the global step and
/// when it was logged.
struct LogRecord {
  Metrics logs;
  int step = 0;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
};

/// The file loggers' writer: a log costs the training thread a copy of its values; the
/// thread formats and writes them within 0.1 s (see io::BackgroundWriter). `Sink` holds
/// the open file and has `void write(std::vector<LogRecord>&)`.
template <class Sink>
using LogWriter = io::BackgroundWriter<LogRecord, Sink>;

}  // namespace torchtrain
