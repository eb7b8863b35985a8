// validate: the checks on TrainingArguments that need nothing but the arguments.
#pragma once

#include <fmt/format.h>

#include <torchtrain/arguments/argument_error.hpp>
#include <torchtrain/arguments/training_arguments.hpp>

namespace torchtrain {

/// Throws ArgumentError, naming the flag, for settings that cannot work.
inline void validate(const TrainingArguments& args) {
  if (args.bf16 && args.fp16)
    throw ArgumentError("--bf16 and --fp16 are both set; choose one");
  if (args.per_device_train_batch_size < 1)
    throw ArgumentError(fmt::format("--per_device_train_batch_size must be at least 1, got {}",
                                    args.per_device_train_batch_size));
  if (args.per_device_eval_batch_size < 1)
    throw ArgumentError(fmt::format("--per_device_eval_batch_size must be at least 1, got {}",
                                    args.per_device_eval_batch_size));
  if (args.gradient_accumulation_steps < 1)
    throw ArgumentError(fmt::format("--gradient_accumulation_steps must be at least 1, got {}",
                                    args.gradient_accumulation_steps));
  if (args.max_steps <= 0 && !(args.num_train_epochs > 0))
    throw ArgumentError(fmt::format(
        "--num_train_epochs must be positive when --max_steps is not set, got {}", args.num_train_epochs));
  if (!(args.learning_rate >= 0))
    throw ArgumentError(fmt::format("--learning_rate must not be negative, got {}", args.learning_rate));
  if (!(args.max_grad_norm >= 0))
    throw ArgumentError(fmt::format(
        "--max_grad_norm must not be negative (0 disables clipping), got {}", args.max_grad_norm));
  if (!(args.warmup_steps >= 0))
    throw ArgumentError(fmt::format("--warmup_steps must not be negative, got {}", args.warmup_steps));
  if (!(args.warmup_ratio >= 0 && args.warmup_ratio <= 1))
    throw ArgumentError(fmt::format("--warmup_ratio must be in [0, 1], got {}", args.warmup_ratio));
  if (args.logging_strategy == IntervalStrategy::steps && !(args.logging_steps > 0))
    throw ArgumentError(fmt::format(
        "--logging_steps must be positive with --logging_strategy steps, got {}", args.logging_steps));
  if (args.eval_strategy == IntervalStrategy::steps && !(args.eval_steps.value_or(args.logging_steps) > 0))
    throw ArgumentError(fmt::format("--eval_steps must be positive with --eval_strategy steps, got {}",
                                    args.eval_steps.value_or(args.logging_steps)));
}

}  // namespace torchtrain
