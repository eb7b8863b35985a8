// The Trainer's events, and how one reaches the callbacks that handle it, decided at compile time.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/hana/for_each.hpp>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/trainer/metrics.hpp>
#include <torchtrain/trainer/trainer_state.hpp>

namespace torchtrain {

/// One tag per event, with the Python `TrainerCallback` names. A callback handles an
/// event by defining a member function of that name taking
/// `(const TrainingArguments&, const TrainerState&, TrainerControl&)`, plus
/// `const Metrics&` for on_evaluate, on_predict (the metrics) and on_log (the logs).
namespace event {
#define TORCHTRAIN_DETAIL_EVENT(name)                                                   \
  struct name {                                                                         \
    template <class Callback, class... Extra>                                           \
    static constexpr bool handled_by = requires(Callback& callback, Extra&... extra) {  \
      callback.name(std::declval<const TrainingArguments&>(),                           \
                    std::declval<const TrainerState&>(), std::declval<TrainerControl&>(), \
                    extra...);                                                          \
    };                                                                                  \
    template <class Callback, class... Extra>                                           \
    static void call(Callback& callback, const TrainingArguments& args,                 \
                     const TrainerState& state, TrainerControl& control, Extra&... extra) { \
      callback.name(args, state, control, extra...);                                    \
    }                                                                                   \
  };
TORCHTRAIN_DETAIL_EVENT(on_init_end)
TORCHTRAIN_DETAIL_EVENT(on_train_begin)
TORCHTRAIN_DETAIL_EVENT(on_train_end)
TORCHTRAIN_DETAIL_EVENT(on_epoch_begin)
TORCHTRAIN_DETAIL_EVENT(on_epoch_end)
TORCHTRAIN_DETAIL_EVENT(on_step_begin)
TORCHTRAIN_DETAIL_EVENT(on_substep_end)
TORCHTRAIN_DETAIL_EVENT(on_pre_optimizer_step)
TORCHTRAIN_DETAIL_EVENT(on_optimizer_step)
TORCHTRAIN_DETAIL_EVENT(on_step_end)
TORCHTRAIN_DETAIL_EVENT(on_evaluate)
TORCHTRAIN_DETAIL_EVENT(on_predict)
TORCHTRAIN_DETAIL_EVENT(on_save)
TORCHTRAIN_DETAIL_EVENT(on_log)
TORCHTRAIN_DETAIL_EVENT(on_prediction_step)
#undef TORCHTRAIN_DETAIL_EVENT
}  // namespace event

/// Calls `Event` on every callback of the tuple that handles it, in tuple order. Which
/// callbacks are called is settled at compile time: a callback without the hook costs
/// nothing, and no call goes through a pointer.
template <class Event, class Callbacks, class... Extra>
void notify(Callbacks& callbacks, const TrainingArguments& args, const TrainerState& state,
            TrainerControl& control, Extra&... extra) {
  boost::hana::for_each(callbacks, [&](auto& callback) {
    using Callback = std::remove_reference_t<decltype(callback)>;
    if constexpr (Event::template handled_by<Callback, Extra...>)
      Event::call(callback, args, state, control, extra...);
  });
}

}  // namespace torchtrain
