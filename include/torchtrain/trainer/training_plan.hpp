// TrainingPlan: how many batches, optimizer steps and epochs a run takes.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/io/messages.hpp>

namespace torchtrain {

/// The shape of a run, computed once before training as the Python Trainer does.
struct TrainingPlan {
  std::int64_t num_samples = 0;        // in the training set (on this process; for a stream, those the run trains on)
  std::int64_t batches_per_epoch = 0;  // micro-batches
  int accumulation_steps = 1;          // micro-batches per optimizer step
  int updates_per_epoch = 0;           // optimizer steps; the last window may be short
  int max_steps = 0;                   // optimizer steps in the whole run
  int num_epochs = 0;                  // epochs the loop enters
};

/// max_steps > 0 wins over num_train_epochs; fractional epochs give
/// ceil(num_train_epochs x updates_per_epoch) steps.
TORCHTRAIN_INLINE TrainingPlan plan_training(const TrainingArguments& args, std::int64_t num_samples,
                                             int accumulation_steps);

/// The plan for a stream, which has no length: --max_steps optimizer steps, the epochs
/// as many as it takes (the stream restarts at each), and, as in Python, an epoch counted
/// as max_steps x accumulation_steps micro-batches for the fractional `epoch`.
TORCHTRAIN_INLINE TrainingPlan plan_streaming(const TrainingArguments& args, int accumulation_steps);

/// An interval argument in steps: a value < 1 is a ratio of max_steps (rounded up); one
/// beyond any run's steps (--save_steps 1e20) is never reached, as in Python. A value <= 0,
/// which validate() allows only for a strategy that is not steps (and nothing then reads),
/// gives 0: Python would record ceil(max_steps x value), but a negative interval in
/// trainer_state.json is refused on resume, and -1e20 overflows an int.
TORCHTRAIN_INLINE int resolve_interval(double steps, int max_steps);

/// What the Python Trainer logs at info level when training starts.
TORCHTRAIN_INLINE void announce_training(const TrainingPlan& plan, const TrainingArguments& args, std::int64_t num_examples,
                                         int world_size, std::int64_t trainable_parameters);

/// The state a run of `plan` starts from: no step taken, the intervals resolved.
TORCHTRAIN_INLINE TrainerState fresh_trainer_state(const TrainingPlan& plan, const TrainingArguments& args);

/// The samples a run of `plan` trains on over all processes, for train()'s speeds as Python
/// counts them: max_steps global batches, or the epochs of the training set.
TORCHTRAIN_INLINE double planned_samples(const TrainingPlan& plan, const TrainingArguments& args, int world_size);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

namespace torchtrain {

TORCHTRAIN_INLINE TrainingPlan plan_training(const TrainingArguments& args, std::int64_t num_samples,
                                             int accumulation_steps) {
  TrainingPlan plan;
  plan.num_samples = num_samples;
  plan.accumulation_steps = accumulation_steps;
  if (num_samples == 0)
    throw ArgumentError("the training set is empty: there is nothing to train on; check the file or the split "
                        "that made it");
  const std::int64_t batch_size = args.per_device_train_batch_size;
  plan.batches_per_epoch = args.dataloader_drop_last ? num_samples / batch_size
                                                     : (num_samples + batch_size - 1) / batch_size;
  if (plan.batches_per_epoch == 0)
    throw ArgumentError(fmt::format(
        "the training set has {} samples, not one batch of --per_device_train_batch_size {}{}",
        num_samples, batch_size, args.dataloader_drop_last ? " (with --dataloader_drop_last)" : ""));
  // Counted in 64 bits, then checked to fit the int steps that TrainerState (and Python's
  // trainer_state.json) count in: a run never silently trains 0 steps.
  constexpr double most_steps = std::numeric_limits<int>::max();
  const std::int64_t updates_per_epoch = (plan.batches_per_epoch + accumulation_steps - 1) / accumulation_steps;
  if (static_cast<double>(updates_per_epoch) > most_steps)
    throw ArgumentError(fmt::format("the training set makes {} optimizer steps an epoch, more than a run counts ({}); "
                                    "raise --per_device_train_batch_size or --gradient_accumulation_steps",
                                    updates_per_epoch, std::numeric_limits<int>::max()));
  plan.updates_per_epoch = static_cast<int>(updates_per_epoch);
  if (args.max_steps > 0) {
    plan.max_steps = args.max_steps;
    plan.num_epochs = static_cast<int>((std::int64_t{args.max_steps} + updates_per_epoch - 1) / updates_per_epoch);
  } else {
    // As validate() says; checked again here, before the epochs become an int.
    if (!(args.num_train_epochs > 0))
      throw ArgumentError(fmt::format("--num_train_epochs must be positive when --max_steps is not set, got {}",
                                      args.num_train_epochs));
    const double steps = std::ceil(args.num_train_epochs * static_cast<double>(updates_per_epoch));
    if (!(steps <= most_steps))  // a count of 300 digits (--num_train_epochs 1e300) is written in short
      throw ArgumentError(fmt::format("--num_train_epochs {} makes {} optimizer steps ({} an epoch), more than a "
                                      "run counts ({}); lower it, or set --max_steps",
                                      args.num_train_epochs,
                                      steps < 1e18 ? fmt::format("{:.0f}", steps) : fmt::format("{:.3g}", steps),
                                      updates_per_epoch, std::numeric_limits<int>::max()));
    plan.max_steps = static_cast<int>(steps);
    plan.num_epochs = static_cast<int>(std::ceil(args.num_train_epochs));
  }
  return plan;
}

TORCHTRAIN_INLINE TrainingPlan plan_streaming(const TrainingArguments& args, int accumulation_steps) {
  if (args.max_steps <= 0)
    throw ArgumentError("the training set is a stream, which has no length, so --num_train_epochs cannot say how "
                        "long to train: set --max_steps (the Python Trainer asks the same)");
  TrainingPlan plan;
  plan.accumulation_steps = accumulation_steps;
  plan.max_steps = args.max_steps;
  // At most (2^31)^3 = 2^93 as a product of three ints: counted in a double first.
  const double samples = static_cast<double>(args.max_steps) * args.per_device_train_batch_size * accumulation_steps;
  if (samples > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2))
    throw ArgumentError(fmt::format("--max_steps {} x --per_device_train_batch_size {} x {} micro-batches a step is "
                                    "{:.3g} samples, more than a run can count; lower them",
                                    args.max_steps, args.per_device_train_batch_size, accumulation_steps, samples));
  plan.num_samples = std::int64_t{args.max_steps} * args.per_device_train_batch_size * accumulation_steps;
  plan.batches_per_epoch = std::int64_t{args.max_steps} * accumulation_steps;
  plan.updates_per_epoch = args.max_steps;
  plan.num_epochs = std::numeric_limits<int>::max();
  return plan;
}

TORCHTRAIN_INLINE int resolve_interval(double steps, int max_steps) {
  if (!(steps > 0)) return 0;  // nan too
  if (steps < 1) return static_cast<int>(std::ceil(steps * max_steps));
  return steps >= std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : static_cast<int>(steps);
}

TORCHTRAIN_INLINE void announce_training(const TrainingPlan& plan, const TrainingArguments& args, std::int64_t num_examples,
                                         int world_size, std::int64_t trainable_parameters) {
  message(LogLevel::info,
          "***** Running training *****\n  Num examples = {}\n  Num Epochs = {}\n"
          "  Instantaneous batch size per device = {}\n"
          "  Total train batch size (w. parallel, distributed & accumulation) = {}\n"
          "  Gradient Accumulation steps = {}\n  Total optimization steps = {}\n"
          "  Number of trainable parameters = {}",
          num_examples, plan.num_epochs, args.per_device_train_batch_size,
          std::int64_t{args.per_device_train_batch_size} * plan.accumulation_steps * world_size,
          plan.accumulation_steps, plan.max_steps, trainable_parameters);
}

TORCHTRAIN_INLINE TrainerState fresh_trainer_state(const TrainingPlan& plan, const TrainingArguments& args) {
  TrainerState state;
  state.max_steps = plan.max_steps;
  state.num_train_epochs = plan.num_epochs;
  state.train_batch_size = args.per_device_train_batch_size;
  state.logging_steps = resolve_interval(args.logging_steps, plan.max_steps);
  state.eval_steps = resolve_interval(args.eval_steps.value_or(args.logging_steps), plan.max_steps);
  state.save_steps = resolve_interval(args.save_steps, plan.max_steps);
  return state;
}

TORCHTRAIN_INLINE double planned_samples(const TrainingPlan& plan, const TrainingArguments& args, int world_size) {
  if (args.max_steps > 0)
    return static_cast<double>(plan.max_steps) * args.per_device_train_batch_size * plan.accumulation_steps * world_size;
  return static_cast<double>(plan.num_samples) * world_size * args.num_train_epochs;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
