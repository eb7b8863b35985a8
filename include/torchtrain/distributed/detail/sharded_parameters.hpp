// ShardedParameters: a model's trainable parameters cut into one shard per rank, gathered whole where training needs them (FSDP's machinery).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/block_sharding.hpp>
#include <torchtrain/distributed/detail/parameter_storage.hpp>
#include <torchtrain/distributed/process_group.hpp>
#include <torchtrain/distributed/sharding.hpp>

namespace torchtrain::distributed::detail {

/// The layout (PyTorch FSDP2's): each trainable parameter of n elements, flattened and
/// padded with zeros to N * ceil(n / N), is cut into N equal chunks; rank r keeps chunk r
/// as its shard, a leaf tensor the optimizer steps. Element-wise optimizers (AdamW, SGD,
/// ...) step shards exactly as they would step whole parameters, so a sharded run equals
/// DDP's. The parameters fall into units: one per nn::ShardedBlock of the model (the
/// innermost holding it), and the root unit for the rest; a unit's shards lie in one flat
/// tensor, so one collective moves the unit.
///
/// Gradients: a post hook on each parameter's gradient accumulator counts the unit's
/// parameters as backward finishes them; when a unit is complete (and every unit before it
/// in the fixed order, so every rank issues the same collectives in the same order), its
/// gradients are packed into [N, unit shard] rows and reduce-scattered (all-reduced for
/// shard_optimizer_state), at most two units in flight, and the averages land in the shards'
/// gradients. A callback queued on the autograd engine finishes what is left when backward
/// ends. Inside set_sync(false) (the first micro-batches of a window) gradients accumulate
/// whole, as in PyTorch FSDP's no_sync.
///
/// full_shard: the parameters' memory is freed (free_storage) except while needed: a
/// block's while its forward runs and again from the moment backward reaches its output
/// until its gradients are taken; the root unit's from gather_root (before each forward)
/// until the end of the window's backward.
class ShardedParameters {
 public:
  ShardedParameters(torch::nn::Module& model, std::shared_ptr<ProcessGroup> group, ShardingOptions options,
                    torch::Device device);
  ~ShardedParameters();
  ShardedParameters(const ShardedParameters&) = delete;
  ShardedParameters& operator=(const ShardedParameters&) = delete;

  void set_sync(bool enabled) { sync_ = enabled; }
  bool sync() const { return sync_; }

  /// The shard that stands for the model's parameter `parameter` (undefined when it is not sharded: a frozen one).
  torch::Tensor shard_of(const torch::Tensor& parameter) const;
  /// The number of elements of the whole parameter that `shard` stands for (0 for another tensor).
  std::int64_t full_numel_of_shard(const torch::Tensor& shard) const;

  /// Before a forward (full_shard): the root unit's parameters whole until the window's backward ends.
  void gather_root() {
    if (full_shard()) gather_unit(0);
  }

  /// After the optimizer stepped the shards: the whole parameters again from them (or, in
  /// full_shard, any left whole are stale: freed, to be gathered when next needed).
  void after_optimizer_step();

  /// The shards' gradients scaled so that their global L2 norm (over every rank's shards)
  /// is at most `max_norm`, with the arithmetic of torch.nn.utils.clip_grad_norm_; returns
  /// the norm before clipping (undefined when no shard has a gradient anywhere).
  torch::Tensor clip_grad_norm(double max_norm);

  /// Calls `use(name, parameter)` with each sharded parameter whole, one unit at a time
  /// (in full_shard a unit is gathered for the call and freed after it): a collective.
  template <class Use>
  void for_each_whole_parameter(Use&& use) {
    for (std::size_t u = 0; u < units_.size(); ++u) {
      const bool was_whole = units_[u].whole;
      gather_unit(u);
      for (auto p : units_[u].parameters) use(parameters_[p].name, parameters_[p].full);
      if (!was_whole) free_unit(u);
    }
  }

  /// Sets every shard from the whole tensors of `whole` (name to tensor, as loaded from a
  /// file: the caller checked names and shapes), and the whole parameters where they are kept.
  template <class Find>
  void load_whole_parameters(Find&& find) {
    torch::NoGradGuard no_grad;
    const int world = group_->size(), rank = group_->rank();
    for (auto& parameter : parameters_) {
      const torch::Tensor& whole = find(parameter.name);
      auto padded = padded_flat(whole.to(parameter.shard.device(), parameter.shard.scalar_type()), parameter.chunk * world);
      parameter.shard.copy_(padded.narrow(0, rank * parameter.chunk, parameter.chunk));
      if (has_storage(parameter.full)) parameter.full.copy_(whole);
    }
  }

 private:
  struct Parameter {
    std::string name;
    torch::Tensor full;   // the model's parameter (its memory freed in full_shard, except while needed)
    torch::Tensor shard;  // this rank's chunk, a leaf viewing the unit's flat shard
    std::int64_t chunk = 0;
    std::int64_t offset = 0;  // in the unit's flat shard
    std::size_t unit = 0;
    decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>())) accumulator;
    std::uintptr_t hook_key = 0;
  };
  struct Unit {
    std::string name;
    std::vector<std::size_t> parameters;
    std::int64_t shard_numel = 0;
    torch::Tensor flat_shard;
    bool whole = true;    // the parameters hold memory (always, but in full_shard)
    std::size_t ready = 0;  // parameters whose gradient this backward finished
    bool done = false;
    ProcessGroup::Work work;
    torch::Tensor rows, received;  // the collective's buffers, alive until it is waited for
  };

  // The hooks a ShardedBlock calls: its unit gathered for forward and backward.
  struct UnitHooks final : BlockShardingHooks {
    UnitHooks(ShardedParameters* owner, std::size_t unit) : owner(owner), unit(unit) {}
    bool before_forward() override {
      if (!owner->full_shard() || owner->units_[unit].whole) return false;
      owner->gather_unit(unit);
      return true;
    }
    void after_forward(bool gathered) override {
      if (gathered) owner->free_unit(unit);
    }
    void before_backward() override {
      const std::lock_guard lock(owner->mutex_);
      owner->begin_backward();
      if (owner->full_shard()) owner->gather_unit(unit);
    }
    ShardedParameters* owner;
    std::size_t unit;
  };

  struct ReadyHook final : torch::autograd::FunctionPostHook {
    ReadyHook(ShardedParameters* owner, std::size_t parameter) : owner(owner), parameter(parameter) {}
    torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                              const torch::autograd::variable_list& /*inputs*/) override {
      owner->on_ready(parameter);
      return outputs;
    }
    ShardedParameters* owner;
    std::size_t parameter;
  };

  bool full_shard() const { return options_.strategy == ShardingStrategy::full_shard; }

  // `tensor` flattened and padded with zeros to `size` elements.
  static torch::Tensor padded_flat(const torch::Tensor& tensor, std::int64_t size);

  // Walks the modules depth first; a ShardedBlock starts a unit, whose parameters are those
  // not claimed by a block inside it. A parameter registered twice (tied) counts once.
  void collect(torch::nn::Module& module, const std::string& prefix, std::size_t unit,
               std::unordered_map<const void*, bool>& seen);

  // fsdp_config's transformer_layer_cls_to_wrap names block types; LibTorch modules have no
  // forward hooks, so those blocks must be ShardedBlocks already: a named type found
  // elsewhere in the model, or not at all, is an error that says so.
  void check_layer_types(torch::nn::Module& model) const;

  // The unit's whole parameters from every rank's shards (refresh: also when they hold memory).
  void gather_unit(std::size_t u, bool refresh = false);

  void free_unit(std::size_t u);

  // The first event of a backward: counts start afresh, and finish() runs when it ends.
  void begin_backward();

  // A hook: the gradient of parameter `p` is final for this backward.
  void on_ready(std::size_t p);

  // Starts averaging the unit's gradients: packed as rows, one per rank's chunk.
  void launch(std::size_t u);

  // Waits for the oldest collective in flight; its averages become the shards' gradients
  // (and, for shard_optimizer_state, the whole gradients too, as DDP's).
  void complete_oldest();

  // End of backward: in a synchronized one, start what is left (a unit whose parameters got
  // no gradient contributes zeros) and wait for everything; either way, in full_shard, the
  // blocks' parameters are freed (and the root's after a synchronized backward).
  void finish();

  std::shared_ptr<ProcessGroup> group_;
  ShardingOptions options_;
  torch::Device device_;
  std::vector<Parameter> parameters_;
  std::unordered_map<const void*, std::size_t> index_;  // the model's parameter -> parameters_
  std::vector<Unit> units_;                             // [0] is the root
  std::vector<ShardedBlockBase*> blocks_;
  std::vector<std::string> block_types_;
  std::vector<std::size_t> order_;  // the order units' gradients are averaged in, the same on every rank
  std::deque<std::size_t> in_flight_;
  std::mutex mutex_;  // hooks of a CUDA backward run on the device's autograd thread
  bool sync_ = true;
  bool in_backward_ = false;
  std::size_t next_ = 0;
};

}  // namespace torchtrain::distributed::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <string_view>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/engine.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::distributed::detail {

TORCHTRAIN_INLINE ShardedParameters::ShardedParameters(torch::nn::Module& model, std::shared_ptr<ProcessGroup> group,
                                                       ShardingOptions options, torch::Device device)
    : group_(std::move(group)), options_(std::move(options)), device_(device) {
  units_.push_back(Unit{.name = "(root)"});
  std::unordered_map<const void*, bool> seen;
  collect(model, "", 0, seen);
  check_layer_types(model);
  const int world = group_->size(), rank = group_->rank();
  const auto shard_device = options_.offload ? torch::Device(torch::kCPU) : device_;
  torch::NoGradGuard no_grad;
  for (std::size_t u = 0; u < units_.size(); ++u) {
    auto& unit = units_[u];
    if (unit.parameters.empty()) continue;
    const auto dtype = parameters_[unit.parameters.front()].full.scalar_type();
    for (auto p : unit.parameters) {
      auto& parameter = parameters_[p];
      if (parameter.full.scalar_type() != dtype)
        throw ArgumentError(fmt::format("FSDP: the parameters of {} are of more than one dtype ({} and {}); a "
                                        "sharded unit holds one: cast the block, or wrap its parts apart",
                                        unit.name, c10::toString(dtype), c10::toString(parameter.full.scalar_type())));
      parameter.chunk = (parameter.full.numel() + world - 1) / world;
      parameter.offset = unit.shard_numel;
      unit.shard_numel += parameter.chunk;
    }
    unit.flat_shard = torch::zeros({unit.shard_numel}, torch::TensorOptions().dtype(dtype).device(shard_device));
    for (auto p : unit.parameters) {
      auto& parameter = parameters_[p];
      auto padded = padded_flat(parameter.full.detach(), parameter.chunk * world);
      auto slot = unit.flat_shard.narrow(0, parameter.offset, parameter.chunk);
      slot.copy_(padded.narrow(0, rank * parameter.chunk, parameter.chunk));
      parameter.shard = slot.detach().requires_grad_(true);
    }
  }
  // Hooks last: the accumulators record each parameter's full shape while it has memory.
  for (std::size_t p = 0; p < parameters_.size(); ++p) {
    auto& parameter = parameters_[p];
    parameter.accumulator = torch::autograd::impl::grad_accumulator(parameter.full);
    parameter.hook_key = parameter.accumulator->add_post_hook(std::make_unique<ReadyHook>(this, p));
  }
  for (std::size_t u = units_.size(); u-- > 0;) order_.push_back(u);  // the root last: its embeddings finish last
  if (full_shard())
    for (std::size_t u = 0; u < units_.size(); ++u) free_unit(u);
}

TORCHTRAIN_INLINE ShardedParameters::~ShardedParameters() {
  for (auto& block : blocks_) block->set_sharding_hooks(nullptr);
  for (auto& parameter : parameters_) parameter.accumulator->del_post_hook(parameter.hook_key);
}

TORCHTRAIN_INLINE torch::Tensor ShardedParameters::shard_of(const torch::Tensor& parameter) const {
  const auto found = index_.find(parameter.unsafeGetTensorImpl());
  return found == index_.end() ? torch::Tensor() : parameters_[found->second].shard;
}

TORCHTRAIN_INLINE std::int64_t ShardedParameters::full_numel_of_shard(const torch::Tensor& shard) const {
  for (const auto& parameter : parameters_)
    if (parameter.shard.is_same(shard)) return parameter.full.numel();
  return 0;
}

TORCHTRAIN_INLINE void ShardedParameters::after_optimizer_step() {
  for (auto& parameter : parameters_) parameter.full.mutable_grad().reset();  // shard_optimizer_state's whole ones
  for (std::size_t u = 0; u < units_.size(); ++u) {
    if (full_shard())
      free_unit(u);
    else
      gather_unit(u, /*refresh=*/true);
  }
}

TORCHTRAIN_INLINE torch::Tensor ShardedParameters::clip_grad_norm(double max_norm) {
  std::vector<torch::Tensor> gradients;
  for (const auto& parameter : parameters_)
    if (parameter.shard.grad().defined()) gradients.push_back(parameter.shard.grad());
  auto squares = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  if (!gradients.empty()) {
    auto norms = at::_foreach_norm(gradients, 2);
    squares += torch::stack(norms).to(squares.options()).pow(2).sum();
  }
  group_->allreduce_sum(squares, "summing the squared gradient norms of the shards");
  if (gradients.empty()) return {};
  auto total_norm = squares.sqrt().squeeze(0);
  auto clip_coefficient = torch::clamp((total_norm + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
  at::_foreach_mul_(gradients, clip_coefficient.to(gradients.front().device()));
  return total_norm;
}

TORCHTRAIN_INLINE torch::Tensor ShardedParameters::padded_flat(const torch::Tensor& tensor, std::int64_t size) {
  auto flat = tensor.reshape({-1});
  return flat.numel() == size ? flat : at::constant_pad_nd(flat, {0, size - flat.numel()});
}

TORCHTRAIN_INLINE void ShardedParameters::collect(torch::nn::Module& module, const std::string& prefix, std::size_t unit,
                                                 std::unordered_map<const void*, bool>& seen) {
  if (auto* block = dynamic_cast<ShardedBlockBase*>(&module)) {
    units_.push_back(Unit{.name = prefix.empty() ? std::string("the model") : prefix.substr(0, prefix.size() - 1)});
    unit = units_.size() - 1;
    block->set_sharding_hooks(std::make_shared<UnitHooks>(this, unit));
    blocks_.push_back(block);
    block_types_.push_back(block->block().name());
  }
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    const auto& tensor = item.value();
    if (!tensor.requires_grad() || seen[tensor.unsafeGetTensorImpl()]) continue;
    seen[tensor.unsafeGetTensorImpl()] = true;
    index_[tensor.unsafeGetTensorImpl()] = parameters_.size();
    units_[unit].parameters.push_back(parameters_.size());
    parameters_.push_back(Parameter{.name = prefix + item.key(), .full = tensor, .unit = unit});
  }
  for (const auto& child : module.named_children()) collect(*child.value(), prefix + child.key() + ".", unit, seen);
}

TORCHTRAIN_INLINE void ShardedParameters::check_layer_types(torch::nn::Module& model) const {
  const auto matches = [](const std::string& type_name, const std::string& wanted) {
    auto plain = type_name.substr(type_name.rfind(':') == std::string::npos ? 0 : type_name.rfind(':') + 1);
    return plain == wanted || plain == wanted + "Impl";
  };
  for (const auto& wanted : options_.layer_types) {
    bool wrapped = false;
    for (const auto& type : block_types_) wrapped = wrapped || matches(type, wanted);
    for (const auto& item : model.named_modules()) {
      if (!matches(item.value()->name(), wanted)) continue;
      bool inside_block = false;
      for (const auto* block : blocks_) inside_block = inside_block || &block->block() == item.value().get();
      if (!inside_block)
        throw ArgumentError(fmt::format("--fsdp_config transformer_layer_cls_to_wrap names {}, and '{}' is one "
                                        "that no tt::nn::ShardedBlock wraps: LibTorch modules have no forward "
                                        "hooks, so wrap each where the model registers it "
                                        "(ShardedBlock<{}>(...))",
                                        wanted, item.key(), wanted));
    }
    if (!wrapped)
      throw ArgumentError(fmt::format("--fsdp_config transformer_layer_cls_to_wrap names {}, which no "
                                      "tt::nn::ShardedBlock of the model wraps; name a block type of the model",
                                      wanted));
  }
}

TORCHTRAIN_INLINE void ShardedParameters::gather_unit(std::size_t u, bool refresh) {
  auto& unit = units_[u];
  if (unit.parameters.empty() || (unit.whole && !refresh)) return;
  torch::NoGradGuard no_grad;
  const int world = group_->size();
  auto rows = torch::empty({world, unit.shard_numel}, unit.flat_shard.options().device(device_));
  group_->all_gather_rows(unit.flat_shard.to(device_), rows, fmt::format("gathering the parameters of {}", unit.name));
  for (auto p : unit.parameters) {
    auto& parameter = parameters_[p];
    if (!has_storage(parameter.full)) allocate_storage(parameter.full);
    const auto whole = rows.narrow(1, parameter.offset, parameter.chunk).reshape({-1}).narrow(0, 0, parameter.full.numel());
    parameter.full.data().view({-1}).copy_(whole);
  }
  unit.whole = true;
}

TORCHTRAIN_INLINE void ShardedParameters::free_unit(std::size_t u) {
  auto& unit = units_[u];
  if (!unit.whole || !full_shard()) return;
  for (auto p : unit.parameters) free_storage(parameters_[p].full);
  unit.whole = false;
}

TORCHTRAIN_INLINE void ShardedParameters::begin_backward() {
  if (in_backward_) return;
  in_backward_ = true;
  next_ = 0;
  for (auto& unit : units_) unit.ready = 0, unit.done = false;
  torch::autograd::Engine::get_default_engine().queue_callback([this] { finish(); });
}

TORCHTRAIN_INLINE void ShardedParameters::on_ready(std::size_t p) {
  const std::lock_guard lock(mutex_);
  begin_backward();
  const auto u = parameters_[p].unit;
  if (++units_[u].ready < units_[u].parameters.size()) return;
  units_[u].done = true;
  if (sync_) {
    while (next_ < order_.size() && units_[order_[next_]].done) launch(order_[next_++]);
  } else if (u != 0) {
    free_unit(u);  // its gradients accumulate whole; the parameters come back for the next forward
  }
}

TORCHTRAIN_INLINE void ShardedParameters::launch(std::size_t u) {
  auto& unit = units_[u];
  const int world = group_->size();
  if (!unit.parameters.empty()) {
    torch::NoGradGuard no_grad;
    unit.rows = torch::zeros({world, unit.shard_numel}, unit.flat_shard.options().device(device_));
    for (auto p : unit.parameters) {
      auto& parameter = parameters_[p];
      if (!parameter.full.grad().defined()) continue;
      unit.rows.narrow(1, parameter.offset, parameter.chunk)
          .copy_(padded_flat(parameter.full.grad(), parameter.chunk * world).view({world, parameter.chunk}));
      if (options_.strategy != ShardingStrategy::shard_optimizer_state) parameter.full.mutable_grad().reset();
    }
    if (options_.strategy == ShardingStrategy::shard_optimizer_state) {
      unit.work = group_->allreduce_sum_async(unit.rows);
    } else {
      unit.received = torch::empty({unit.shard_numel}, unit.rows.options());
      unit.work = group_->reduce_scatter_sum_async(unit.rows, unit.received);
    }
    in_flight_.push_back(u);
  }
  free_unit(u);
  while (in_flight_.size() > 2) complete_oldest();
}

TORCHTRAIN_INLINE void ShardedParameters::complete_oldest() {
  const auto u = in_flight_.front();
  in_flight_.pop_front();
  auto& unit = units_[u];
  group_->wait(std::exchange(unit.work, {}), fmt::format("averaging the gradients of {}", unit.name));
  torch::NoGradGuard no_grad;
  const int world = group_->size();
  if (options_.strategy == ShardingStrategy::shard_optimizer_state) {
    unit.rows.div_(world);
    for (auto p : unit.parameters) {
      auto& parameter = parameters_[p];
      const auto mean = unit.rows.narrow(1, parameter.offset, parameter.chunk).reshape({-1}).narrow(0, 0, parameter.full.numel());
      if (parameter.full.grad().defined())
        parameter.full.mutable_grad().view({-1}).copy_(mean);
      else
        parameter.full.mutable_grad() = mean.view(parameter.full.sizes()).clone();
    }
    unit.received = unit.rows[group_->rank()].clone();
  } else {
    unit.received.div_(world);
  }
  auto received = options_.offload ? unit.received.to(torch::kCPU) : unit.received;
  for (auto p : unit.parameters) {
    auto& parameter = parameters_[p];
    auto mean = received.narrow(0, parameter.offset, parameter.chunk);
    if (parameter.shard.grad().defined())
      parameter.shard.mutable_grad().add_(mean);
    else
      parameter.shard.mutable_grad() = mean;
  }
  unit.rows = torch::Tensor();
  unit.received = torch::Tensor();
}

TORCHTRAIN_INLINE void ShardedParameters::finish() {
  const std::lock_guard lock(mutex_);
  in_backward_ = false;
  if (sync_) {
    while (next_ < order_.size()) launch(order_[next_++]);
    while (!in_flight_.empty()) complete_oldest();
  } else {
    for (std::size_t u = 1; u < units_.size(); ++u) free_unit(u);
  }
}

}  // namespace torchtrain::distributed::detail

#endif  // TORCHTRAIN_DEFINITIONS
