// StepLogs: values that user code adds to the training log (the Python Trainer's `self.log`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>

namespace torchtrain {

/// Values added by a custom training step or a callback, kept until the next training log,
/// which gets the mean of each over the steps since the last one (as `loss` is the mean over
/// the logging interval). A tensor value stays on its device until then, so adding one costs
/// no synchronization. Each process keeps its own; the main process's reach the logs.
class StepLogs {
 public:
  void add(std::string_view key, const torch::Tensor& value);
  void add(std::string_view key, double value);

  /// Adds the mean of each value to `logs`, and forgets them; ArgumentError when a name is
  /// one the Trainer logs itself.
  void move_means_into(Metrics& logs);

 private:
  struct Entry {
    std::string key;
    torch::Tensor tensor_sum;
    double number_sum = 0;
    int count = 0;
  };
  Entry& find(std::string_view key);

  std::vector<Entry> entries_;  // in the order first added, which is the order logged
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE void StepLogs::add(std::string_view key, const torch::Tensor& value) {
  auto& entry = find(key);
  const auto sum = value.detach().to(torch::kDouble).sum();
  entry.tensor_sum = entry.tensor_sum.defined() ? entry.tensor_sum + sum : sum;
  ++entry.count;
}

TORCHTRAIN_INLINE void StepLogs::add(std::string_view key, double value) {
  auto& entry = find(key);
  entry.number_sum += value;
  ++entry.count;
}

TORCHTRAIN_INLINE void StepLogs::move_means_into(Metrics& logs) {
  for (auto& entry : entries_) {
    if (logs.contains(entry.key))
      throw ArgumentError(fmt::format("a custom log is named '{}', which the Trainer logs itself; give it another "
                                      "name (for example 'custom_{}')",
                                      entry.key, entry.key));
    double sum = entry.number_sum;
    if (entry.tensor_sum.defined()) sum += entry.tensor_sum.item<double>();
    logs.set(entry.key, sum / static_cast<double>(entry.count));
  }
  entries_.clear();
}

TORCHTRAIN_INLINE StepLogs::Entry& StepLogs::find(std::string_view key) {
  for (auto& entry : entries_)
    if (entry.key == key) return entry;
  return entries_.emplace_back(Entry{std::string(key)});
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
