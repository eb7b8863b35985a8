// TrainerState and TrainerControl: where a run stands, and what the loop does next.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>

namespace torchtrain {

/// The state of a run, with the fields of the Python `TrainerState` (saved as
/// `trainer_state.json` in checkpoints).
struct TrainerState {
  double epoch = 0;                  // fractional: 1.5 is half-way through the second epoch
  int global_step = 0;               // optimizer steps taken
  int max_steps = 0;                 // optimizer steps planned
  int logging_steps = 500;           // resolved intervals (ratios already turned into steps)
  int eval_steps = 500;
  int save_steps = 500;
  int train_batch_size = 0;          // per-device micro-batch size
  int num_train_epochs = 0;          // epochs the loop will enter
  std::int64_t num_input_tokens_seen = 0;
  double total_flos = 0;
  std::vector<Metrics> log_history;  // every log, each with its "step"
  std::optional<double> best_metric;
  std::optional<int> best_global_step;
  std::optional<std::string> best_model_checkpoint;
  bool is_local_process_zero = true;
  bool is_world_process_zero = true;
  bool is_hyper_param_search = false;
  std::optional<std::string> trial_name;
  // The saved state of each stateful callback, by class name, as in Python: a JSON object
  // (an array when several callbacks share the name). Held as JSON text so that this
  // header needs no JSON library; trainer_state.json embeds each text as a JSON value.
  std::map<std::string, std::string> stateful_callbacks;

  friend bool operator==(const TrainerState&, const TrainerState&) = default;
};

/// Flags that callbacks set to steer the loop, as in the Python `TrainerControl`. The
/// loop clears each flag once it has acted on it.
struct TrainerControl {
  bool should_training_stop = false;
  bool should_epoch_stop = false;
  bool should_save = false;
  bool should_evaluate = false;
  bool should_log = false;
};

/// What `Trainer::train()` returns: like the Python `TrainOutput`.
struct TrainOutput {
  int global_step = 0;
  double training_loss = 0;  // mean of the optimizer steps' losses over the run
  Metrics metrics;           // train_runtime, train_samples_per_second, ..., train_loss, epoch
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <boost/hana/adapt_struct.hpp>

// Reflection: trainer_state.json has one key per field listed here (the JSON functions,
// compiled once, check that none is missing).
BOOST_HANA_ADAPT_STRUCT(torchtrain::TrainerState, epoch, global_step, max_steps, logging_steps, eval_steps,
                        save_steps, train_batch_size, num_train_epochs, num_input_tokens_seen, total_flos,
                        log_history, best_metric, best_global_step, best_model_checkpoint,
                        is_local_process_zero, is_world_process_zero, is_hyper_param_search, trial_name,
                        stateful_callbacks);

#endif  // TORCHTRAIN_DEFINITIONS
