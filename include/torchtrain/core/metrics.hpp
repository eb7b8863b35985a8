// Metrics: named numbers in insertion order, the currency of logs and evaluation results.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// An ordered map from names to numbers, like the Python `Dict[str, float]` the Trainer
/// logs and returns (`{"loss": ..., "learning_rate": ..., "epoch": ...}`).
class Metrics {
 public:
  using value_type = std::pair<std::string, double>;

  Metrics() = default;
  Metrics(std::initializer_list<value_type> entries) {
    for (const auto& [name, value] : entries) set(name, value);
  }

  /// Sets `name`; a new name goes last, an existing one keeps its place.
  void set(std::string_view name, double value);

  bool contains(std::string_view name) const { return find(name) != nullptr; }

  /// The value of `name`; throws std::out_of_range naming the key when it is absent.
  double at(std::string_view name) const;

  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  /// Equal when both hold the same names with the same values, in any order (as Python
  /// dicts compare): a log read back from a file, where keys are sorted, equals the original.
  friend bool operator==(const Metrics& a, const Metrics& b);

 private:
  const value_type* find(std::string_view name) const;
  std::vector<value_type> entries_;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <stdexcept>

#include <fmt/format.h>

namespace torchtrain {

TORCHTRAIN_INLINE void Metrics::set(std::string_view name, double value) {
  for (auto& entry : entries_)
    if (entry.first == name) {
      entry.second = value;
      return;
    }
  entries_.emplace_back(std::string(name), value);
}

TORCHTRAIN_INLINE double Metrics::at(std::string_view name) const {
  if (const auto* entry = find(name)) return entry->second;
  throw std::out_of_range(fmt::format("no metric named '{}'", name));
}

TORCHTRAIN_INLINE bool operator==(const Metrics& a, const Metrics& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, value] : a.entries_) {
    const auto* other = b.find(name);
    if (other == nullptr || other->second != value) return false;
  }
  return true;
}

TORCHTRAIN_INLINE const Metrics::value_type* Metrics::find(std::string_view name) const {
  for (const auto& entry : entries_)
    if (entry.first == name) return &entry;
  return nullptr;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
