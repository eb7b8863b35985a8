// DefaultFlow: when to log, evaluate and stop, from the arguments (the Python DefaultFlowCallback).
#pragma once

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/trainer_state.hpp>

namespace torchtrain {

/// The built-in callback that turns the intervals of the arguments into control flags
/// (saves with --save_strategy best are asked for by the trainer, on a new best metric).
/// The trainer always runs it before the user's callbacks, so theirs can override it.
struct DefaultFlow {
  void on_step_end(const TrainingArguments& args, const TrainerState& state, TrainerControl& control) const;

  void on_epoch_end(const TrainingArguments& args, const TrainerState& state, TrainerControl& control) const;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE void DefaultFlow::on_step_end(const TrainingArguments& args, const TrainerState& state,
                                                 TrainerControl& control) const {
  if (state.global_step == 1 && args.logging_first_step) control.should_log = true;
  if (args.logging_strategy == IntervalStrategy::steps && state.logging_steps > 0 &&
      state.global_step % state.logging_steps == 0)
    control.should_log = true;
  if (args.eval_strategy == IntervalStrategy::steps && state.eval_steps > 0 &&
      state.global_step % state.eval_steps == 0 && args.eval_delay <= state.global_step)
    control.should_evaluate = true;
  if (args.save_strategy == SaveStrategy::steps && state.save_steps > 0 && state.global_step % state.save_steps == 0)
    control.should_save = true;
  if (state.global_step >= state.max_steps) {
    control.should_training_stop = true;
    // The last step is evaluated and saved too (an epoch strategy does both at the epoch's end).
    if (args.eval_strategy == IntervalStrategy::steps && args.eval_delay <= state.global_step)
      control.should_evaluate = true;
    if (args.save_strategy == SaveStrategy::steps) control.should_save = true;
  }
}

TORCHTRAIN_INLINE void DefaultFlow::on_epoch_end(const TrainingArguments& args, const TrainerState& state,
                                                  TrainerControl& control) const {
  if (args.logging_strategy == IntervalStrategy::epoch) control.should_log = true;
  if (args.eval_strategy == IntervalStrategy::epoch && args.eval_delay <= state.epoch)
    control.should_evaluate = true;
  if (args.save_strategy == SaveStrategy::epoch) control.should_save = true;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
