// What the benchmarks share: a logger policy that prints nothing, and the median.
#pragma once

#include <algorithm>
#include <string_view>
#include <vector>

#include <torchtrain/torchtrain.hpp>

namespace bench {

/// Keeps a benchmark's table readable: the timed runs print nothing.
struct SilentLogger {
  using torchtrain_category = torchtrain::category::logger;
  void log(const torchtrain::Metrics&, const torchtrain::TrainerState&) {}
  void log_metrics(std::string_view, const torchtrain::Metrics&) {}
};

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace bench
