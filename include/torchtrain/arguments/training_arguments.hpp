// TrainingArguments: the runtime settings of a run, with the Python Trainer's names and defaults.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <torchtrain/arguments/reflect.hpp>

namespace torchtrain {

/// When something happens: never, every N optimizer steps, or at each epoch's end.
enum class IntervalStrategy { no, steps, epoch };

/// When to save a checkpoint: as IntervalStrategy, or whenever evaluation finds a new best
/// `metric_for_best_model` (the Python `SaveStrategy`).
enum class SaveStrategy { no, steps, epoch, best };

/// Learning-rate schedule shapes (multipliers of `learning_rate`), as in the Python
/// `SchedulerType`.
enum class SchedulerType {
  linear,
  cosine,
  cosine_with_restarts,
  polynomial,
  constant,
  constant_with_warmup,
  inverse_sqrt,
  reduce_lr_on_plateau,
  cosine_with_min_lr,
  warmup_stable_decay
};

/// Optimizers by their Python `optim` names (those written so far).
enum class OptimizerNames { adamw_torch, adamw_torch_fused, sgd, adagrad, rmsprop, adafactor };

// Names of enum values, found by argument-dependent lookup; the parser and the printers
// use them. A user enum gets the same treatment by declaring its own `enum_names`.
constexpr auto enum_names(IntervalStrategy) {
  return std::array<std::string_view, 3>{"no", "steps", "epoch"};
}
constexpr auto enum_names(SaveStrategy) {
  return std::array<std::string_view, 4>{"no", "steps", "epoch", "best"};
}
constexpr auto enum_names(OptimizerNames) {
  return std::array<std::string_view, 6>{"adamw_torch", "adamw_torch_fused", "sgd", "adagrad", "rmsprop", "adafactor"};
}
constexpr auto enum_names(SchedulerType) {
  return std::array<std::string_view, 10>{"linear",         "cosine",
                                          "cosine_with_restarts", "polynomial",
                                          "constant",       "constant_with_warmup",
                                          "inverse_sqrt",   "reduce_lr_on_plateau",
                                          "cosine_with_min_lr", "warmup_stable_decay"};
}

/// Every runtime number of a run. Field names, meanings and defaults follow the Python
/// `transformers.TrainingArguments`; the comment on each field is its `--help` text.
struct TrainingArguments {
  // Output.
  std::string output_dir = "trainer_output";  // where checkpoints and results are written

  // The loop.
  double num_train_epochs = 3.0;         // epochs to train (fractions allowed)
  int max_steps = -1;                    // if > 0: optimizer steps to train, overrides num_train_epochs
  int per_device_train_batch_size = 8;   // micro-batch size per device for training
  int per_device_eval_batch_size = 8;    // batch size per device for evaluation
  int gradient_accumulation_steps = 1;   // micro-batches per optimizer step
  double max_grad_norm = 1.0;            // clip gradients to this global L2 norm (0 disables)
  bool gradient_checkpointing = false;   // recompute the forward of Checkpoint-wrapped modules in backward

  // Optimizer and schedule.
  OptimizerNames optim = OptimizerNames::adamw_torch;  // the optimizer
  std::string optim_args;                // the optimizer's extra settings: "momentum=0.9,nesterov=true"
  double learning_rate = 5e-5;           // initial learning rate
  double weight_decay = 0.0;             // decoupled weight decay, not applied to biases and norms
  double adam_beta1 = 0.9;               // AdamW beta1
  double adam_beta2 = 0.999;             // AdamW beta2
  double adam_epsilon = 1e-8;            // AdamW epsilon
  SchedulerType lr_scheduler_type = SchedulerType::linear;  // learning-rate schedule
  std::string lr_scheduler_kwargs;       // the schedule's extra parameters: "num_cycles=2,power=0.5"
  double warmup_steps = 0;               // linear warmup steps (a value < 1 is a ratio of the total)
  double warmup_ratio = 0.0;             // warmup as a ratio of the total (used when warmup_steps is 0)

  // Logging.
  IntervalStrategy logging_strategy = IntervalStrategy::steps;  // when to log
  double logging_steps = 500;            // log every N steps (a value < 1 is a ratio of the total)
  bool logging_first_step = false;       // also log the first step

  // Evaluation.
  IntervalStrategy eval_strategy = IntervalStrategy::no;  // when to evaluate during training
  std::optional<double> eval_steps;      // evaluate every N steps (default: logging_steps; < 1 is a ratio)
  double eval_delay = 0;                 // steps (or epochs) to wait before the first evaluation

  // Checkpoints and the best model.
  SaveStrategy save_strategy = SaveStrategy::steps;  // when to save a checkpoint
  double save_steps = 500;               // save every N steps (a value < 1 is a ratio of the total)
  std::optional<int> save_total_limit;   // keep at most N checkpoints (never deleting the best)
  bool save_only_model = false;          // checkpoints hold the model only: no optimizer, scheduler, random state
  bool load_best_model_at_end = false;   // load the best checkpoint's weights when training ends
  std::optional<std::string> metric_for_best_model;  // metric deciding the best model (default "loss")
  std::optional<bool> greater_is_better; // default: true unless the metric name ends in "loss"
  std::optional<std::string> resume_from_checkpoint;  // for scripts: "true" (latest in output_dir) or a path
  bool ignore_data_skip = false;         // on resume, do not skip the batches already seen this epoch

  // Data, randomness and devices.
  std::uint64_t seed = 42;               // random seed set when the trainer is created
  std::optional<std::uint64_t> data_seed;  // seed of the data order (default: seed)
  bool dataloader_drop_last = false;     // drop the last incomplete training batch of each epoch
  bool use_cpu = false;                  // train on the CPU even when CUDA is available

  // Precision (must agree with the Trainer's precision policy).
  bool bf16 = false;                     // bfloat16 mixed precision
  bool fp16 = false;                     // float16 mixed precision with loss scaling

  friend bool operator==(const TrainingArguments&, const TrainingArguments&) = default;
};

}  // namespace torchtrain

// Reflection: every field above must be listed here (a static_assert in the parser
// compares the count), so that flags, printing and files cover the whole struct.
TORCHTRAIN_REFLECT(torchtrain::TrainingArguments, output_dir, num_train_epochs, max_steps,
                        per_device_train_batch_size, per_device_eval_batch_size,
                        gradient_accumulation_steps, max_grad_norm, gradient_checkpointing, optim, optim_args, learning_rate, weight_decay,
                        adam_beta1, adam_beta2, adam_epsilon, lr_scheduler_type, lr_scheduler_kwargs, warmup_steps,
                        warmup_ratio, logging_strategy, logging_steps, logging_first_step,
                        eval_strategy, eval_steps, eval_delay, save_strategy, save_steps,
                        save_total_limit, save_only_model, load_best_model_at_end, metric_for_best_model,
                        greater_is_better, resume_from_checkpoint, ignore_data_skip, seed, data_seed,
                        dataloader_drop_last, use_cpu, bf16, fp16);
