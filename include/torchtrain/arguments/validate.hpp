// validate: the checks on TrainingArguments that need nothing but the arguments.
#pragma once

#include <cmath>
#include <cstddef>

#include <fmt/format.h>

#include <torchtrain/arguments/argument_error.hpp>
#include <torchtrain/arguments/training_arguments.hpp>

namespace torchtrain {

/// Fills what the Python `TrainingArguments.__post_init__` derives from other fields:
/// metric_for_best_model is "loss" when the best model matters and none is named, and
/// greater_is_better is true unless that metric's name ends in "loss".
inline void derive_defaults(TrainingArguments& args) {
  if (!args.metric_for_best_model && (args.load_best_model_at_end || args.save_strategy == SaveStrategy::best))
    args.metric_for_best_model = "loss";
  if (args.metric_for_best_model && !args.greater_is_better)
    args.greater_is_better = !args.metric_for_best_model->ends_with("loss");
}

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
  if (args.save_strategy == SaveStrategy::steps && !(args.save_steps > 0))
    throw ArgumentError(fmt::format(
        "--save_steps must be positive with --save_strategy steps, got {}", args.save_steps));
  if (args.load_best_model_at_end && args.save_strategy != SaveStrategy::best) {
    const auto eval = enum_names(args.eval_strategy)[static_cast<std::size_t>(args.eval_strategy)];
    const auto save = enum_names(args.save_strategy)[static_cast<std::size_t>(args.save_strategy)];
    if (eval != save)
      throw ArgumentError(fmt::format(
          "--load_best_model_at_end requires the save and eval strategy to match, but --eval_strategy is {} and "
          "--save_strategy is {}; set both to steps or both to epoch (or --save_strategy best)", eval, save));
    // Steps or ratios of the total: a save must fall on an evaluation.
    const double eval_steps = args.eval_steps.value_or(args.logging_steps);
    if (args.eval_strategy == IntervalStrategy::steps) {
      if ((eval_steps < 1) != (args.save_steps < 1))
        throw ArgumentError(fmt::format(
            "--load_best_model_at_end needs --save_steps and --eval_steps both as step counts or both as ratios, "
            "got {} and {}", args.save_steps, eval_steps));
      const auto scaled = [](double steps) { return std::llround(steps * (steps < 1 ? 1e6 : 1)); };
      if (scaled(args.save_steps) % scaled(eval_steps) != 0)
        throw ArgumentError(fmt::format(
            "--load_best_model_at_end requires --save_steps to be a round multiple of --eval_steps, got {} and {}",
            args.save_steps, eval_steps));
    }
  }
}

}  // namespace torchtrain
