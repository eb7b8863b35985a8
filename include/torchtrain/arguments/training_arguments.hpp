// TrainingArguments: the runtime settings of a run, with the Python Trainer's names and defaults.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/arguments/reflect.hpp>
#include <torchtrain/io/messages.hpp>

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
/// `transformers.TrainingArguments`; each field's help text (for `--help` and
/// docs/training-arguments.md) is given with its reflection below the struct.
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
  double label_smoothing_factor = 0.0;   // label smoothing of the cross-entropy loss (0 disables)
  std::optional<double> neftune_noise_alpha;  // NEFTune noise on the input embeddings while training
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
  bool logging_nan_inf_filter = true;    // log the running mean in place of a NaN or Inf step loss
  std::optional<std::string> logging_dir;  // where loggers write (default: output_dir/runs/<date>_<host>)
  std::vector<std::string> report_to = {"none"};  // loggers to report to; "all" or "none"
  std::optional<std::string> run_name;   // a name for the run, for the loggers
  LogLevel log_level = LogLevel::passive;            // log level of the main process
  LogLevel log_level_replica = LogLevel::warning;    // log level of the other processes
  std::optional<bool> disable_tqdm;      // no progress bar (default: none when logging errors only)

  // Evaluation.
  IntervalStrategy eval_strategy = IntervalStrategy::no;  // when to evaluate during training
  std::optional<double> eval_steps;      // evaluate every N steps (default: logging_steps; < 1 is a ratio)
  double eval_delay = 0;                 // steps (or epochs) to wait before the first evaluation
  bool eval_on_start = false;            // evaluate once before training, as a sanity check
  std::optional<int> eval_accumulation_steps;  // batches of outputs kept on the device before moving to the CPU
  bool prediction_loss_only = false;     // evaluation returns the loss only
  std::vector<std::string> include_for_metrics;  // extra data for compute_metrics: "inputs", "loss"
  bool batch_eval_metrics = false;       // call compute_metrics per batch, to save memory

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
  bool restore_callback_states_from_checkpoint = false;  // on resume, also restore stateful callbacks

  // Data, randomness and devices.
  std::uint64_t seed = 42;               // random seed set when the trainer is created
  std::optional<std::uint64_t> data_seed;  // seed of the data order (default: seed)
  bool full_determinism = false;         // deterministic algorithms everywhere (slower)
  bool dataloader_drop_last = false;     // drop the last incomplete training batch of each epoch
  int dataloader_num_workers = 0;        // workers loading batches in the background (0: none)
  std::optional<int> dataloader_prefetch_factor;  // batches each worker loads ahead
  bool dataloader_pin_memory = true;     // pinned memory for batches, for faster copies to the GPU
  bool group_by_length = false;          // batch samples of similar length together
  std::optional<std::vector<std::string>> label_names;  // the batch keys that hold labels
  bool use_cpu = false;                  // train on the CPU even when CUDA is available
  std::optional<std::string> ddp_backend;  // process group backend: nccl or gloo
  int ddp_timeout = 1800;                // seconds a distributed collective waits before failing
  std::optional<int> ddp_bucket_cap_mb;  // MB of gradients all-reduced together (default 25, as PyTorch DDP)
  std::optional<bool> ddp_broadcast_buffers;  // rank 0's buffers to every rank before each forward (default true)
  std::optional<bool> ddp_find_unused_parameters;  // accepted for Python scripts: always handled

  // Precision (must agree with the Trainer's precision policy).
  bool bf16 = false;                     // bfloat16 mixed precision
  bool fp16 = false;                     // float16 mixed precision with loss scaling
  std::optional<bool> tf32;              // TensorFloat-32 matrix products on Ampere GPUs or newer

  friend bool operator==(const TrainingArguments&, const TrainingArguments&) = default;
};

}  // namespace torchtrain

// Reflection, with each field's help text: every field above must be listed here (a
// static_assert in the parser compares the count, and a test checks each has a help
// text), so that flags, `--help`, files and the documentation cover the whole struct.
TORCHTRAIN_REFLECT(
    torchtrain::TrainingArguments,
    // Output.
    (output_dir, "where checkpoints and results are written"),
    // The loop.
    (num_train_epochs, "epochs to train (fractions allowed)"),
    (max_steps, "if > 0: optimizer steps to train, overrides num_train_epochs"),
    (per_device_train_batch_size, "micro-batch size per device for training"),
    (per_device_eval_batch_size, "batch size per device for evaluation"),
    (gradient_accumulation_steps, "micro-batches per optimizer step"),
    (max_grad_norm, "clip gradients to this global L2 norm (0 disables clipping)"),
    (label_smoothing_factor, "label smoothing of the cross-entropy loss, in [0, 1) (0 disables it)"),
    (neftune_noise_alpha, "NEFTune: uniform noise of this scale on the output of the model's tt::nn::NEFTuneEmbedding "
                          "while training"),
    (gradient_checkpointing, "recompute the forward of Checkpoint-wrapped modules in backward, to save memory"),
    // Optimizer and schedule.
    (optim, "the optimizer"),
    (optim_args, "the optimizer's extra settings, e.g. \"momentum=0.9,nesterov=true\""),
    (learning_rate, "initial learning rate"),
    (weight_decay, "decoupled weight decay, not applied to biases and norm weights"),
    (adam_beta1, "AdamW beta1: decay rate of the first moment"),
    (adam_beta2, "AdamW beta2: decay rate of the second moment"),
    (adam_epsilon, "AdamW epsilon, for numerical stability"),
    (lr_scheduler_type, "learning-rate schedule"),
    (lr_scheduler_kwargs, "the schedule's extra parameters, e.g. \"num_cycles=2,power=0.5\""),
    (warmup_steps, "linear warmup steps (a value < 1 is a ratio of the total steps)"),
    (warmup_ratio, "warmup as a ratio of the total steps (used when warmup_steps is 0)"),
    // Logging.
    (logging_strategy, "when to log"),
    (logging_steps, "log every N optimizer steps (a value < 1 is a ratio of the total steps)"),
    (logging_first_step, "also log the first step"),
    (logging_nan_inf_filter, "log the running mean loss in place of a NaN or Inf step loss (training is unchanged)"),
    (logging_dir, "where loggers write their files (default: output_dir/runs/<date>_<host>)"),
    (report_to, "loggers to report to (tensorboard, jsonl, csv), \"all\" or \"none\""),
    (run_name, "a name for the run, for the loggers"),
    (log_level, "log level of the main process (passive: leave the level as it is)"),
    (log_level_replica, "log level of the other processes of a distributed run"),
    (disable_tqdm, "no progress bar (default: none when the log level shows errors only)"),
    // Evaluation.
    (eval_strategy, "when to evaluate during training"),
    (eval_steps, "evaluate every N optimizer steps (default: logging_steps; a value < 1 is a ratio)"),
    (eval_delay, "optimizer steps (or epochs, with eval_strategy epoch) to wait before the first evaluation"),
    (eval_on_start, "evaluate once before the first training step, as a sanity check"),
    (eval_accumulation_steps, "evaluation batches whose outputs stay on the device before moving to the CPU (default: all)"),
    (prediction_loss_only, "evaluation and prediction return the loss only"),
    (include_for_metrics, "extra data handed to compute_metrics: \"inputs\", \"loss\""),
    (batch_eval_metrics, "call compute_metrics after every evaluation batch, to save memory"),
    // Checkpoints and the best model.
    (save_strategy, "when to save a checkpoint (best: whenever evaluation finds a new best metric)"),
    (save_steps, "save every N optimizer steps (a value < 1 is a ratio of the total steps)"),
    (save_total_limit, "keep at most N checkpoints, never deleting the best"),
    (save_only_model, "checkpoints hold the model only: no optimizer, scheduler or random state (no resume)"),
    (load_best_model_at_end, "load the best checkpoint's weights when training ends"),
    (metric_for_best_model, "the metric deciding the best model (default: loss, when one is needed)"),
    (greater_is_better, "whether a greater metric is better (default: true unless the metric name ends in loss)"),
    (resume_from_checkpoint, "for scripts: \"true\" (the latest checkpoint in output_dir) or a checkpoint folder"),
    (ignore_data_skip, "on resume, do not skip the batches already seen in the current epoch"),
    (restore_callback_states_from_checkpoint, "on resume, also restore the saved state of stateful callbacks"),
    // Data, randomness and devices.
    (seed, "random seed set when the trainer is created"),
    (data_seed, "seed of the data order (default: seed)"),
    (full_determinism, "deterministic algorithms everywhere, for reproducible runs (slower)"),
    (dataloader_drop_last, "drop the last incomplete training batch of each epoch"),
    (dataloader_num_workers, "workers loading batches in the background (0: the training loop loads them)"),
    (dataloader_prefetch_factor, "batches each worker loads ahead (needs dataloader_num_workers > 0)"),
    (dataloader_pin_memory, "put batches in pinned memory, for faster copies to the GPU"),
    (group_by_length, "batch samples of similar length together, for less padding"),
    (label_names, "the keys of a batch that hold the labels (default: labels)"),
    (use_cpu, "train on the CPU even when CUDA is available"),
    (ddp_backend, "process group backend of distributed runs: nccl or gloo (default: nccl on CUDA, gloo on the CPU)"),
    (ddp_timeout, "seconds a distributed collective waits before failing"),
    (ddp_bucket_cap_mb, "MB of gradients all-reduced together, overlapping backward (default 25, as PyTorch DDP)"),
    (ddp_broadcast_buffers, "copy rank 0's buffers (BatchNorm statistics) to every rank before each forward (default true)"),
    (ddp_find_unused_parameters, "accepted for Python scripts; parameters that get no gradient are always handled"),
    // Precision (must agree with the Trainer's precision policy).
    (bf16, "bfloat16 mixed precision (Trainer<BF16>)"),
    (fp16, "float16 mixed precision with loss scaling (Trainer<FP16>)"),
    (tf32, "allow TensorFloat-32 matrix products on Ampere GPUs or newer (default: LibTorch's setting)"));
