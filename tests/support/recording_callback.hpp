// RecordingCallback: a base for test callbacks that record every Trainer event, by its Python name, as they see fit.
#pragma once

#include <torchtrain/torchtrain.hpp>

namespace test_support {

/// A base (CRTP) for a callback `Owner` that records the Trainer's events, as the tests'
/// Python recorders do: it has the hook of every event, and each calls
/// `owner.record(name, state, control, objects)` with the event's Python name (the
/// metrics of on_evaluate, on_predict and on_log are not passed on). The owner defines
/// record; a hook it defines itself hides the one here. As a base, it comes first in
/// aggregate initialization: `Owner{{}, members...}`.
template <class Owner>
struct RecordingCallback {
#define TORCHTRAIN_TESTING_RECORD(hook)                                                                           \
  void hook(const torchtrain::TrainingArguments&, const torchtrain::TrainerState& state,                         \
            torchtrain::TrainerControl& control, auto& objects) {                                               \
    static_cast<Owner&>(*this).record(#hook, state, control, objects);                                          \
  }
#define TORCHTRAIN_TESTING_RECORD_METRICS(hook)                                                                   \
  void hook(const torchtrain::TrainingArguments&, const torchtrain::TrainerState& state,                         \
            torchtrain::TrainerControl& control, const torchtrain::Metrics&, auto& objects) {                   \
    static_cast<Owner&>(*this).record(#hook, state, control, objects);                                          \
  }
  TORCHTRAIN_TESTING_RECORD(on_init_end)
  TORCHTRAIN_TESTING_RECORD(on_train_begin)
  TORCHTRAIN_TESTING_RECORD(on_train_end)
  TORCHTRAIN_TESTING_RECORD(on_epoch_begin)
  TORCHTRAIN_TESTING_RECORD(on_epoch_end)
  TORCHTRAIN_TESTING_RECORD(on_step_begin)
  TORCHTRAIN_TESTING_RECORD(on_substep_end)
  TORCHTRAIN_TESTING_RECORD(on_pre_optimizer_step)
  TORCHTRAIN_TESTING_RECORD(on_optimizer_step)
  TORCHTRAIN_TESTING_RECORD(on_step_end)
  TORCHTRAIN_TESTING_RECORD(on_save)
  TORCHTRAIN_TESTING_RECORD(on_prediction_step)
  TORCHTRAIN_TESTING_RECORD_METRICS(on_evaluate)
  TORCHTRAIN_TESTING_RECORD_METRICS(on_predict)
  TORCHTRAIN_TESTING_RECORD_METRICS(on_log)
#undef TORCHTRAIN_TESTING_RECORD
#undef TORCHTRAIN_TESTING_RECORD_METRICS
};

}  // namespace test_support
