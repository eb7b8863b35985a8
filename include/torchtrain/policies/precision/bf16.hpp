// BF16: forward and loss under autocast to bfloat16; weights, gradients and optimizer state in float32.
#pragma once

#include <string_view>
#include <utility>

#include <torch/types.h>

#include <torchtrain/detail/autocast.hpp>
#include <torchtrain/policies/precision/fp32.hpp>

namespace torchtrain {

/// Precision policy for bfloat16 mixed precision (`--bf16`, Lightning's "bf16-mixed") on
/// the CPU and CUDA. bfloat16 has float32's range, so no loss scaling is needed: backward,
/// clipping and the optimizer step are FP32's.
struct BF16 : FP32 {
  static constexpr std::string_view name = "BF16";

  /// Sets --bf16 (Trainer<BF16> needs no flag); --fp16 is an error.
  void configure(TrainingArguments& args) const {
    if (args.fp16 && !args.bf16) throw detail::contradicting_precision_flag("fp16", name);
    args.bf16 = true;
  }
  void setup(torch::Device device) { device_type_ = device.type(); }

  template <class Forward>
  decltype(auto) autocast(Forward&& forward) {
    detail::AutocastScope scope(device_type_, torch::kBFloat16);
    return std::forward<Forward>(forward)();
  }

 private:
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
};

}  // namespace torchtrain
