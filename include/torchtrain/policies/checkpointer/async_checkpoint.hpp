// AsyncCheckpoint: the default checkpointer's files, written by a background thread while training goes on.
#pragma once

#include <exception>
#include <filesystem>
#include <future>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/checkpoint/host_copy.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/checkpoint_folders.hpp>

namespace torchtrain {

/// Checkpointer policy that writes what SyncCheckpoint writes, byte for byte, from a
/// background thread. The step loop pays for copying the model's buffers to host memory;
/// the copy of the weights and the optimizer's state overlaps the next step's forward and
/// backward, and the serialization, disk writes, fsyncs and rotation the next steps. A save
/// first waits for the previous one, and so does the end of train(); a failed write is
/// rethrown there, and earlier checkpoints stay intact.
class AsyncCheckpoint : public HuggingFaceFolders {
 public:
  using torchtrain_category = category::checkpointer;
  static constexpr bool writes_checkpoints = true;

  AsyncCheckpoint() = default;
  explicit AsyncCheckpoint(std::filesystem::path folder) : HuggingFaceFolders(std::move(folder)) {}
  AsyncCheckpoint(AsyncCheckpoint&&) = default;  // a Trainer can be given one
  // Assigning over a pending save would drop its error: not offered.
  AsyncCheckpoint& operator=(AsyncCheckpoint&&) = delete;
  ~AsyncCheckpoint();

  /// Holds the caller for the previous save, if it is still being written, and for copying
  /// the tensors (HostCopy: on CUDA, not even that), into the host memory of the previous
  /// save where the dtypes and shapes match; the serialization of the optimizer's state
  /// (given as Checkpoint::optimizer_state), the writes, fsyncs and rotation run on the
  /// writer's thread. With `request.copy_beside_training` only the model's buffers are
  /// copied here and the writer copies the rest while the caller goes on; the caller calls
  /// wait_for_copy() before it changes them. Between saves it keeps that host memory: one
  /// copy of the state.
  void save(Checkpoint checkpoint, const SaveRequest& request);

  /// Returns once the last save's tensors are copied (at once unless it was asked to copy
  /// beside training): from then on the caller may change them.
  void wait_for_copy() {
    if (copied_.valid()) std::exchange(copied_, {}).get();
  }

  /// Returns once the last save is on disk; rethrows its error.
  void wait() {
    if (copied_.valid()) copied_ = {};  // the write's own error says the same
    if (pending_.valid()) buffers_ = std::exchange(pending_, {}).get();
  }

 private:
  std::future<HostBuffers> pending_;
  std::future<void> copied_;  // of the last save's tensors, by its writer
  HostBuffers buffers_;  // the previous save's copies, to copy the next one into
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE AsyncCheckpoint::~AsyncCheckpoint() {
  try {
    wait();
  } catch (const std::exception& error) {  // nobody is left to rethrow it to
    message(LogLevel::error, "a checkpoint could not be written: {}", error.what());
  }
}

TORCHTRAIN_INLINE void AsyncCheckpoint::save(Checkpoint checkpoint, const SaveRequest& request) {
  wait();
  // The model keeps training: the writer gets copies.
  HostCopy copies(checkpoint, &buffers_, request.copy_beside_training, request.model_buffers);
  std::promise<void> copied;
  copied_ = copied.get_future();
  pending_ = std::async(std::launch::async, [checkpoint = std::move(checkpoint), copies = std::move(copies),
                                             copied = std::move(copied), request]() mutable {
    {
      auto copying = std::move(copies);  // released before its tensors are kept
      try {
        copying.copy_later();
      } catch (...) {
        copied.set_exception(std::current_exception());
        throw;
      }
      copied.set_value();
      copying.wait();
      save_checkpoint(checkpoint, request);
    }
    HostBuffers written;
    written.keep(std::move(checkpoint));
    return written;
  });
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
