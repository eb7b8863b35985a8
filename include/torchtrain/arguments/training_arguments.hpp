// TrainingArguments: the runtime settings of a run, with the Python Trainer's names and defaults.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/arguments/reflect.hpp>
#include <torchtrain/core/config.hpp>
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
  cosine_warmup_with_min_lr,
  warmup_stable_decay,
  greedy
};

/// How the training samples are ordered, as the Python `train_sampling_strategy`:
/// shuffled by the seed, in dataset order, or shuffled in groups of similar length.
/// batch_rebalance is accepted by name and refused by validate() (not written yet).
enum class TrainSamplingStrategy { random, sequential, group_by_length, batch_rebalance };

/// Which input tokens `num_input_tokens_seen` counts: the values of the string field
/// `include_num_input_tokens_seen` (a string because Python also takes true and false,
/// which derive_defaults turns into all and no).
enum class TokensSeen { no, all, non_padding };

/// Optimizers by their Python `optim` names (those written so far; docs/optimizers.md).
enum class OptimizerNames {
  adamw_torch, adamw_torch_fused, sgd, adagrad, rmsprop, adafactor,
  galore_adamw, galore_adafactor, galore_adamw_layerwise, galore_adafactor_layerwise,
  apollo_adamw, apollo_adamw_layerwise, lomo, adalomo, schedule_free_adamw, schedule_free_sgd,
  lion_32bit, ademamix, adamw_8bit
};

// Names of enum values, found by argument-dependent lookup; the parser and the printers
// use them. A user enum gets the same treatment by declaring its own `enum_names`.
constexpr auto enum_names(IntervalStrategy) {
  return std::array<std::string_view, 3>{"no", "steps", "epoch"};
}
constexpr auto enum_names(SaveStrategy) {
  return std::array<std::string_view, 4>{"no", "steps", "epoch", "best"};
}
constexpr auto enum_names(TrainSamplingStrategy) {
  return std::array<std::string_view, 4>{"random", "sequential", "group_by_length", "batch_rebalance"};
}
constexpr auto enum_names(TokensSeen) { return std::array<std::string_view, 3>{"no", "all", "non_padding"}; }
constexpr auto enum_names(OptimizerNames) {
  return std::array<std::string_view, 19>{
      "adamw_torch",
      "adamw_torch_fused",
      "sgd",
      "adagrad",
      "rmsprop",
      "adafactor",
      "galore_adamw",
      "galore_adafactor",
      "galore_adamw_layerwise",
      "galore_adafactor_layerwise",
      "apollo_adamw",
      "apollo_adamw_layerwise",
      "lomo",
      "adalomo",
      "schedule_free_adamw",
      "schedule_free_sgd",
      "lion_32bit",
      "ademamix",
      "adamw_8bit"};
}
constexpr auto enum_names(SchedulerType) {
  return std::array<std::string_view, 12>{"linear",
                                          "cosine",
                                          "cosine_with_restarts",
                                          "polynomial",
                                          "constant",
                                          "constant_with_warmup",
                                          "inverse_sqrt",
                                          "reduce_lr_on_plateau",
                                          "cosine_with_min_lr",
                                          "cosine_warmup_with_min_lr",
                                          "warmup_stable_decay",
                                          "greedy"};
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
  std::optional<std::string> gradient_checkpointing_kwargs;  // JSON object; only use_reentrant, which changes nothing here
  bool average_tokens_across_devices = true;  // divide a token-level loss by the tokens of all processes
  std::optional<int> torch_empty_cache_steps;  // empty the CUDA caching allocator every N steps

  // Optimizer and schedule.
  OptimizerNames optim = OptimizerNames::adamw_torch_fused;  // the optimizer
  std::optional<std::string> optim_args;  // the optimizer's extra settings: "momentum=0.9,nesterov=true"
  std::optional<std::vector<std::string>> optim_target_modules;  // what GaLore and APOLLO project
  double learning_rate = 5e-5;           // initial learning rate
  double weight_decay = 0.0;             // decoupled weight decay, not applied to biases and norms
  double adam_beta1 = 0.9;               // AdamW beta1
  double adam_beta2 = 0.999;             // AdamW beta2
  double adam_epsilon = 1e-8;            // AdamW epsilon
  SchedulerType lr_scheduler_type = SchedulerType::linear;  // learning-rate schedule
  std::optional<std::string> lr_scheduler_kwargs;  // the schedule's extra parameters: a JSON object
  double warmup_steps = 0;               // linear warmup steps (a value < 1 is a ratio of the total)
  double warmup_ratio = 0.0;             // warmup as a ratio of the total (used when warmup_steps is 0)

  // Logging.
  IntervalStrategy logging_strategy = IntervalStrategy::steps;  // when to log
  double logging_steps = 500;            // log every N steps (a value < 1 is a ratio of the total)
  bool logging_first_step = false;       // also log the first step
  bool logging_nan_inf_filter = true;    // log the running mean in place of a NaN or Inf step loss
  bool log_on_each_node = true;          // each machine's first process logs at log_level (false: rank 0 only)
  std::string include_num_input_tokens_seen = "no";  // count input tokens: no, all, non_padding
  bool skip_memory_metrics = true;       // false: add the memory each stage allocated and peaked at
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
  bool eval_do_concat_batches = true;    // predictions as one tensor; false: one per batch (EvalPrediction::batches)
  bool bf16_full_eval = false;           // evaluate outside training with the model in bfloat16
  bool fp16_full_eval = false;           // evaluate outside training with the model in float16

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
  bool save_on_each_node = false;        // each machine's first process saves too (no shared disk)

  // Data, randomness and devices.
  std::uint64_t seed = 42;               // random seed set when the trainer is created
  std::optional<std::uint64_t> data_seed;  // seed of the data order (default: seed)
  bool full_determinism = false;         // deterministic algorithms everywhere (slower)
  bool dataloader_drop_last = false;     // drop the last incomplete training batch of each epoch
  int dataloader_num_workers = 0;        // workers loading batches in the background (0: none)
  std::optional<int> dataloader_prefetch_factor;  // batches each worker loads ahead
  bool dataloader_pin_memory = true;     // pinned memory for batches, for faster copies to the GPU
  bool dataloader_persistent_workers = false;  // no effect: worker threads share the dataset
  TrainSamplingStrategy train_sampling_strategy = TrainSamplingStrategy::random;  // the order of training samples
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

  // The scripts' own switches (the Trainer does not read them; scripts do).
  bool do_train = false;
  bool do_eval = false;                  // becomes true when eval_strategy is not no
  bool do_predict = false;

  // Accepted under their Python names; an error when set to ask for something torchtrain
  // does not do (see validate), else without effect here.
  bool activation_checkpointing = false;
  std::optional<std::string> activation_checkpointing_kwargs;
  bool torch_compile = false;
  std::optional<std::string> torch_compile_backend;
  std::optional<std::string> torch_compile_mode;
  bool use_liger_kernel = false;
  std::optional<std::string> liger_kernel_config;
  bool use_cache = false;
  bool auto_find_batch_size = false;
  std::string project = "huggingface";
  std::optional<std::string> trackio_space_id;
  std::optional<std::string> trackio_bucket_id;
  std::optional<std::string> trackio_static_space_id;
  bool eval_use_gather_object = false;
  bool enable_jit_checkpoint = false;
  bool push_to_hub = false;
  std::optional<std::string> hub_token;
  std::optional<bool> hub_private_repo;
  std::optional<std::string> hub_model_id;
  std::string hub_strategy = "every_save";
  bool hub_always_push = false;
  std::optional<std::string> hub_revision;
  std::optional<std::string> accelerator_config;
  std::optional<std::string> parallelism_config;
  std::optional<std::string> dataloader_multiprocessing_context;
  bool dataloader_in_order = true;
  bool remove_unused_columns = true;
  std::string length_column_name = "length";
  std::optional<bool> ddp_static_graph;
  std::optional<std::string> fsdp;
  std::optional<std::string> fsdp_config;
  std::optional<std::string> deepspeed;
  std::vector<std::string> debug;
  int local_rank = -1;

  friend bool operator==(const TrainingArguments&, const TrainingArguments&) = default;
};

}  // namespace torchtrain

// Reflection, with each field's help text: every field above must be listed here (a
// static_assert in the parser compares the count, and a test checks each has a help
// text), so that flags, `--help`, files and the documentation cover the whole struct.
//
// Only where the definitions are compiled (header-only, or the library): a program built
// against torchtrain::compiled reads, writes and describes TrainingArguments through the
// library, and the 130 accessors cost about a second to compile. There the specialization
// is declared and not defined, so that any use of it in a program is a compile error,
// never a silent difference from the library.
#if TORCHTRAIN_DEFINITIONS
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
    (gradient_checkpointing_kwargs, "a JSON object for gradient checkpointing; only use_reentrant is taken, and "
                                    "changes nothing (LibTorch's checkpoint recomputes one way)"),
    (average_tokens_across_devices, "with several processes, divide a token-level loss by the tokens of all of "
                                    "them (as one batch), not by each one's own"),
    (torch_empty_cache_steps, "return the CUDA caching allocator's unused memory every N steps (slower; "
                              "for memory kept by fragmentation)"),
    // Optimizer and schedule.
    (optim, "the optimizer"),
    (optim_args, "the optimizer's extra settings, as in Python: \"momentum=0.9,nesterov=True\""),
    (learning_rate, "initial learning rate"),
    (weight_decay, "decoupled weight decay, not applied to biases and norm weights"),
    (adam_beta1, "AdamW beta1: decay rate of the first moment"),
    (adam_beta2, "AdamW beta2: decay rate of the second moment"),
    (adam_epsilon, "AdamW epsilon, for numerical stability"),
    (lr_scheduler_type, "learning-rate schedule"),
    (lr_scheduler_kwargs, "the schedule's extra parameters, a JSON object as in Python: '{\"num_cycles\": 2}' "
                          "(also \"num_cycles=2,power=0.5\")"),
    (warmup_steps, "linear warmup steps (a value < 1 is a ratio of the total steps)"),
    (warmup_ratio, "warmup as a ratio of the total steps (used when warmup_steps is 0)"),
    // Logging.
    (logging_strategy, "when to log"),
    (logging_steps, "log every N optimizer steps (a value < 1 is a ratio of the total steps)"),
    (logging_first_step, "also log the first step"),
    (logging_nan_inf_filter, "log the running mean loss in place of a NaN or Inf step loss (training is unchanged)"),
    (log_on_each_node, "each machine's first process logs at log_level, the others at log_level_replica; false: "
                       "only rank 0 logs at log_level"),
    (include_num_input_tokens_seen, "count the input tokens trained on in num_input_tokens_seen, and log it: no, "
                                    "all, non_padding (the attention mask's ones); true means all"),
    (skip_memory_metrics, "false adds the memory of init, train, eval and predict to their metrics "
                          "(<stage>_mem_cpu_alloc_delta, _peaked_delta; _gpu_ on CUDA), as Python"),
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
    (eval_do_concat_batches, "predictions as one tensor; false keeps each batch's apart (EvalPrediction::batches, "
                             "PredictionOutput::batches), as Python's lists"),
    (bf16_full_eval, "evaluate() and predict() outside training turn the model to bfloat16 first (it stays so)"),
    (fp16_full_eval, "evaluate() and predict() outside training turn the model to float16 first (it stays so)"),
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
    (save_on_each_node, "each machine's first process saves checkpoints and models too, for machines that share no "
                        "disk (default: only rank 0)"),
    // Data, randomness and devices.
    (seed, "random seed set when the trainer is created"),
    (data_seed, "seed of the data order (default: seed)"),
    (full_determinism, "deterministic algorithms everywhere, for reproducible runs (slower)"),
    (dataloader_drop_last, "drop the last incomplete training batch of each epoch"),
    (dataloader_num_workers, "workers loading batches in the background (0: the training loop loads them)"),
    (dataloader_prefetch_factor, "batches each worker loads ahead (needs dataloader_num_workers > 0)"),
    (dataloader_pin_memory, "put batches in pinned memory, for faster copies to the GPU"),
    (dataloader_persistent_workers, "Python's: keep worker processes between epochs; no effect here (worker threads "
                                    "share the dataset and start again each epoch)"),
    (train_sampling_strategy, "order of the training samples: random (by data_seed), sequential, group_by_length "
                              "(similar lengths together, for less padding)"),
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
    (tf32, "allow TensorFloat-32 matrix products on Ampere GPUs or newer (default: LibTorch's setting)"),
    // The scripts' own switches.
    (do_train, "for scripts: whether to train (the Trainer does not read it)"),
    (do_eval, "for scripts: whether to evaluate (set when eval_strategy is not no)"),
    (do_predict, "for scripts: whether to predict (the Trainer does not read it)"),
    // Python's, accepted so that its scripts and files run; an error where they ask for more.
    (optim_target_modules, "the modules GaLore and APOLLO project (names, regular expressions, or all-linear)"),
    (activation_checkpointing, "FSDP's activation checkpointing: an error when true (use gradient_checkpointing)"),
    (activation_checkpointing_kwargs, "FSDP's activation checkpointing settings: an error when set"),
    (torch_compile, "torch.compile: an error when true (LibTorch has no compiler)"),
    (torch_compile_backend, "torch.compile's backend: an error when set"),
    (torch_compile_mode, "torch.compile's mode: an error when set"),
    (use_liger_kernel, "Liger's Triton kernels: an error when true"),
    (liger_kernel_config, "Liger's settings: an error when set"),
    (use_cache, "the model's key-value cache (Python sets model.config.use_cache): no effect here"),
    (auto_find_batch_size, "halve the batch size on out-of-memory: an error when true"),
    (project, "the trackio project: no effect here (no trackio logger)"),
    (trackio_space_id, "trackio: no effect here"),
    (trackio_bucket_id, "trackio: no effect here"),
    (trackio_static_space_id, "trackio: no effect here"),
    (eval_use_gather_object, "gather Python objects in evaluation: an error when true (outputs are tensors)"),
    (enable_jit_checkpoint, "on SIGTERM (or SIGUSR1), save a checkpoint at the end of the step and stop training"),
    (push_to_hub, "push to the Hugging Face Hub: an error when true (save_model, then upload with huggingface-cli)"),
    (hub_token, "the Hub: no effect without push_to_hub"),
    (hub_private_repo, "the Hub: no effect without push_to_hub"),
    (hub_model_id, "the Hub: no effect without push_to_hub"),
    (hub_strategy, "the Hub: no effect without push_to_hub"),
    (hub_always_push, "the Hub: no effect without push_to_hub"),
    (hub_revision, "the Hub: no effect without push_to_hub"),
    (accelerator_config, "Accelerate's settings, a JSON object: an error for a value other than Accelerate's "
                         "default, but non_blocking (batches already copy without blocking)"),
    (parallelism_config, "Accelerate's tensor and context parallelism: an error when set"),
    (dataloader_multiprocessing_context, "how Python starts loader processes: no effect here (workers are threads)"),
    (dataloader_in_order, "batches in order from the workers: always so here"),
    (remove_unused_columns, "drop dataset columns the model does not take: no effect here (batches are structs)"),
    (length_column_name, "the lengths column of a Hugging Face dataset: no effect here (lengths() gives them)"),
    (ddp_static_graph, "PyTorch DDP's static graph: no effect here (torchtrain's buckets need none)"),
    (fsdp, "Trainer<FSDP>'s sharding: full_shard (default), shard_grad_op, shard_optimizer_state, offload"),
    (fsdp_config, "Trainer<FSDP>'s settings (JSON or a JSON file): reshard_after_forward, cpu_offload, transformer_layer_cls_to_wrap"),
    (deepspeed, "DeepSpeed: an error when set (use Trainer<FSDP>)"),
    (debug, "underflow_overflow: stop with an error at the first training loss or gradient norm that is not finite"),
    (local_rank, "set by Python's launchers: no effect here (torchrun's LOCAL_RANK is read)"));
#else
namespace boost::hana {
template <>
struct accessors_impl<torchtrain::TrainingArguments>;
}  // namespace boost::hana
template <>
struct torchtrain::reflected_help<torchtrain::TrainingArguments>;
#endif
