// The Trainer's events, and how one reaches the callbacks that handle it, decided at compile time.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>
#include <torch/optim/optimizer.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/step_logs.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/optim/schedulers.hpp>

namespace torchtrain {

/// What a hook may take last, as the Python Trainer passes keyword arguments to callbacks:
/// the model, and the optimizer and scheduler of the current train() (null before it).
template <class Model>
struct TrainingObjects {
  Model& model;
  torch::optim::Optimizer* optimizer = nullptr;
  optim::LRScheduler* lr_scheduler = nullptr;
  StepLogs* step_logs = nullptr;

  /// Adds `value` under `key` to the next training log (the mean over the steps it covers;
  /// see StepLogs): it reaches log_history, every logger and trainer_state.json.
  void log(std::string_view key, double value) const { step_logs->add(key, value); }
  void log(std::string_view key, const torch::Tensor& value) const { step_logs->add(key, value); }
};

/// One tag per event, with the Python `TrainerCallback` names. A callback handles an
/// event by defining a member function of that name taking
/// `(const TrainingArguments&, const TrainerState&, TrainerControl&)`, then `const
/// Metrics&` for on_evaluate, on_predict (the metrics) and on_log (the logs), and
/// optionally, last, the run's objects (`auto& objects`, a TrainingObjects<Model>).
namespace event {
#define TORCHTRAIN_DETAIL_EVENT(hook)                                                            \
  struct hook {                                                                                  \
    static constexpr const char* name = #hook;                                                   \
    template <class Callback, class... Extra>                                                    \
    static constexpr bool handled_by = requires(Callback& callback, Extra&... extra) {           \
      callback.hook(std::declval<const TrainingArguments&>(), std::declval<const TrainerState&>(), \
                    std::declval<TrainerControl&>(), extra...);                                  \
    };                                                                                           \
    template <class Callback>                                                                    \
    static constexpr bool named_in = requires { &Callback::hook; };                              \
    template <class Callback, class... Extra>                                                    \
    static void call(Callback& callback, const TrainingArguments& args, const TrainerState& state, \
                     TrainerControl& control, Extra&... extra) {                                 \
      callback.hook(args, state, control, extra...);                                             \
    }                                                                                            \
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

/// The extra arguments of an event before the objects: the metrics or logs, or none.
template <class Event>
constexpr bool takes_metrics =
    std::is_same_v<Event, on_evaluate> || std::is_same_v<Event, on_predict> || std::is_same_v<Event, on_log>;
}  // namespace event

namespace detail {

// Whether `Callback` handles `Event`, with or without the objects.
template <class Event, class Callback, class Objects>
constexpr bool handles() {
  if constexpr (event::takes_metrics<Event>)
    return Event::template handled_by<Callback, const Metrics, Objects> ||
           Event::template handled_by<Callback, const Metrics>;
  else
    return Event::template handled_by<Callback, Objects> || Event::template handled_by<Callback>;
}

template <class Callback, class Objects, class... Events>
constexpr bool handles_any() {
  return (handles<Events, Callback, Objects>() || ...);
}

// Left incomplete on purpose: the compiler's error names the callback (and the hook).
template <class Callback>
struct callback_handles_no_event;
template <class Callback, class Event>
struct callback_hook_has_wrong_parameters;

template <class Callback, class Objects, class Event>
constexpr bool check_hook() {
  constexpr bool wrong = Event::template named_in<Callback> && !handles<Event, Callback, Objects>();
  static_assert(!wrong,
                "torchtrain: a callback has a hook whose parameters do not match, so it would never be "
                "called (the callback and the hook are named in 'callback_hook_has_wrong_parameters<Callback, "
                "Event>' below). A hook takes (const TrainingArguments&, const TrainerState&, TrainerControl&), "
                "then const Metrics& for on_evaluate, on_predict and on_log, then optionally auto& objects");
  if constexpr (wrong) return sizeof(callback_hook_has_wrong_parameters<Callback, Event>) == 0;
  return true;
}

template <class Callback, class Objects, class... Events>
constexpr bool check_callback_with() {
  constexpr bool any = handles_any<Callback, Objects, Events...>();
  static_assert(any,
                "torchtrain: a callback handles no Trainer event (it is named in 'callback_handles_no_event<Callback>' "
                "below): is a hook name misspelled? The hooks are on_init_end, on_train_begin, on_train_end, "
                "on_epoch_begin, on_epoch_end, on_step_begin, on_substep_end, on_pre_optimizer_step, "
                "on_optimizer_step, on_step_end, on_evaluate, on_predict, on_save, on_log, on_prediction_step");
  if constexpr (!any) return sizeof(callback_handles_no_event<Callback>) == 0;
  return (check_hook<Callback, Objects, Events>() && ...);
}

}  // namespace detail

/// Compile-time check of a callback for a Trainer whose objects are `Objects`: it handles
/// at least one event, and every hook it names takes parameters the Trainer passes (a
/// misspelled or mistyped hook would otherwise be silently never called).
template <class Callback, class Objects>
constexpr bool check_callback() {
  using namespace event;
  return detail::check_callback_with<Callback, Objects, on_init_end, on_train_begin, on_train_end, on_epoch_begin,
                                     on_epoch_end, on_step_begin, on_substep_end, on_pre_optimizer_step,
                                     on_optimizer_step, on_step_end, on_evaluate, on_predict, on_save, on_log,
                                     on_prediction_step>();
}

/// check_callback for every callback of a tuple made by callbacks(...).
template <class Objects, class... Callbacks>
constexpr bool check_callbacks(boost::hana::tuple<Callbacks...>*) {
  return (check_callback<Callbacks, Objects>() && ... && true);
}

/// Whether some callback of the tuple handles `Event` with the objects (so is given the
/// model), `Extra` being the event's arguments before them.
template <class Event, class Objects, class... Extra, class... Callbacks>
constexpr bool gives_objects(const boost::hana::tuple<Callbacks...>*) {
  return (Event::template handled_by<Callbacks, Extra..., Objects> || ... || false);
}

/// Calls `Event` on every callback of the tuple that handles it, in tuple order, passing
/// `objects` to hooks that take them. Which callbacks are called is settled at compile
/// time: a callback without the hook costs nothing, and no call goes through a pointer.
template <class Event, class Callbacks, class Objects, class... Extra>
void notify(Callbacks& callbacks, const TrainingArguments& args, const TrainerState& state, TrainerControl& control,
            Objects& objects, Extra&... extra) {
  boost::hana::for_each(callbacks, [&](auto& callback) {
    using Callback = std::remove_reference_t<decltype(callback)>;
    if constexpr (Event::template handled_by<Callback, Extra..., Objects>)
      Event::call(callback, args, state, control, extra..., objects);
    else if constexpr (Event::template handled_by<Callback, Extra...>)
      Event::call(callback, args, state, control, extra...);
  });
}

}  // namespace torchtrain
