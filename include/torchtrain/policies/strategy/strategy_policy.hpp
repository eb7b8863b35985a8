// StrategyPolicy: where the model lives and what crosses processes, checked where the Trainer is named.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// A strategy policy (see docs/policies.md). `setup(model, args)` places the model (and
/// joins the processes of the run); `device()`; `gradient_sync(enabled)` returns a scope in
/// which backward does or does not synchronize gradients; `synchronize_buffers()` before
/// each forward; `reduce_sum`/`reduce_mean` of a tensor over processes; `barrier(what)`;
/// `evaluation_shard(size)` and `gather_shards(outputs, size)` for evaluation; what a
/// checkpoint saves: `state_dict(model)` (the whole model's weights, gathered where they
/// are sharded) and `gather_bytes(bytes)` (every process's bytes, in rank order, on the
/// processes that save); rank, local rank, world size, whether this is the main process.
template <class S>
concept StrategyPolicy =
    PolicyOf<S, category::strategy> &&
    requires(S& strategy, const S& const_strategy, torch::nn::Linear& model, const TrainingArguments& args,
             const torch::Tensor& tensor, std::int64_t size, std::string bytes, std::string_view what) {
      strategy.setup(model, args);
      { const_strategy.device() } -> std::convertible_to<torch::Device>;
      strategy.gradient_sync(true);
      strategy.synchronize_buffers();
      { const_strategy.reduce_sum(tensor) } -> std::convertible_to<torch::Tensor>;
      { const_strategy.reduce_mean(tensor) } -> std::convertible_to<torch::Tensor>;
      const_strategy.barrier(what);
      { const_strategy.evaluation_shard(size) } -> std::convertible_to<torch::Tensor>;
      { const_strategy.gather_shards(tensor, size) } -> std::convertible_to<torch::Tensor>;
      { strategy.state_dict(model) } -> std::convertible_to<StateDict>;
      { strategy.gather_bytes(bytes) } -> std::convertible_to<std::vector<std::string>>;
      { const_strategy.rank() } -> std::convertible_to<int>;
      { const_strategy.local_rank() } -> std::convertible_to<int>;
      { const_strategy.world_size() } -> std::convertible_to<int>;
      { const_strategy.is_main_process() } -> std::convertible_to<bool>;
    };

namespace detail {

template <class S>
constexpr bool check_strategy_policy() {
  static_assert(requires(S& s, torch::nn::Linear& model, const TrainingArguments& args) { s.setup(model, args); },
                "torchtrain: this strategy policy (S below) has no `template <class Model> void setup(Model&, const "
                "TrainingArguments&)`");
  static_assert(requires(const S& s) { { s.device() } -> std::convertible_to<torch::Device>; },
                "torchtrain: this strategy policy (S below) has no `torch::Device device() const`");
  static_assert(requires(S& s) { s.gradient_sync(true); },
                "torchtrain: this strategy policy (S below) has no `gradient_sync(bool enabled)` returning a scope");
  static_assert(requires(S& s) { s.synchronize_buffers(); },
                "torchtrain: this strategy policy (S below) has no `void synchronize_buffers()`");
  static_assert(requires(const S& s, const torch::Tensor& t) {
                  { s.reduce_sum(t) } -> std::convertible_to<torch::Tensor>;
                  { s.reduce_mean(t) } -> std::convertible_to<torch::Tensor>;
                },
                "torchtrain: this strategy policy (S below) lacks `reduce_sum(const torch::Tensor&) const` or "
                "`reduce_mean(const torch::Tensor&) const`");
  static_assert(requires(const S& s, std::string_view what) { s.barrier(what); },
                "torchtrain: this strategy policy (S below) has no `void barrier(std::string_view what) const`");
  static_assert(requires(const S& s, const torch::Tensor& t, std::int64_t size) {
                  { s.evaluation_shard(size) } -> std::convertible_to<torch::Tensor>;
                  { s.gather_shards(t, size) } -> std::convertible_to<torch::Tensor>;
                },
                "torchtrain: this strategy policy (S below) lacks `evaluation_shard(std::int64_t size) const` or "
                "`gather_shards(const torch::Tensor&, std::int64_t size) const`");
  static_assert(requires(S& s, torch::nn::Linear& model) { { s.state_dict(model) } -> std::convertible_to<StateDict>; },
                "torchtrain: this strategy policy (S below) has no `template <class Model> StateDict "
                "state_dict(Model&)`, the weights a checkpoint saves");
  static_assert(requires(S& s, std::string bytes) {
                  { s.gather_bytes(bytes) } -> std::convertible_to<std::vector<std::string>>;
                },
                "torchtrain: this strategy policy (S below) has no `std::vector<std::string> gather_bytes(std::string)`, "
                "every process's bytes for the processes that save");
  static_assert(requires(const S& s) {
                  { s.rank() } -> std::convertible_to<int>;
                  { s.local_rank() } -> std::convertible_to<int>;
                  { s.world_size() } -> std::convertible_to<int>;
                  { s.is_main_process() } -> std::convertible_to<bool>;
                },
                "torchtrain: this strategy policy (S below) lacks one of `int rank() const`, `int local_rank() const`, "
                "`int world_size() const`, `bool is_main_process() const`");
  return StrategyPolicy<S>;
}

}  // namespace detail

}  // namespace torchtrain
