// Snapshots: what a checkpoint holds of a run (weights, optimizer, schedule, precision state, trainer state, random states) and how a run takes it back.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/arguments/training_arguments_json.hpp>
#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/random_state.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/io/torch_pickle.hpp>
#include <torchtrain/io/trainer_state_json.hpp>
#include <torchtrain/io/training_plot.hpp>
#include <torchtrain/optim/python_state_dict.hpp>
#include <torchtrain/policies/strategy/strategy_hooks.hpp>
#include <torchtrain/trainer/optimization.hpp>
#include <torchtrain/trainer/training_plan.hpp>

namespace torchtrain {

/// Every process's random state by its file name in a checkpoint (see
/// Checkpoint::rng_states), on the processes that save (empty elsewhere). A collective:
/// every process calls it, and the strategy gathers the states.
template <class Strategy>
std::map<std::string, std::string> random_states(Strategy& strategy, const TrainingArguments& args, bool saves) {
  const int world = strategy.world_size();
  auto all = strategy.gather_bytes(save_random_state(args.seed, world > 1));
  if (!saves) return {};
  std::map<std::string, std::string> states;
  for (int rank = 0; rank < world; ++rank) states[Checkpoint::rng_state_file_name(rank, world)] = std::move(all[rank]);
  return states;
}

/// The checkpoint of this moment, bound for `folder`, in memory on the processes that save
/// (`saves`; empty elsewhere): the weights as the strategy gathers them, and unless --save_only_model the
/// optimizer, schedule and precision state as Python's state dicts (the Python Trainer
/// resumes from them), the random states and `loop_state`. A collective: every process
/// calls it, as the strategy may gather the weights and the optimizer's state.
template <class Model, class Strategy, class Precision>
Checkpoint take_snapshot(Model& model, Strategy& strategy, const Precision& precision, const TrainingArguments& args,
                         const TrainerState& state, const Optimization& optimization, std::string loop_state,
                         std::map<std::string, std::string> rng_states, const std::filesystem::path& folder,
                         bool saves) {
  Checkpoint checkpoint;
  auto weights = strategy.state_dict(model);
  if (!args.save_only_model)
    strategy_hooks::save_optimizer(strategy, *optimization.optimizer(), optimization.scheduler()->initial_lrs(),
                                   checkpoint, folder, saves);
  if (!saves) return checkpoint;
  checkpoint.model = std::move(weights);
  checkpoint.training_args = training_arguments_json(args);
  checkpoint.trainer_state = trainer_state_json(state);
  checkpoint.training_plot = io::training_plot_svg(state);
  if (args.save_only_model) return checkpoint;
  checkpoint.scheduler = io::torch_save_bytes(optimization.scheduler()->state_dict());
  if (const auto precision_state = precision.state_dict(); !precision_state.isNone())
    checkpoint.scaler = io::torch_save_bytes(precision_state);
  checkpoint.rng_states = std::move(rng_states);
  checkpoint.loop_state = std::move(loop_state);
  return checkpoint;
}

/// Loads a checkpoint's weights, optimizer, schedule and precision state (the weights and
/// the optimizer's state through the strategy, which may keep them in shards); FileError
/// naming the file for a checkpoint that cannot resume a run.
template <class Model, class Strategy, class Precision>
void restore_training_objects(const Checkpoint& checkpoint, const std::filesystem::path& folder, Model& model,
                              Strategy& strategy, Optimization& optimization, Precision& precision) {
  const auto file = [&](const char* name) { return (folder / name).string(); };
  if (checkpoint.optimizer.empty() && checkpoint.optimizer_shards.empty())
    throw FileError(fmt::format("'{}' holds no optimizer state (it was saved with --save_only_model), so training "
                                "cannot resume from it; load its weights with load_model() and train afresh",
                                folder.string()));
  strategy_hooks::load_state_dict(strategy, model, checkpoint.model, file(Checkpoint::model_file));
  strategy_hooks::load_optimizer(strategy, *optimization.optimizer(), checkpoint, folder);
  if (checkpoint.scheduler.empty())
    throw FileError(fmt::format("'{}' holds no {}; resume from a checkpoint saved with its optimizer state",
                                folder.string(), Checkpoint::scheduler_file));
  optimization.scheduler()->load_state_dict(io::torch_load_bytes(checkpoint.scheduler, file(Checkpoint::scheduler_file)),
                                            file(Checkpoint::scheduler_file));
  if (!checkpoint.scaler.empty())
    precision.load_state_dict(io::torch_load_bytes(checkpoint.scaler, file(Checkpoint::scaler_file)),
                              file(Checkpoint::scaler_file));
}

/// The checkpoint's trainer state with this run's intervals, batch size and plan (a change
/// from the checkpoint's is reported); ArgumentError when it is past this run's steps.
TORCHTRAIN_INLINE TrainerState restored_trainer_state(const Checkpoint& checkpoint, const std::filesystem::path& folder,
                                                      const TrainerState& now, const TrainingPlan& plan);

/// This process's random state, as Python: a checkpoint of another number of processes
/// has none for it, and a Python one holds states LibTorch cannot read; either way the
/// random draws then differ from the interrupted run's, which a warning says.
TORCHTRAIN_INLINE void restore_random_state(const Checkpoint& checkpoint, const std::filesystem::path& folder, int rank,
                                            int world_size);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

TORCHTRAIN_INLINE TrainerState restored_trainer_state(const Checkpoint& checkpoint, const std::filesystem::path& folder,
                                                      const TrainerState& now, const TrainingPlan& plan) {
  TrainerState saved =
      trainer_state_from_json(checkpoint.trainer_state, (folder / Checkpoint::trainer_state_file).string());
  const auto warn_if_changed = [](std::string_view name, int before, int after) {
    if (before != after)
      message(LogLevel::warning, "--{} is {} in this run but was {} in the checkpoint; using {}", name, after, before,
              after);
  };
  warn_if_changed("logging_steps", saved.logging_steps, now.logging_steps);
  warn_if_changed("eval_steps", saved.eval_steps, now.eval_steps);
  warn_if_changed("save_steps", saved.save_steps, now.save_steps);
  warn_if_changed("per_device_train_batch_size", saved.train_batch_size, now.train_batch_size);
  for (auto field : {&TrainerState::logging_steps, &TrainerState::eval_steps, &TrainerState::save_steps,
                     &TrainerState::train_batch_size, &TrainerState::max_steps, &TrainerState::num_train_epochs})
    saved.*field = now.*field;
  saved.is_world_process_zero = now.is_world_process_zero;
  saved.is_local_process_zero = now.is_local_process_zero;
  if (saved.global_step > plan.max_steps)
    throw ArgumentError(fmt::format("'{}' is at step {}, past this run's {} steps; raise --max_steps or "
                                    "--num_train_epochs to train further",
                                    folder.string(), saved.global_step, plan.max_steps));
  return saved;
}

TORCHTRAIN_INLINE void restore_random_state(const Checkpoint& checkpoint, const std::filesystem::path& folder, int rank,
                                            int world_size) {
  const auto rng_file = Checkpoint::rng_state_file_name(rank, world_size);
  const auto rng_state = checkpoint.rng_states.find(rng_file);
  if (rng_state != checkpoint.rng_states.end() && checkpoint.from_python)
    message(LogLevel::warning,
            "'{}' is a Python Trainer's checkpoint: its {} holds Python's and NumPy's states, which LibTorch cannot "
            "read, so this process's random state is not restored and dropout and other random draws will not "
            "repeat the interrupted run's",
            folder.string(), rng_file);
  else if (rng_state != checkpoint.rng_states.end())
    load_random_state(rng_state->second, (folder / rng_file).string());
  else
    message(LogLevel::warning,
            "'{}' holds no {} (it was saved by a run of another number of processes): this process's random "
            "state is not restored, so dropout and other random draws will not repeat the interrupted run's",
            folder.string(), rng_file);
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
