// HostCopy: a checkpoint's tensors copied to host memory, so that training may change the originals while a thread writes the copies.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/types.h>

#include <torchtrain/checkpoint/checkpoint.hpp>

namespace torchtrain {

/// Replaces every tensor of `checkpoint` (the weights and the optimizer_state's) by a copy
/// in host memory, so that the next steps may change the originals, and returns what the
/// writer waits for before it reads the copies:
/// - a tensor on the CPU is copied at once (the only time the caller is held);
/// - a tensor on an accelerator (CUDA) goes into pinned host memory by a non-blocking copy
///   on a side stream, which starts once the work queued so far is done; the caller's
///   stream then waits for the copies on the device (so that the next optimizer step
///   cannot change a tensor before it is copied) and the caller's thread does not wait.
///   The returned event is recorded after the copies: wait_for_host_copy() before reading.
class HostCopy {
 public:
  explicit HostCopy(Checkpoint& checkpoint) {
    for (auto& [name, tensor] : checkpoint.model) tensor = copy(tensor);
    if (checkpoint.optimizer_state) *checkpoint.optimizer_state = copy(*checkpoint.optimizer_state);
    if (!side_stream_) return;
    copied_.emplace(side_stream_->device_type());
    copied_->record(*side_stream_);
    copied_->block(*caller_stream_);
  }

  /// Returns once every copy is in host memory (at once for copies of CPU tensors). Keep
  /// the HostCopy until the copies are written.
  void wait() {
    if (copied_) copied_->synchronize();
    sources_.clear();
  }

 private:
  torch::Tensor copy(const torch::Tensor& tensor) {
    if (!tensor.defined()) return tensor;
    if (tensor.is_cpu()) return tensor.clone(at::MemoryFormat::Contiguous);
    if (!side_stream_) start_side_stream(tensor.device());
    TORCH_CHECK(tensor.device() == side_stream_->device(), "a checkpoint's tensors on two devices: ", tensor.device(),
                " and ", side_stream_->device());
    const c10::StreamGuard on_side_stream(*side_stream_);
    auto host = torch::empty(tensor.sizes(), tensor.options().device(torch::kCPU).pinned_memory(true));
    host.copy_(tensor, /*non_blocking=*/true);
    sources_.push_back(tensor);  // alive until copied, though the checkpoint lets go of it
    return host;
  }

  // `borrowed`: references to `value` that the walk itself holds. LibTorch's pickler
  // memoizes a tensor referenced elsewhere too (an optimizer's moments, which the optimizer
  // holds): such a copy is held here as well, so that optimizer.pt is byte for byte what a
  // synchronous save of the originals writes.
  c10::IValue copy(const c10::IValue& value, long borrowed = 0) {
    if (value.isTensor()) {
      const auto& tensor = value.toTensor();
      auto host = copy(tensor);
      if (tensor.use_count() - borrowed > 1) shared_copies_.push_back(host);
      return host;
    }
    if (value.isGenericDict()) {
      const auto dict = value.toGenericDict();
      c10::impl::GenericDict copied(dict.keyType(), dict.valueType());
      for (const auto& entry : dict) copied.insert(entry.key(), copy(entry.value()));
      return copied;
    }
    if (value.isList()) {
      const auto list = value.toList();
      c10::impl::GenericList copied(list.elementType());
      for (const auto& element : list) copied.push_back(copy(c10::IValue(element), 1));
      return copied;
    }
    if (value.isTuple()) {
      std::vector<c10::IValue> elements;
      for (const auto& element : value.toTupleRef().elements()) elements.push_back(copy(element));
      return c10::ivalue::Tuple::create(std::move(elements));
    }
    return value;  // numbers, strings, None: immutable
  }

  // The side stream starts after what the caller's stream has queued (the step that
  // produced these tensors).
  void start_side_stream(c10::Device device) {
    const auto* guard = c10::impl::getDeviceGuardImpl(device.type());
    caller_stream_ = guard->getStream(device);
    side_stream_ = guard->getStreamFromGlobalPool(device);
    c10::Event queued(device.type());
    queued.record(*caller_stream_);
    queued.block(*side_stream_);
  }

  std::optional<c10::Stream> caller_stream_, side_stream_;
  std::optional<c10::Event> copied_;
  std::vector<torch::Tensor> sources_, shared_copies_;
};

}  // namespace torchtrain
