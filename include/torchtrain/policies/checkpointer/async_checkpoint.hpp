// AsyncCheckpoint: the default checkpointer's files, written by a background thread while training goes on.
#pragma once

#include <exception>
#include <filesystem>
#include <future>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/host_copy.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/checkpoint_folders.hpp>

namespace torchtrain {

/// Checkpointer policy that writes what SyncCheckpoint writes, byte for byte, from a
/// background thread. The step loop pays for copying the state to host memory; the
/// serialization, disk writes, fsyncs and rotation overlap the next steps. A save first waits for the previous one, and so does the end of train();
/// a failed write is rethrown there, and earlier checkpoints stay intact.
class AsyncCheckpoint : public HuggingFaceFolders {
 public:
  using torchtrain_category = category::checkpointer;
  static constexpr bool writes_checkpoints = true;

  AsyncCheckpoint() = default;
  explicit AsyncCheckpoint(std::filesystem::path folder) : HuggingFaceFolders(std::move(folder)) {}
  AsyncCheckpoint(AsyncCheckpoint&&) = default;  // a Trainer can be given one
  // Assigning over a pending save would drop its error: not offered.
  AsyncCheckpoint& operator=(AsyncCheckpoint&&) = delete;
  ~AsyncCheckpoint() {
    try {
      wait();
    } catch (const std::exception& error) {  // nobody is left to rethrow it to
      message(LogLevel::error, "a checkpoint could not be written: {}", error.what());
    }
  }

  /// Holds the caller for the previous save, if it is still being written, and for copying
  /// the tensors (HostCopy: on CUDA, not even that); the serialization of the optimizer's
  /// state (given as Checkpoint::optimizer_state), the writes, fsyncs and rotation run on
  /// the writer's thread.
  void save(Checkpoint checkpoint, const SaveRequest& request) {
    wait();
    HostCopy copies(checkpoint);  // the model keeps training: the writer gets copies
    pending_ = std::async(std::launch::async,
                          [checkpoint = std::move(checkpoint), copies = std::move(copies), request]() mutable {
                            copies.wait();
                            save_checkpoint(checkpoint, request);
                          });
  }

  /// Returns once the last save is on disk; rethrows its error.
  void wait() {
    if (pending_.valid()) std::exchange(pending_, {}).get();
  }

 private:
  std::future<void> pending_;
};

}  // namespace torchtrain
