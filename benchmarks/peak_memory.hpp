// PeakMemory: counts the bytes LibTorch allocates on the CPU, to compare peak memory of runs.
#pragma once

#include <cstddef>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <c10/core/CPUAllocator.h>

namespace bench {

/// Wraps LibTorch's CPU allocator while alive (one at a time): every allocation is counted
/// until freed, and the highest total since reset() is the peak.
class PeakMemory final : public c10::Allocator {
 public:
  PeakMemory() : base_(c10::GetCPUAllocator()) {
    instance_ = this;
    c10::SetCPUAllocator(this);
  }
  ~PeakMemory() override {
    c10::SetCPUAllocator(base_);
    instance_ = nullptr;
  }

  // The data pointer is its own context (LibTorch's raw_allocate requires that); the
  // wrapped allocation is kept in a map until released.
  c10::DataPtr allocate(std::size_t bytes) override {
    auto inner = base_->allocate(bytes);
    void* data = inner.get();
    std::lock_guard lock(mutex_);
    live_.emplace(data, Allocation{std::move(inner), bytes});
    current_ += bytes;
    if (current_ > peak_) peak_ = current_;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* destination, const void* source, std::size_t bytes) const override {
    std::memcpy(destination, source, bytes);
  }

  void reset() {
    std::lock_guard lock(mutex_);
    peak_ = current_;
  }
  std::size_t peak_bytes() const {
    std::lock_guard lock(mutex_);
    return peak_;
  }
  std::size_t current_bytes() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  struct Allocation {
    c10::DataPtr inner;
    std::size_t bytes;
  };
  static void release(void* data) {
    if (data == nullptr) return;
    c10::DataPtr freed;  // destroyed outside the lock
    {
      std::lock_guard lock(instance_->mutex_);
      auto found = instance_->live_.find(data);
      instance_->current_ -= found->second.bytes;
      freed = std::move(found->second.inner);
      instance_->live_.erase(found);
    }
  }

  static inline PeakMemory* instance_ = nullptr;
  c10::Allocator* base_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, Allocation> live_;
  mutable std::size_t current_ = 0;
  mutable std::size_t peak_ = 0;
};

}  // namespace bench
