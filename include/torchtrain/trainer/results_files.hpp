// The results files of a run (<split>_results.json and all_results.json), as the Python
// `Trainer.save_metrics` writes them.
#pragma once

#include <filesystem>
#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>

namespace torchtrain {

/// Like Python's `Trainer.save_metrics(split, metrics, combined=True)`: writes
/// `<output_dir>/<split>_results.json` and merges `metrics` into
/// `<output_dir>/all_results.json` (keeping the keys already there, replacing those
/// `metrics` has), both as `json.dump(..., indent=4, sort_keys=True)` writes them, with
/// no final newline. Values are floats except counts (see metrics_to_json). Creates
/// `output_dir` when missing. Call it on the main process only, as Python does.
/// Throws FileError naming the folder or file when it cannot be created, read or
/// written, or when an existing all_results.json does not hold a JSON object.
TORCHTRAIN_INLINE void save_metrics(const std::filesystem::path& output_dir, std::string_view split, const Metrics& metrics);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <system_error>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/metrics_json.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE void save_metrics(const std::filesystem::path& output_dir, std::string_view split, const Metrics& metrics) {
  std::error_code error;
  std::filesystem::create_directories(output_dir, error);
  if (error) throw FileError(fmt::format("cannot create the folder '{}': {}", output_dir.string(), error.message()));

  const nlohmann::json results = metrics_to_json(metrics);
  io::replace_file(output_dir / fmt::format("{}_results.json", split), io::python_json_dumps(results, 4));

  const auto all_path = output_dir / "all_results.json";
  nlohmann::json all_results = nlohmann::json::object();
  if (std::filesystem::exists(all_path)) {
    all_results = io::python_json_loads(io::read_file(all_path), all_path.string());
    io::require_object(all_results, all_path.string());
  }
  all_results.update(results);
  io::replace_file(all_path, io::python_json_dumps(all_results, 4));
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
