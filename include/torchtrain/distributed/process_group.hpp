// ProcessGroup: the processes of a distributed run and the collectives between them (c10d over a TCPStore).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/distributed/detail/c10d.hpp>
#include <torchtrain/distributed/environment.hpp>

namespace torchtrain::distributed {

/// How to make the process group (the --ddp_backend and --ddp_timeout arguments).
struct ProcessGroupOptions {
  std::string backend;  // "gloo" or "nccl"; empty: nccl when CUDA is used, else gloo
  std::chrono::seconds timeout{1800};
};

/// Every rank of the run, connected. With world size 1 there is no store and no backend,
/// and each collective returns its input. Collectives must be called by every rank in
/// the same order; a rank that died or stopped answering makes them throw
/// DistributedError after at most the timeout, naming the collective.
class ProcessGroup {
 public:
  using Work = c10::intrusive_ptr<c10d::Work>;

  ProcessGroup(Environment env, ProcessGroupOptions options);

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  const Environment& environment() const { return env_; }
  const ProcessGroupOptions& options() const { return options_; }
  /// The rendezvous store every rank is connected to (null at world size 1), for c10d
  /// parts of one's own: give them a c10d::PrefixStore over it, so their keys stay apart.
  const c10::intrusive_ptr<c10d::Store>& store() const { return store_; }

  /// Starts summing `tensor` in place over the ranks; wait() on the result before reading it.
  Work allreduce_sum_async(at::Tensor tensor);

  /// Waits for `work`; a failure becomes a DistributedError that says what to look at.
  void wait(const Work& work, std::string_view what) const;

  void allreduce_sum(const at::Tensor& tensor, std::string_view what = "an all-reduce") {
    wait(allreduce_sum_async(tensor), what);
  }

  /// Overwrites `tensor` with rank `root`'s.
  void broadcast(const at::Tensor& tensor, int root = 0, std::string_view what = "a broadcast");

  /// Every rank's `tensor` (all of one shape), by rank.
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor, std::string_view what = "an all-gather");

  /// Fills row r of `rows` ([world size, n], contiguous) with rank r's `shard` ([n]).
  void all_gather_rows(const at::Tensor& shard, const at::Tensor& rows, std::string_view what = "an all-gather");

  /// Starts summing row r of `rows` ([world size, n], contiguous) over the ranks into
  /// `result` ([n]) on rank r; wait() on the result before reading it.
  Work reduce_scatter_sum_async(const at::Tensor& rows, at::Tensor result);

  /// Returns once every rank has called it with the same `what`.
  void barrier(std::string_view what = "a barrier");

 private:
  Environment env_;
  ProcessGroupOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;  // the collectives: Gloo or NCCL
};

/// The process group of this process, made on the first call from the environment
/// (read_environment) and `options`, as Python's init_process_group("env://"); later
/// calls return the same group (a run meets once, however many Trainers it makes).
/// A later call that asks for another backend or timeout gets an error.
TORCHTRAIN_INLINE std::shared_ptr<ProcessGroup> default_process_group(const ProcessGroupOptions& options);

}  // namespace torchtrain::distributed

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <mutex>
#include <utility>

#include <fmt/format.h>

namespace torchtrain::distributed {

TORCHTRAIN_INLINE ProcessGroup::ProcessGroup(Environment env, ProcessGroupOptions options)
    : env_(std::move(env)), options_(std::move(options)) {
  if (!env_.distributed()) return;
  const std::chrono::milliseconds timeout = options_.timeout;
  store_ = detail::connect_store(env_, timeout);
  try {
    backend_ = detail::make_backend(options_.backend, store_, env_, timeout);
  } catch (const DistributedError&) {
    throw;
  } catch (...) {
    throw DistributedError(fmt::format("rank {}: the {} backend could not connect the ranks ({}); with several "
                                       "machines, set GLOO_SOCKET_IFNAME to the interface they reach each other on",
                                       env_.rank, options_.backend, detail::current_exception_text()));
  }
}

TORCHTRAIN_INLINE ProcessGroup::Work ProcessGroup::allreduce_sum_async(at::Tensor tensor) {
  if (!backend_) return {};
  std::vector<at::Tensor> tensors{std::move(tensor)};
  return backend_->allreduce(tensors);
}

TORCHTRAIN_INLINE void ProcessGroup::wait(const Work& work, std::string_view what) const {
  if (!work) return;
  try {
    work->wait();
  } catch (...) {
    throw DistributedError(fmt::format(
        "rank {} of {}: {} failed: {}. Another rank has probably died or stopped answering (see its output); "
        "a rank gives up after --ddp_timeout ({} s)",
        env_.rank, env_.world_size, what, detail::current_exception_text(), options_.timeout.count()));
  }
}

TORCHTRAIN_INLINE void ProcessGroup::broadcast(const at::Tensor& tensor, int root, std::string_view what) {
  if (!backend_) return;
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  wait(backend_->broadcast(tensors, options), what);
}

TORCHTRAIN_INLINE std::vector<at::Tensor> ProcessGroup::all_gather(const at::Tensor& tensor, std::string_view what) {
  if (!backend_) return {tensor};
  std::vector<at::Tensor> input{tensor.contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < size(); ++r) output[0].push_back(torch::empty_like(input[0]));
  wait(backend_->allgather(output, input), what);
  return std::move(output[0]);
}

TORCHTRAIN_INLINE void ProcessGroup::all_gather_rows(const at::Tensor& shard, const at::Tensor& rows,
                                                     std::string_view what) {
  if (!backend_) {
    rows[0].copy_(shard);
    return;
  }
  std::vector<at::Tensor> input{shard.contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < size(); ++r) output[0].push_back(rows[r]);
  wait(backend_->allgather(output, input), what);
}

TORCHTRAIN_INLINE ProcessGroup::Work ProcessGroup::reduce_scatter_sum_async(const at::Tensor& rows, at::Tensor result) {
  if (!backend_) {
    result.copy_(rows[0]);
    return {};
  }
  std::vector<at::Tensor> output{std::move(result)};
  std::vector<std::vector<at::Tensor>> input(1);
  for (int r = 0; r < size(); ++r) input[0].push_back(rows[r]);
  return backend_->reduce_scatter(output, input);
}

TORCHTRAIN_INLINE void ProcessGroup::barrier(std::string_view what) {
  if (!backend_) return;
  wait(backend_->barrier(), what);
}

TORCHTRAIN_INLINE std::shared_ptr<ProcessGroup> default_process_group(const ProcessGroupOptions& options) {
  static std::mutex mutex;
  static std::shared_ptr<ProcessGroup> group;
  const std::lock_guard lock(mutex);
  if (!group) {
    group = std::make_shared<ProcessGroup>(read_environment(), options);
  } else if (group->options().backend != options.backend || group->options().timeout != options.timeout) {
    throw DistributedError(fmt::format("this process already joined its process group with --ddp_backend {} and "
                                       "--ddp_timeout {}; a later Trainer asked for {} and {}: give every Trainer of "
                                       "a run the same values",
                                       group->options().backend, group->options().timeout.count(), options.backend,
                                       options.timeout.count()));
  }
  return group;
}

}  // namespace torchtrain::distributed

#endif  // TORCHTRAIN_DEFINITIONS
