// validate: the checks on TrainingArguments that need nothing but the arguments.
#pragma once

#include <array>
#include <string_view>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// The logger names `report_to` accepts besides "all" and "none".
inline constexpr std::array<std::string_view, 3> reporting_integrations{"tensorboard", "jsonl", "csv"};

/// The process group backends `ddp_backend` accepts.
inline constexpr std::array<std::string_view, 2> ddp_backends{"nccl", "gloo"};

/// The names `include_for_metrics` accepts.
inline constexpr std::array<std::string_view, 2> metrics_inputs{"inputs", "loss"};

/// Fills what the Python `TrainingArguments.__post_init__` derives from other fields:
/// metric_for_best_model is "loss" when the best model matters and none is named;
/// greater_is_better is true unless that metric's name ends in "loss"; report_to "all"
/// becomes every reporting integration and "none" the empty list; use_cpu turns
/// dataloader_pin_memory off; logging_dir is output_dir/runs/<date>_<host>; disable_tqdm
/// is true when log_level shows only errors; do_eval is true when eval_strategy is not
/// no; include_num_input_tokens_seen true and false are all and no. Applying it twice
/// changes nothing more.
TORCHTRAIN_INLINE void derive_defaults(TrainingArguments& args);

/// Throws ArgumentError, naming the flag, for settings that cannot work.
TORCHTRAIN_INLINE void validate(const TrainingArguments& args);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <torchtrain/arguments/logging_dir.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/name_values.hpp>
#include <torchtrain/detail/reflection.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE void derive_defaults(TrainingArguments& args) {
  if (!args.metric_for_best_model &&
      (args.load_best_model_at_end || args.save_strategy == SaveStrategy::best ||
       args.lr_scheduler_type == SchedulerType::reduce_lr_on_plateau || args.lr_scheduler_type == SchedulerType::greedy))
    args.metric_for_best_model = "loss";
  if (args.metric_for_best_model && !args.greater_is_better)
    args.greater_is_better = !args.metric_for_best_model->ends_with("loss");
  if (args.report_to == std::vector<std::string>{"all"})
    args.report_to.assign(reporting_integrations.begin(), reporting_integrations.end());
  else if (args.report_to == std::vector<std::string>{"none"})
    args.report_to.clear();
  // As Python's __post_init__: evaluation by steps defaults to the logging interval, and
  // the Accelerate settings to Accelerate's defaults (the only ones torchtrain runs).
  if (args.eval_strategy == IntervalStrategy::steps && (!args.eval_steps || *args.eval_steps == 0) &&
      args.logging_steps > 0)
    args.eval_steps = args.logging_steps;
  if (!args.accelerator_config)
    args.accelerator_config = R"({"dispatch_batches": null, "even_batches": true, "gradient_accumulation_kwargs": )"
                              R"(null, "non_blocking": false, "split_batches": false, "use_seedable_sampler": true})";
  if (args.use_cpu) args.dataloader_pin_memory = false;
  if (args.eval_strategy != IntervalStrategy::no) args.do_eval = true;
  // Python's bool form (any word its string_to_bool takes), as its __post_init__ reads it.
  if (const auto flag = detail::parse_value<bool>(args.include_num_input_tokens_seen))
    args.include_num_input_tokens_seen = *flag ? "all" : "no";
  if (!args.logging_dir) args.logging_dir = default_logging_dir(args.output_dir).string();
  // Python asks the logger's effective level; `passive` leaves transformers' warning level.
  if (!args.disable_tqdm)
    args.disable_tqdm = args.log_level == LogLevel::error || args.log_level == LogLevel::critical;
}

namespace detail {

template <std::size_t N>
bool is_one_of(std::string_view name, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

// Python's rule for the step intervals: above 1 a count of steps, so a whole number.
inline void require_whole_above_one(std::string_view flag, double steps) {
  if (steps > 1 && steps != std::floor(steps))
    throw ArgumentError(fmt::format("--{} must be a whole number when above 1 (below 1 it is a ratio), got {}",
                                    flag, steps));
}

// Throws ArgumentError naming --report_to for a name that is not a reporting
// integration, "all" or "none", and for "all" or "none" beside other names.
inline void validate_reporting(const TrainingArguments& args) {
  for (const auto& name : args.report_to) {
    if ((name == "all" || name == "none") && args.report_to.size() > 1)
      throw ArgumentError(fmt::format("--report_to {} cannot be given beside other names, got {}", name,
                                      fmt::join(args.report_to, " ")));
    if (name != "all" && name != "none" && !is_one_of(name, reporting_integrations))
      throw ArgumentError(fmt::format("--report_to {} is not a logger torchtrain has; choose from {}, all, none",
                                      name, joined(reporting_integrations)));
  }
}

// Throws ArgumentError, naming the flag, for evaluation, data and distribution settings
// that cannot work.
inline void validate_evaluation_and_data(const TrainingArguments& args) {
  if (args.neftune_noise_alpha && !(*args.neftune_noise_alpha > 0))
    throw ArgumentError(fmt::format("--neftune_noise_alpha must be above 0 (leave it out for no noise), got {}",
                                    *args.neftune_noise_alpha));
  if (!(args.label_smoothing_factor >= 0 && args.label_smoothing_factor < 1))
    throw ArgumentError(fmt::format("--label_smoothing_factor must be in [0, 1), got {}", args.label_smoothing_factor));
  if (args.eval_accumulation_steps && *args.eval_accumulation_steps < 1)
    throw ArgumentError(fmt::format("--eval_accumulation_steps must be at least 1 (or None), got {}",
                                    *args.eval_accumulation_steps));
  for (const auto& name : args.include_for_metrics)
    if (!is_one_of(name, metrics_inputs))
      throw ArgumentError(fmt::format("--include_for_metrics {} is not one of {}", name, joined(metrics_inputs)));
  if (args.dataloader_num_workers < 0)
    throw ArgumentError(fmt::format("--dataloader_num_workers must not be negative, got {}", args.dataloader_num_workers));
  if (args.dataloader_prefetch_factor && args.dataloader_num_workers == 0)
    throw ArgumentError("--dataloader_prefetch_factor can only be set when batches are loaded by workers, "
                        "i.e. when --dataloader_num_workers > 0");
  if (args.dataloader_prefetch_factor && *args.dataloader_prefetch_factor < 1)
    throw ArgumentError(fmt::format("--dataloader_prefetch_factor must be at least 1 (or None), got {}",
                                    *args.dataloader_prefetch_factor));
  if (args.ddp_backend && !is_one_of(*args.ddp_backend, ddp_backends))
    throw ArgumentError(fmt::format("--ddp_backend {} is not one torchtrain runs on; choose from {}", *args.ddp_backend,
                                    joined(ddp_backends)));
  if (args.ddp_timeout < 1)
    throw ArgumentError(fmt::format("--ddp_timeout must be at least 1 second, got {}", args.ddp_timeout));
  if (args.ddp_bucket_cap_mb && *args.ddp_bucket_cap_mb < 1)
    throw ArgumentError(fmt::format("--ddp_bucket_cap_mb must be at least 1 (MB), got {}", *args.ddp_bucket_cap_mb));
}

// Throws ArgumentError for the Python fields set to ask for what torchtrain does not do,
// saying what to do instead; their defaults (and values that ask for nothing) pass.
inline void validate_python_only(const TrainingArguments& args) {
  const auto refuse = [](bool asks, std::string_view flag, std::string_view instead) {
    if (asks) throw ArgumentError(fmt::format("--{} is not something torchtrain does: {}", flag, instead));
  };
  const auto set = [](const std::optional<std::string>& value) {
    return value && !value->empty() && *value != "{}" && *value != "[]" && *value != "\"\"";
  };
  refuse(args.activation_checkpointing || set(args.activation_checkpointing_kwargs), "activation_checkpointing",
         "it is FSDP's; use --gradient_checkpointing with tt::nn::Checkpoint-wrapped modules");
  refuse(args.torch_compile || set(args.torch_compile_backend) || set(args.torch_compile_mode), "torch_compile",
         "LibTorch has no torch.compile; drop it");
  refuse(args.use_liger_kernel || set(args.liger_kernel_config), "use_liger_kernel",
         "Liger's kernels are Triton, for Python; drop it");
  refuse(args.auto_find_batch_size, "auto_find_batch_size",
         "set --per_device_train_batch_size to one that fits (and raise --gradient_accumulation_steps)");
  refuse(args.eval_use_gather_object, "eval_use_gather_object",
         "evaluation outputs are tensors here, gathered as tensors; drop it");
  refuse(args.push_to_hub, "push_to_hub",
         "save with save_model() and upload the folder with `huggingface-cli upload`");
  refuse(set(args.parallelism_config), "parallelism_config", "use DDP (Trainer<DDP>) under torchrun");
  refuse(set(args.deepspeed), "deepspeed", "use Trainer<FSDP> (ZeRO stages 1 to 3: --fsdp shard_optimizer_state, "
         "shard_grad_op or full_shard) under torchrun");
  // underflow_overflow stops training at the first loss or gradient norm that is not finite
  // (Python's stops at the first such activation, which LibTorch modules cannot hook).
  for (const auto& option : args.debug) {
    refuse(option == "tpu_metrics_debug", "debug tpu_metrics_debug", "it is for TPUs; drop it");
    if (!option.empty() && option != "underflow_overflow")
      throw ArgumentError(fmt::format("--debug {}: unknown option; the one torchtrain takes is underflow_overflow", option));
  }
  refuse(args.train_sampling_strategy == TrainSamplingStrategy::batch_rebalance, "train_sampling_strategy batch_rebalance",
         "use random, sequential or group_by_length");
  if (set(args.gradient_checkpointing_kwargs))
    for (const auto& [name, value] : split_name_values(*args.gradient_checkpointing_kwargs, "gradient_checkpointing_kwargs"))
      refuse(name != "use_reentrant", "gradient_checkpointing_kwargs " + name, "only use_reentrant is taken");
  if (set(args.accelerator_config)) {
    // Accelerate's defaults, which are what torchtrain does; non_blocking copies always.
    const std::vector<std::pair<std::string_view, std::string_view>> defaults{
        {"split_batches", "false"}, {"dispatch_batches", "null"}, {"even_batches", "true"},
        {"use_seedable_sampler", "true"}, {"non_blocking", ""}, {"gradient_accumulation_kwargs", "null"}};
    for (const auto& [name, value] : split_name_values(*args.accelerator_config, "accelerator_config")) {
      const auto known = std::find_if(defaults.begin(), defaults.end(), [&name = name](const auto& d) { return d.first == name; });
      refuse(known == defaults.end() || (!known->second.empty() && value != known->second),
             fmt::format("accelerator_config {}={}", name, value),
             "torchtrain does what Accelerate's defaults do (split_batches false, even_batches true, "
             "use_seedable_sampler true); drop it");
    }
  }
  if (!is_one_of(args.include_num_input_tokens_seen, enum_names(TokensSeen{})))
    throw ArgumentError(fmt::format("--include_num_input_tokens_seen must be no, all or non_padding (or true, false), "
                                    "got '{}'",
                                    args.include_num_input_tokens_seen));
  if (args.torch_empty_cache_steps && *args.torch_empty_cache_steps < 1)
    throw ArgumentError(fmt::format("--torch_empty_cache_steps must be at least 1 (or None), got {}",
                                    *args.torch_empty_cache_steps));
  if (args.bf16_full_eval && args.fp16_full_eval)
    throw ArgumentError("--bf16_full_eval and --fp16_full_eval are both set; choose one");
}

}  // namespace detail

TORCHTRAIN_INLINE void validate(const TrainingArguments& args) {
  // inf or nan in any number ruins a run in silence (an inf learning rate trains NaN weights).
  detail::for_each_field(args, [](std::string_view name, const auto& value) {
    using Field = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<Field, double>) {
      if (!std::isfinite(value)) throw ArgumentError(fmt::format("--{} is {}: give a finite number", name, value));
    } else if constexpr (std::is_same_v<Field, std::optional<double>>) {
      if (value && !std::isfinite(*value))
        throw ArgumentError(fmt::format("--{} is {}: give a finite number", name, *value));
    }
  });
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
  if (args.logging_strategy == IntervalStrategy::steps) detail::require_whole_above_one("logging_steps", args.logging_steps);
  if (args.eval_strategy == IntervalStrategy::steps)
    detail::require_whole_above_one(args.eval_steps ? "eval_steps" : "logging_steps",
                                    args.eval_steps.value_or(args.logging_steps));
  if (args.save_strategy == SaveStrategy::steps) detail::require_whole_above_one("save_steps", args.save_steps);
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
      // As Python, in floating point (a ratio scaled by 1e6 first): an integer rounding made
      // a ratio below 5e-7 a division by zero and 1e20 an unspecified count.
      const auto scaled = [](double steps) { return steps < 1 ? steps * 1e6 : steps; };
      if (std::fmod(scaled(args.save_steps), scaled(eval_steps)) != 0)
        throw ArgumentError(fmt::format(
            "--load_best_model_at_end requires --save_steps to be a round multiple of --eval_steps, got {} and {}",
            args.save_steps, eval_steps));
    }
  }
  detail::validate_reporting(args);
  detail::validate_evaluation_and_data(args);
  detail::validate_python_only(args);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
