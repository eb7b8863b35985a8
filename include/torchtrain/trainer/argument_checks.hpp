// check_run_arguments: the arguments a Trainer's model, batches, loss and policies cannot serve, refused before anything trains.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <torch/nn/module.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/policies/logger/report_to.hpp>
#include <torchtrain/trainer/detail/main_input.hpp>

namespace torchtrain {

namespace detail {

/// What a Trainer's policies, batches and model can serve, for check_run_arguments.
struct RunTraits {
  bool strategy_reads_fsdp_arguments;  // the strategy is FSDP's
  bool logger_follows_report_to;       // the logger policy is ReportTo
  bool writes_checkpoints;             // the checkpointer writes
  bool batch_has_main_input;           // the batches have input_ids (or inputs) to count
};

// check_run_arguments with the types seen through their traits: compiled once.
TORCHTRAIN_INLINE void check_run_arguments(const TrainingArguments& args, const RunTraits& traits,
                                           torch::nn::Module& model);

}  // namespace detail

/// Checks the arguments on their own and against the policies and the batch type: an
/// ArgumentError names the flag and what to do. (The precision, accumulation, data,
/// evaluation and optimizer parts check their own arguments.)
template <class Policies, class Batch, class Model>
void check_run_arguments(const TrainingArguments& args, Model& model) {
  detail::check_run_arguments(
      args,
      {.strategy_reads_fsdp_arguments = requires { Policies::strategy::reads_fsdp_arguments; },
       .logger_follows_report_to = std::is_same_v<typename Policies::logger, ReportTo>,
       .writes_checkpoints = Policies::checkpointer::writes_checkpoints,
       .batch_has_main_input = requires(const Batch& batch) { detail::main_input(batch); }},
      *model);
}

/// --label_smoothing_factor smooths the cross-entropy loss, as Python's LabelSmoother (the
/// same formula as LibTorch's label_smoothing), in training and evaluation.
template <class Loss>
void apply_label_smoothing(const TrainingArguments& args, Loss& loss) {
  if (args.label_smoothing_factor == 0) return;
  if constexpr (std::is_same_v<Loss, loss::CrossEntropy>) {
    if (loss.label_smoothing != 0 && loss.label_smoothing != args.label_smoothing_factor)
      throw ArgumentError(fmt::format("--label_smoothing_factor {} and the loss's own label_smoothing {} differ; "
                                      "give one of them",
                                      args.label_smoothing_factor, loss.label_smoothing));
    loss.label_smoothing = args.label_smoothing_factor;
  } else {
    throw ArgumentError("--label_smoothing_factor smooths tt::loss::CrossEntropy, and this Trainer's loss is "
                        "another; pass tt::loss::cross_entropy as the loss, or smooth in your own loss");
  }
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/ranges.h>

#include <torchtrain/arguments/validate.hpp>
#include <torchtrain/distributed/sharding.hpp>
#include <torchtrain/nn/neftune_embedding.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE void check_run_arguments(const TrainingArguments& args, const RunTraits& traits,
                                           torch::nn::Module& model) {
  validate(args);
  if (!traits.strategy_reads_fsdp_arguments && (distributed::fsdp_requested(args) || distributed::fsdp_config_given(args)))
    throw ArgumentError("--fsdp and --fsdp_config choose how Trainer<FSDP> shards, and this Trainer's strategy "
                        "is not FSDP: name it (Trainer<FSDP>, or Trainer<BF16, FSDP>) and run under "
                        "torchtrain-launch or torchrun, or drop the flags");
  if (!traits.logger_follows_report_to && !args.report_to.empty())
    throw ArgumentError(fmt::format("--report_to {} chooses loggers, but this Trainer's logger policy chooses them "
                                    "already; drop --report_to, or leave the logger policy out (the default, "
                                    "ReportTo, follows --report_to)",
                                    fmt::join(args.report_to, " ")));
  if (args.load_best_model_at_end && !traits.writes_checkpoints)
    throw ArgumentError("--load_best_model_at_end needs checkpoints, but this Trainer's checkpointer is "
                        "NoCheckpoint; drop the flag or use a checkpointer that writes");
  if (args.enable_jit_checkpoint && !traits.writes_checkpoints)
    throw ArgumentError("--enable_jit_checkpoint saves a checkpoint on SIGTERM, but this Trainer's checkpointer is "
                        "NoCheckpoint; drop the flag or use a checkpointer that writes");
  // Batches are structs: losses and metrics read the member `labels`, so a label name is
  // checked here once rather than looked up in every step.
  if (args.label_names && *args.label_names != std::vector<std::string>{"labels"})
    throw ArgumentError(fmt::format("--label_names {}: torchtrain batches hold their labels in the member "
                                    "`labels`; name it so in your batch type and drop --label_names (or pass "
                                    "--label_names labels)",
                                    fmt::join(*args.label_names, " ")));
  if (!traits.batch_has_main_input && args.include_num_input_tokens_seen != "no")
    throw ArgumentError("--include_num_input_tokens_seen counts the elements of a batch's input_ids (or inputs), "
                        "and this Trainer's batches have neither; drop it");
  if ((args.lr_scheduler_type == SchedulerType::reduce_lr_on_plateau || args.lr_scheduler_type == SchedulerType::greedy) &&
      args.eval_strategy == IntervalStrategy::no)
    throw ArgumentError(fmt::format("--lr_scheduler_type {} steps on evaluation results: set --eval_strategy steps "
                                    "or epoch",
                                    format_value(args.lr_scheduler_type)));
  if (args.neftune_noise_alpha && nn::set_neftune_noise_alpha(model, 0) == 0)
    throw ArgumentError("--neftune_noise_alpha adds noise to the model's input embeddings, but the model has no "
                        "tt::nn::NEFTuneEmbedding; use one (a drop-in torch::nn::Embedding) for its input embedding");
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
