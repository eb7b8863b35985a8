// Metrics as JSON objects, with the number types the Python Trainer's files have.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>

namespace torchtrain {

/// Whether a metric is a count that Python holds as an int: "step" (in log_history) and
/// the "<split>_samples" counts that example scripts add to results. Everything else the
/// Python Trainer logs is a float.
TORCHTRAIN_INLINE bool is_count_metric(std::string_view name);

/// `metrics` as a JSON object. Every value is written as a float (1.0, not 1), as
/// Python writes its float metrics, except that a count (is_count_metric) with an
/// integral value is written as an integer, as Python writes `"step": 10`.
TORCHTRAIN_INLINE nlohmann::json metrics_to_json(const Metrics& metrics);

/// Metrics from a JSON object of numbers (integers, floats, NaN, Infinity), in the
/// object's (sorted) key order. Throws FileError naming `source` and `key` (or
/// `key.name`) when `json` is not an object of numbers.
TORCHTRAIN_INLINE Metrics metrics_from_json(const nlohmann::json& json, std::string_view source, std::string_view key);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE bool is_count_metric(std::string_view name) { return name == "step" || name.ends_with("_samples"); }

TORCHTRAIN_INLINE nlohmann::json metrics_to_json(const Metrics& metrics) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [name, value] : metrics) {
    constexpr double exact_integers = 9007199254740992.0;  // 2^53: every integer below is a double
    if (is_count_metric(name) && std::trunc(value) == value && std::abs(value) <= exact_integers)
      json[name] = static_cast<std::int64_t>(value);
    else
      json[name] = value;
  }
  return json;
}

TORCHTRAIN_INLINE Metrics metrics_from_json(const nlohmann::json& json, std::string_view source, std::string_view key) {
  if (!json.is_object()) throw io::unexpected_value(source, key, "an object of numbers", json);
  Metrics metrics;
  for (const auto& [name, value] : json.items()) {
    if (!value.is_number()) throw io::unexpected_value(source, fmt::format("{}.{}", key, name), "a number", value);
    metrics.set(name, value.get<double>());
  }
  return metrics;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
