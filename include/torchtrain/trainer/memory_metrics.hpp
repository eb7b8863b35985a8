// MemoryMetrics: the Python Trainer's memory metrics (--skip_memory_metrics false).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <c10/core/CachingDeviceAllocator.h>
#include <fmt/format.h>
#include <torch/cuda.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>

namespace torchtrain {

/// The memory a stage of the Trainer (init, train, eval, test) allocated and peaked at, as
/// the Python Trainer's TrainerMemoryTracker reports it with `--skip_memory_metrics false`:
/// `<stage>_mem_cpu_alloc_delta` (resident memory at the end minus at the start, in bytes),
/// `<stage>_mem_cpu_peaked_delta` (the peak above the end), and on CUDA the same of the
/// caching allocator's allocated bytes (`_gpu_`). The first stage reported also carries
/// init's and `before_init_mem_cpu`/`_gpu`. An evaluation inside training reports nothing
/// of its own, as in Python. The CPU peak is the kernel's (VmHWM, reset at each start), not
/// a sampling thread's.
class MemoryMetrics {
 public:
  explicit MemoryMetrics(bool skip) : skip_(skip) {}

  void start(const char* stage);

  /// Ends `stage` and adds its metrics (and init's, the first time) to `metrics`.
  void stop_and_update(const char* stage, Metrics& metrics);

 private:
  struct Delta {
    std::int64_t begin = 0, end = 0, peak = 0;
  };

  static bool cuda() { return torch::cuda::is_available(); }
  static c10::DeviceAllocator* allocator() { return c10::getDeviceAllocator(c10::DeviceType::CUDA); }
  static c10::CachingDeviceAllocator::Stat allocated_gpu_bytes();

  static void add(const char* stage, const Delta& cpu, const std::optional<Delta>& gpu, Metrics& metrics);

  bool skip_;
  const char* current_ = nullptr;
  std::int64_t cpu_start_ = 0, gpu_start_ = 0;
  std::optional<Delta> init_cpu_, init_gpu_;
  bool init_reported_ = false, before_init_reported_ = false;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fstream>

namespace torchtrain::detail {

// The resident set size of this process now ("VmRSS") or at its peak ("VmHWM"), in bytes.
inline std::int64_t resident_bytes(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with(field)) return std::stoll(line.substr(line.find(':') + 1)) * 1024;  // the file says kB
  return 0;
}

// Starts the peak resident size ("VmHWM") over from the current size; false where the
// kernel does not allow it.
inline bool reset_resident_peak() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

}  // namespace torchtrain::detail

namespace torchtrain {

TORCHTRAIN_INLINE void MemoryMetrics::start(const char* stage) {
  if (skip_ || current_) return;  // a stage inside another: the outer one counts
  current_ = stage;
  if (cuda()) {
    allocator()->resetPeakStats(0);
    allocator()->emptyCache();
    gpu_start_ = allocated_gpu_bytes().current;
  }
  detail::reset_resident_peak();
  cpu_start_ = detail::resident_bytes("VmRSS:");
}

TORCHTRAIN_INLINE void MemoryMetrics::stop_and_update(const char* stage, Metrics& metrics) {
  if (skip_ || current_ != std::string_view(stage)) return;
  current_ = nullptr;
  Delta cpu{.begin = cpu_start_, .end = detail::resident_bytes("VmRSS:")};
  cpu.peak = std::max(detail::resident_bytes("VmHWM:"), cpu.end);
  std::optional<Delta> gpu;
  if (cuda()) {
    allocator()->emptyCache();
    const auto stats = allocated_gpu_bytes();
    gpu = Delta{.begin = gpu_start_, .end = stats.current, .peak = stats.peak};
  }
  if (std::string_view(stage) == "init") {
    init_cpu_ = cpu;
    init_gpu_ = gpu;
    return;
  }
  if (init_cpu_ && !init_reported_) {
    init_reported_ = true;
    add("init", *init_cpu_, init_gpu_, metrics);
  }
  add(stage, cpu, gpu, metrics);
  if (init_reported_ && !before_init_reported_) {
    before_init_reported_ = true;
    metrics.set("before_init_mem_cpu", static_cast<double>(init_cpu_->begin));
    if (init_gpu_) metrics.set("before_init_mem_gpu", static_cast<double>(init_gpu_->begin));
  }
}

TORCHTRAIN_INLINE c10::CachingDeviceAllocator::Stat MemoryMetrics::allocated_gpu_bytes() {
  return allocator()->getDeviceStats(0).allocated_bytes[static_cast<std::size_t>(
      c10::CachingDeviceAllocator::StatType::AGGREGATE)];
}

TORCHTRAIN_INLINE void MemoryMetrics::add(const char* stage, const Delta& cpu, const std::optional<Delta>& gpu, Metrics& metrics) {
  metrics.set(fmt::format("{}_mem_cpu_alloc_delta", stage), static_cast<double>(cpu.end - cpu.begin));
  if (gpu) metrics.set(fmt::format("{}_mem_gpu_alloc_delta", stage), static_cast<double>(gpu->end - gpu->begin));
  metrics.set(fmt::format("{}_mem_cpu_peaked_delta", stage), static_cast<double>(std::max<std::int64_t>(0, cpu.peak - cpu.end)));
  if (gpu)
    metrics.set(fmt::format("{}_mem_gpu_peaked_delta", stage),
                static_cast<double>(std::max<std::int64_t>(0, gpu->peak - gpu->end)));
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
