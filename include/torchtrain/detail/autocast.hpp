// AutocastScope: LibTorch's autocast switched on for one device type, for one scope.
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// True where LibTorch autocasts ops on `device` (the CPU and CUDA among others; both to
/// bfloat16 and float16).
TORCHTRAIN_INLINE bool autocast_supported(c10::DeviceType device);

/// While alive, ops on `device` run under autocast to `dtype`; the previous setting comes
/// back at the end of the scope, and the cast cache is cleared when the outermost scope ends.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool was_enabled_;
  c10::ScalarType previous_dtype_;
};

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <ATen/autocast_mode.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE bool autocast_supported(c10::DeviceType device) { return at::autocast::is_autocast_available(device); }

TORCHTRAIN_INLINE AutocastScope::AutocastScope(c10::DeviceType device, c10::ScalarType dtype)
    : device_(device),
      was_enabled_(at::autocast::is_autocast_enabled(device)),
      previous_dtype_(at::autocast::get_autocast_dtype(device)) {
  at::autocast::set_autocast_enabled(device, true);
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::increment_nesting();
}

TORCHTRAIN_INLINE AutocastScope::~AutocastScope() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, was_enabled_);
  at::autocast::set_autocast_dtype(device_, previous_dtype_);
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
