// Accumulation policies: how many micro-batches make one optimizer step.
#pragma once

#include <fmt/format.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// The default: `gradient_accumulation_steps` from the arguments, chosen at run time.
struct AccumFromArguments {
  using torchtrain_category = category::accumulation;

  static int steps(const TrainingArguments& args) {
    if (args.gradient_accumulation_steps < 1)
      throw ArgumentError(fmt::format("--gradient_accumulation_steps must be at least 1, got {}",
                                      args.gradient_accumulation_steps));
    return args.gradient_accumulation_steps;
  }
};

/// N micro-batches per optimizer step, fixed at compile time: `Trainer<Accum<4>>`.
template <int N>
struct Accum {
  static_assert(N >= 1, "torchtrain::Accum<N> needs N >= 1 micro-batches per optimizer step");
  using torchtrain_category = category::accumulation;
  static constexpr int micro_batches = N;

  /// The arguments may repeat N, or leave gradient_accumulation_steps at its default 1.
  static int steps(const TrainingArguments& args) {
    if (args.gradient_accumulation_steps != 1 && args.gradient_accumulation_steps != N)
      throw ArgumentError(fmt::format(
          "--gradient_accumulation_steps {} contradicts the Trainer's policy Accum<{}>; "
          "drop the flag or make them equal",
          args.gradient_accumulation_steps, N));
    return N;
  }
};

}  // namespace torchtrain
