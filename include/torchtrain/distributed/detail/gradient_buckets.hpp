// GradientBuckets: gradients averaged over the ranks by bucketed all-reduces that start while backward still runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/process_group.hpp>

namespace torchtrain::distributed::detail {

/// PyTorch DDP's scheme, without its c10d::Reducer (benchmarks/ddp.cpp measures the two;
/// docs/distributed.md says why ours): parameters are cut, in reverse registration order
/// (roughly the order backward reaches them), into buckets of about `bucket_bytes` of one dtype. A post hook on each
/// parameter's gradient accumulator fires once its gradient for this backward is final;
/// when every parameter of a bucket is ready, the bucket's gradients are copied into one
/// flat tensor whose all-reduce starts at once, while backward goes on with earlier
/// layers. Buckets start strictly in index order, so every rank issues the same
/// collectives in the same order whatever order its hooks fire in. A callback queued on
/// the autograd engine runs when backward ends: it starts the buckets still waiting (a
/// parameter that got no gradient contributes zeros), waits for all of them and writes the
/// averages back into the gradients. So when backward() returns, every rank holds the
/// same averaged gradients.
///
/// With sync off (the non-final micro-steps of an accumulation window) the hooks do
/// nothing and gradients accumulate locally; the window's last backward reduces the sum.
/// With `overlap` off, all buckets start only when backward ends (for the benchmark).
class GradientBuckets {
 public:
  GradientBuckets(const std::vector<at::Tensor>& parameters, std::shared_ptr<ProcessGroup> group,
                  std::size_t bucket_bytes);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  void set_sync(bool enabled) { sync_ = enabled; }
  bool sync() const { return sync_; }
  void set_overlap(bool enabled) { overlap_ = enabled; }
  std::size_t num_buckets() const { return buckets_.size(); }
  /// All-reduces issued so far (each bucket of each synchronized backward counts one).
  std::int64_t num_allreduces() const { return num_allreduces_; }

 private:
  struct Member {
    at::Tensor parameter;
    std::size_t bucket;
    std::int64_t offset;  // in the bucket's flat tensor
    // What grad_accumulator returns: a shared_ptr, an intrusive_ptr in newer LibTorch.
    decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>())) accumulator;
    std::uintptr_t hook_key = 0;
  };
  struct Bucket {
    std::vector<std::size_t> members;
    std::int64_t numel = 0;
    std::size_t bytes = 0;
    at::Tensor flat;
    std::size_t ready = 0;
    ProcessGroup::Work work;
  };

  struct ReadyHook final : torch::autograd::FunctionPostHook {
    ReadyHook(GradientBuckets* owner, std::size_t member) : owner(owner), member(member) {}
    torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                              const torch::autograd::variable_list& /*inputs*/) override {
      owner->on_ready(member);
      return outputs;
    }
    GradientBuckets* owner;
    std::size_t member;
  };

  // A hook: the gradient of member `index` is final for this backward.
  void on_ready(std::size_t index);

  void launch(std::size_t b);

  // End of backward: start what is left, wait for everything, write back the means.
  void finish();

  std::shared_ptr<ProcessGroup> group_;
  std::vector<Member> members_;
  std::vector<Bucket> buckets_;
  std::mutex mutex_;  // hooks of a CUDA backward run on the device's autograd thread
  bool sync_ = true;
  bool overlap_ = true;
  bool in_backward_ = false;
  std::size_t next_ = 0;  // the next bucket to start
  std::int64_t num_allreduces_ = 0;
};

}  // namespace torchtrain::distributed::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torch/csrc/autograd/engine.h>

namespace torchtrain::distributed::detail {

TORCHTRAIN_INLINE GradientBuckets::GradientBuckets(const std::vector<at::Tensor>& parameters,
                                                   std::shared_ptr<ProcessGroup> group, std::size_t bucket_bytes)
    : group_(std::move(group)) {
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    const auto& parameter = *it;
    if (!parameter.requires_grad()) continue;
    const auto bytes = static_cast<std::size_t>(parameter.numel()) * parameter.element_size();
    if (buckets_.empty() || (buckets_.back().bytes + bytes > bucket_bytes && !buckets_.back().members.empty()) ||
        buckets_.back().flat.scalar_type() != parameter.scalar_type() ||
        buckets_.back().flat.device() != parameter.device()) {
      buckets_.emplace_back();
      buckets_.back().flat = torch::empty({0}, parameter.options());
    }
    auto& bucket = buckets_.back();
    members_.push_back({parameter, buckets_.size() - 1, bucket.numel});
    bucket.members.push_back(members_.size() - 1);
    bucket.numel += parameter.numel();
    bucket.bytes += bytes;
  }
  for (auto& bucket : buckets_) bucket.flat = torch::zeros({bucket.numel}, bucket.flat.options());
  // The accumulators are kept alive here: autograd holds them weakly and would make new
  // ones (without our hooks) once the last graph that used them is gone.
  for (std::size_t i = 0; i < members_.size(); ++i) {
    auto& member = members_[i];
    member.accumulator = torch::autograd::impl::grad_accumulator(member.parameter);
    member.hook_key = member.accumulator->add_post_hook(std::make_unique<ReadyHook>(this, i));
  }
}

TORCHTRAIN_INLINE GradientBuckets::~GradientBuckets() {
  for (auto& member : members_) member.accumulator->del_post_hook(member.hook_key);
}

TORCHTRAIN_INLINE void GradientBuckets::on_ready(std::size_t index) {
  if (!sync_ || !group_->environment().distributed()) return;
  const std::lock_guard lock(mutex_);
  if (!in_backward_) {
    in_backward_ = true;
    next_ = 0;
    for (auto& bucket : buckets_) bucket.ready = 0;
    torch::autograd::Engine::get_default_engine().queue_callback([this] { finish(); });
  }
  auto& bucket = buckets_[members_[index].bucket];
  ++bucket.ready;
  if (overlap_)
    while (next_ < buckets_.size() && buckets_[next_].ready == buckets_[next_].members.size()) launch(next_++);
}

TORCHTRAIN_INLINE void GradientBuckets::launch(std::size_t b) {
  auto& bucket = buckets_[b];
  for (auto m : bucket.members) {
    const auto& member = members_[m];
    auto slot = bucket.flat.narrow(0, member.offset, member.parameter.numel()).view(member.parameter.sizes());
    const auto& grad = member.parameter.grad();
    if (grad.defined())
      slot.copy_(grad);
    else
      slot.zero_();
  }
  bucket.work = group_->allreduce_sum_async(bucket.flat);
  ++num_allreduces_;
}

TORCHTRAIN_INLINE void GradientBuckets::finish() {
  const std::lock_guard lock(mutex_);
  in_backward_ = false;
  while (next_ < buckets_.size()) launch(next_++);
  const double scale = 1.0 / group_->size();
  for (auto& bucket : buckets_) {
    group_->wait(std::exchange(bucket.work, {}), "the gradient all-reduce");
    bucket.flat.mul_(scale);
    for (auto m : bucket.members) {
      auto& member = members_[m];
      auto mean = bucket.flat.narrow(0, member.offset, member.parameter.numel()).view(member.parameter.sizes());
      if (member.parameter.grad().defined())
        member.parameter.mutable_grad().copy_(mean);
      else
        member.parameter.mutable_grad() = mean.clone();
    }
  }
}

}  // namespace torchtrain::distributed::detail

#endif  // TORCHTRAIN_DEFINITIONS
