// Accumulation policies: how many micro-batches make one optimizer step, and how their window runs.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// The usual window of micro-batches: each one's forward and backward in turn, gradients
/// summed, and only the last backward of the window synchronizes gradients across
/// processes (inside the strategy's `gradient_sync(false)` scope the others do not; DDP's
/// no_sync). The built-in accumulation policies are this window; a user's may be too.
struct MicroBatchWindow {
  /// Calls `micro_step(batch, last_of_window)` for each micro-batch of `window`, in order.
  template <class Batch, class Strategy, class MicroStep>
  void accumulate(std::span<Batch> window, Strategy& strategy, MicroStep&& micro_step) const {
    for (std::size_t i = 0; i < window.size(); ++i) {
      const bool last_of_window = i + 1 == window.size();
      [[maybe_unused]] auto sync = strategy.gradient_sync(/*enabled=*/last_of_window);
      micro_step(window[i], last_of_window);
    }
  }
};

/// The default: `gradient_accumulation_steps` from the arguments, chosen at run time.
struct AccumFromArguments : MicroBatchWindow {
  using torchtrain_category = category::accumulation;

  static int steps(const TrainingArguments& args);
};

/// N micro-batches per optimizer step, fixed at compile time: `Trainer<Accum<4>>`.
template <int N>
struct Accum : MicroBatchWindow {
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

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE int AccumFromArguments::steps(const TrainingArguments& args) {
  if (args.gradient_accumulation_steps < 1)
    throw ArgumentError(fmt::format("--gradient_accumulation_steps must be at least 1, got {}",
                                    args.gradient_accumulation_steps));
  return args.gradient_accumulation_steps;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
