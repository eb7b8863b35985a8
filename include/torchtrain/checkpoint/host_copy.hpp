// HostCopy: a checkpoint's tensors copied to host memory, so that training may change the originals while a thread writes the copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include <sys/mman.h>

#include <ATen/core/ivalue.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/io/copy_tensor.hpp>

namespace torchtrain {

namespace detail {

// New host memory for a copy of `like`: pinned by LibTorch's allocator when `pinned`; else,
// from 1 MiB up, mapped on its own instead of taken from malloc. A save's 100 MB taken from
// malloc's heap, and kept for the next save, moved where glibc put the training step's
// gradients: after it each step faulted 32 MB of fresh pages in, and 25 ms steps took 40
// (docs/benchmarks.md, "Checkpoints").
inline torch::Tensor new_host_tensor(const torch::Tensor& like, bool pinned) {
  const auto options = like.options().device(torch::kCPU);
  const auto bytes = static_cast<std::size_t>(like.numel()) * like.element_size();
  if (pinned || bytes < (std::size_t{1} << 20)) return torch::empty(like.sizes(), options.pinned_memory(pinned));
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  ::madvise(memory, bytes, MADV_HUGEPAGE);
  return torch::from_blob(memory, like.sizes(), [bytes](void* at) { ::munmap(at, bytes); }, options);
}

}  // namespace detail

/// Host tensors kept from one save for the next (AsyncCheckpoint), so that a copy lands in
/// memory already mapped: on a machine where first touching fresh pages is slow (a VM),
/// copying into new memory costs about what writing it to disk does. Any kept tensor of the
/// same dtype, shape and pinning serves, since a copy overwrites all of it.
class HostBuffers {
 public:
  /// A contiguous CPU tensor of `like`'s dtype and shape, pinned when `pinned`: one kept,
  /// or new memory when none fits (the first save, or shapes that changed).
  torch::Tensor take(const torch::Tensor& like, bool pinned) {
    if (auto found = kept_.find(key(like, pinned)); found != kept_.end() && !found->second.empty()) {
      auto buffer = std::move(found->second.back());
      found->second.pop_back();
      return buffer;
    }
    return detail::new_host_tensor(like, pinned);
  }

  /// Keeps the tensors of a written checkpoint (the weights, optimizer_state's) that
  /// nothing else holds once `written` is gone; a tensor held elsewhere (given by the
  /// caller, not copied) is left alone.
  void keep(Checkpoint written) {
    std::vector<torch::Tensor> tensors;
    for (auto& [name, tensor] : written.model) tensors.push_back(std::move(tensor));
    if (written.optimizer_state) collect(*written.optimizer_state, tensors);
    written = {};  // lets go of the optimizer_state's references
    for (auto& tensor : tensors)
      if (tensor.defined() && tensor.use_count() == 1 && tensor.is_cpu() && tensor.is_contiguous() &&
          tensor.storage_offset() == 0 && tensor.storage().nbytes() == tensor.nbytes())
        kept_[key(tensor, tensor.is_pinned())].push_back(std::move(tensor));
  }

 private:
  using Key = std::tuple<c10::ScalarType, std::vector<std::int64_t>, bool>;
  static Key key(const torch::Tensor& tensor, bool pinned) {
    return {tensor.scalar_type(), tensor.sizes().vec(), pinned};
  }
  static void collect(const c10::IValue& value, std::vector<torch::Tensor>& tensors) {
    if (value.isTensor()) tensors.push_back(value.toTensor());
    if (value.isGenericDict())
      for (const auto& entry : value.toGenericDict()) collect(entry.value(), tensors);
    if (value.isList())
      for (const auto& element : value.toListRef()) collect(element, tensors);
    if (value.isTuple())
      for (const auto& element : value.toTupleRef().elements()) collect(element, tensors);
  }

  std::map<Key, std::vector<torch::Tensor>> kept_;
};

/// Replaces every tensor of `checkpoint` (the weights and the optimizer_state's) by a copy
/// in host memory, so that the next steps may change the originals, and returns what the
/// writer waits for before it reads the copies:
/// - a tensor on the CPU is copied at once, or, with `copy_later`, by copy_later() on the
///   writer's thread: every one but the model's tensors named in `copy_now` (its buffers,
///   which the next forward changes), while the caller promises to change none of them
///   until copy_later() has returned (SaveRequest::copy_beside_training);
/// - a tensor on an accelerator (CUDA) goes into pinned host memory by a non-blocking copy
///   on a side stream, which starts once the work queued so far is done; the caller's
///   stream then waits for the copies on the device (so that the next optimizer step
///   cannot change a tensor before it is copied) and the caller's thread does not wait.
///   The returned event is recorded after the copies: wait() before reading.
/// The copies go into `buffers`' tensors where one fits, else into new memory.
class HostCopy {
 public:
  explicit HostCopy(Checkpoint& checkpoint, HostBuffers* buffers = nullptr, bool copy_later = false,
                    const std::vector<std::string>& copy_now = {})
      : buffers_(buffers) {
    const torch::NoGradGuard no_autograd;  // a copy for the disk: no graph to record
    const std::unordered_set<std::string_view> now(copy_now.begin(), copy_now.end());
    for (auto& [name, tensor] : checkpoint.model) tensor = copy(tensor, copy_later && !now.contains(name));
    if (checkpoint.optimizer_state) *checkpoint.optimizer_state = copy(*checkpoint.optimizer_state, copy_later);
    buffers_ = nullptr;  // taken from only while copying
    if (!side_stream_) return;
    copied_.emplace(side_stream_->device_type());
    copied_->record(*side_stream_);
    copied_->block(*caller_stream_);
  }

  /// Copies the CPU tensors left for later; after it the caller may change the originals.
  void copy_later() {
    for (auto& [host, source] : later_) io::copy_tensor(host, source);
    later_.clear();
  }

  /// Returns once every copy is in host memory (at once for copies of CPU tensors). Keep
  /// the HostCopy until the copies are written.
  void wait() {
    copy_later();
    if (copied_) copied_->synchronize();
    sources_.clear();
  }

 private:
  torch::Tensor copy(const torch::Tensor& tensor, bool later) {
    if (!tensor.defined()) return tensor;
    const bool on_host = tensor.is_cpu();
    if (!on_host && !side_stream_) start_side_stream(tensor.device());
    TORCH_CHECK(on_host || tensor.device() == side_stream_->device(), "a checkpoint's tensors on two devices: ",
                tensor.device(), " and ", side_stream_->device());
    // New memory is not touched here: with `later`, the writer's thread pays for that too.
    auto host = buffers_ ? buffers_->take(tensor, !on_host) : detail::new_host_tensor(tensor, !on_host);
    // The pickler writes requires_grad: the copy says what the original says, as a clone
    // would (a kept buffer may say otherwise).
    host.set_requires_grad(tensor.requires_grad());
    if (on_host && later) {
      later_.emplace_back(host, tensor);
      return host;
    }
    if (on_host) {
      io::copy_tensor(host, tensor);
      return host;
    }
    const c10::StreamGuard on_side_stream(*side_stream_);
    host.copy_(tensor, /*non_blocking=*/true);
    sources_.push_back(tensor);  // alive until copied, though the checkpoint lets go of it
    return host;
  }

  // `borrowed`: references to `value` that the walk itself holds. LibTorch's pickler
  // memoizes a tensor referenced elsewhere too (an optimizer's moments, which the optimizer
  // holds): such a copy is held here as well, so that optimizer.pt is byte for byte what a
  // synchronous save of the originals writes.
  c10::IValue copy(const c10::IValue& value, bool later, long borrowed = 0) {
    if (value.isTensor()) {
      const auto& tensor = value.toTensor();
      const bool shared = tensor.use_count() - borrowed > 1;  // before copy() holds it for later
      auto host = copy(tensor, later);
      if (shared) shared_copies_.push_back(host);
      return host;
    }
    if (value.isGenericDict()) {
      const auto dict = value.toGenericDict();
      c10::impl::GenericDict copied(dict.keyType(), dict.valueType());
      for (const auto& entry : dict) copied.insert(entry.key(), copy(entry.value(), later));
      return copied;
    }
    if (value.isList()) {
      const auto list = value.toList();
      c10::impl::GenericList copied(list.elementType());
      for (const auto& element : list) copied.push_back(copy(c10::IValue(element), later, 1));
      return copied;
    }
    if (value.isTuple()) {
      std::vector<c10::IValue> elements;
      for (const auto& element : value.toTupleRef().elements()) elements.push_back(copy(element, later));
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

  HostBuffers* buffers_;
  std::optional<c10::Stream> caller_stream_, side_stream_;
  std::optional<c10::Event> copied_;
  std::vector<torch::Tensor> sources_, shared_copies_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> later_;  // (copy, original) for copy_later()
};

}  // namespace torchtrain
