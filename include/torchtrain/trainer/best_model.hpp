// The best model: metric_for_best_model tracked over evaluations, and its checkpoint loaded at the end (--load_best_model_at_end).
#pragma once

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/checkpoint_folders.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/policies/strategy/strategy_hooks.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/io/messages.hpp>

namespace torchtrain {

/// The value of metric_for_best_model (with "eval_" put in front, as Python does; default
/// loss) in an evaluation's metrics; ArgumentError naming what evaluation returns instead.
TORCHTRAIN_INLINE double best_model_metric(const TrainingArguments& args, const Metrics& metrics);

/// Notes a new best metric_for_best_model in `state` (the Python `_determine_best_metric`);
/// returns whether this evaluation is the best so far. A NaN is never the best; an
/// infinity compares as Python compares it. Either way, with `speaks`, a warning says what
/// was decided, since a diverged run would otherwise keep or load an old best in silence.
TORCHTRAIN_INLINE bool update_best_metric(const TrainingArguments& args, const Metrics& metrics, TrainerState& state,
                                          bool speaks = true);

/// Loads the weights of the best checkpoint (read by `checkpointer`) into `model`. With a
/// limit of one, the newest checkpoint was kept beside the best only to resume from: the
/// processes that save remove the others of its folder.
template <class Checkpointer, class Strategy, class Model>
void load_best_model(const Checkpointer& checkpointer, Strategy& strategy, Model& model, const TrainingArguments& args,
                     const TrainerState& state, bool saves) {
  const std::filesystem::path folder = *state.best_model_checkpoint;
  message(LogLevel::info, "Loading best model from {} (score: {}).", folder.string(), state.best_metric.value_or(NAN));
  const Checkpoint best = checkpointer.read(folder, /*model_only=*/true);
  strategy_hooks::load_state_dict(strategy, model, best.model, (folder / Checkpoint::model_file).string());
  if (args.save_total_limit == 1 && saves)
    for (const auto& other : sorted_checkpoints(folder.parent_path()))
      if (!std::filesystem::equivalent(other, folder)) std::filesystem::remove_all(other);
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <torchtrain/detail/python_float_repr.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE double best_model_metric(const TrainingArguments& args, const Metrics& metrics) {
  std::string name = args.metric_for_best_model.value_or("loss");
  if (!name.starts_with("eval_")) name = "eval_" + name;
  if (!metrics.contains(name)) {
    std::string names;
    for (const auto& [key, value] : metrics) names += (names.empty() ? "" : ", ") + key;
    throw ArgumentError(fmt::format("--metric_for_best_model {} names '{}', which evaluation does not return; "
                                    "it returns {}",
                                    args.metric_for_best_model.value_or("loss"), name, names));
  }
  return metrics.at(name);
}

TORCHTRAIN_INLINE bool update_best_metric(const TrainingArguments& args, const Metrics& metrics, TrainerState& state,
                                          bool speaks) {
  if (!args.metric_for_best_model) return false;
  const double value = best_model_metric(args, metrics);
  const bool greater = args.greater_is_better.value_or(true);
  const double best = state.best_metric.value_or(greater ? -INFINITY : INFINITY);
  const bool is_best = greater ? value > best : value < best;
  if (!std::isfinite(value) && speaks)
    message(LogLevel::warning, "step {}: --metric_for_best_model {} is {}: {}", state.global_step,
            *args.metric_for_best_model, detail::python_float_repr(value),
            is_best ? "it compares as the best so far, so this checkpoint becomes the best model"
            : state.best_global_step ? fmt::format("not the best; the best stays step {} ({})", *state.best_global_step,
                                                   state.best_metric.value_or(NAN))
                                     : std::string("not the best, and no evaluation has been the best yet"));
  if (!is_best) return false;
  state.best_metric = value;
  state.best_global_step = state.global_step;
  return true;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
