// The default of --logging_dir: the Python TrainingArguments' runs/<date>_<host> under output_dir.
#pragma once

#include <filesystem>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// `output_dir/runs/<Mon DD_HH-MM-SS>_<host>` in local time, e.g.
/// `trainer_output/runs/Nov23_14-05-09_gpu1`: the default of the Python `logging_dir`
/// (and, with an empty `output_dir`, of PyTorch's `SummaryWriter()`: `runs/...`).
TORCHTRAIN_INLINE std::filesystem::path default_logging_dir(const std::filesystem::path& output_dir = {});

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <ctime>
#include <string>

#include <torchtrain/detail/host_name.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE std::filesystem::path default_logging_dir(const std::filesystem::path& output_dir) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char time_text[32] = "";
  std::strftime(time_text, sizeof time_text, "%b%d_%H-%M-%S", &local);
  return output_dir / "runs" / (std::string(time_text) + "_" + detail::host_name());
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
