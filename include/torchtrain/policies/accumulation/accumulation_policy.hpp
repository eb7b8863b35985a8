// AccumulationPolicy: how many micro-batches make an optimizer step and how their window runs, checked where the Trainer is named.
#pragma once

#include <concepts>
#include <span>

#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/strategy/single_device.hpp>

namespace torchtrain {

namespace detail {
// Stand-ins for the loop's types in the checks below: any batch type, the one-process
// strategy, a micro-step that takes a batch and whether it ends the window.
struct MicroStepArchetype {
  void operator()(const torch::Tensor& batch, bool last_of_window) const;
};
}  // namespace detail

/// An accumulation policy (see docs/policies.md): `steps(args)`, the micro-batches of one
/// optimizer step (checking the arguments), and `accumulate(window, strategy, micro_step)`,
/// which runs `micro_step(batch, last_of_window)` for each micro-batch of the window under
/// the strategy's gradient_sync scope (MicroBatchWindow is the usual one).
template <class A>
concept AccumulationPolicy =
    PolicyOf<A, category::accumulation> &&
    requires(const A& accumulation, const TrainingArguments& args, std::span<torch::Tensor> window,
             SingleDevice& strategy, detail::MicroStepArchetype micro_step) {
      { accumulation.steps(args) } -> std::same_as<int>;
      accumulation.accumulate(window, strategy, micro_step);
    };

namespace detail {

template <class A>
constexpr bool check_accumulation_policy() {
  static_assert(requires(const A& a, const TrainingArguments& args) { { a.steps(args) } -> std::same_as<int>; },
                "torchtrain: this accumulation policy (A below) has no `int steps(const TrainingArguments&) const`, "
                "the micro-batches of one optimizer step");
  static_assert(requires(const A& a, std::span<torch::Tensor> window, SingleDevice& strategy,
                         MicroStepArchetype micro_step) { a.accumulate(window, strategy, micro_step); },
                "torchtrain: this accumulation policy (A below) has no `accumulate(std::span<Batch> window, "
                "Strategy&, MicroStep&&) const` (derive it from torchtrain::MicroBatchWindow for the usual window)");
  return AccumulationPolicy<A>;
}

}  // namespace detail

}  // namespace torchtrain
