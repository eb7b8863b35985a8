// RuntimeCallbacks: the opt-in escape hatch for callbacks chosen while the program runs.
#pragma once

#include <algorithm>
#include <memory>
#include <typeinfo>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/callbacks/events.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>

namespace torchtrain {

/// What a run-time callback's hooks receive last: the model as a plain Module.
using ModuleObjects = TrainingObjects<torch::nn::Module>;

// Every hook, once: TORCHTRAIN_DETAIL_HOOK and TORCHTRAIN_DETAIL_METRICS_HOOK say what each
// becomes (the declarations below, the empty definitions in the definitions block).
#define TORCHTRAIN_DETAIL_EACH_HOOK \
  TORCHTRAIN_DETAIL_HOOK(on_init_end) \
  TORCHTRAIN_DETAIL_HOOK(on_train_begin) \
  TORCHTRAIN_DETAIL_HOOK(on_train_end) \
  TORCHTRAIN_DETAIL_HOOK(on_epoch_begin) \
  TORCHTRAIN_DETAIL_HOOK(on_epoch_end) \
  TORCHTRAIN_DETAIL_HOOK(on_step_begin) \
  TORCHTRAIN_DETAIL_HOOK(on_substep_end) \
  TORCHTRAIN_DETAIL_HOOK(on_pre_optimizer_step) \
  TORCHTRAIN_DETAIL_HOOK(on_optimizer_step) \
  TORCHTRAIN_DETAIL_HOOK(on_step_end) \
  TORCHTRAIN_DETAIL_HOOK(on_save) \
  TORCHTRAIN_DETAIL_HOOK(on_prediction_step) \
  TORCHTRAIN_DETAIL_METRICS_HOOK(on_evaluate) \
  TORCHTRAIN_DETAIL_METRICS_HOOK(on_predict) \
  TORCHTRAIN_DETAIL_METRICS_HOOK(on_log)

/// The base of a callback chosen at run time, like the Python `TrainerCallback`: override
/// the hooks you need. Reached through RuntimeCallbacks, at one virtual call per hook.
class TrainerCallback {
 public:
  virtual ~TrainerCallback() = default;
  // Each does nothing. Defined out of the class, so that the compiled library holds the
  // virtual table, once (core/config.hpp).
#define TORCHTRAIN_DETAIL_HOOK(hook) \
  virtual void hook(const TrainingArguments&, const TrainerState&, TrainerControl&, ModuleObjects&);
#define TORCHTRAIN_DETAIL_METRICS_HOOK(hook)                                                              \
  virtual void hook(const TrainingArguments&, const TrainerState&, TrainerControl&, const Metrics&, \
                    ModuleObjects&);
  TORCHTRAIN_DETAIL_EACH_HOOK
#undef TORCHTRAIN_DETAIL_HOOK
#undef TORCHTRAIN_DETAIL_METRICS_HOOK
};

/// A list of TrainerCallback objects that can change while the program runs (the Python
/// Trainer's add_callback, pop_callback and remove_callback). Put it in the callbacks
/// tuple and keep a copy: copies share one list. Only programs that opt in pay for it, one
/// virtual call per callback and hook; the compile-time callbacks stay free.
///
///     tt::RuntimeCallbacks runtime;
///     tt::Trainer<> trainer(model, args, data, {}, loss, {}, tt::callbacks(runtime));
///     runtime.add(std::make_shared<MyCallback>());
class RuntimeCallbacks {
 public:
  using List = std::vector<std::shared_ptr<TrainerCallback>>;

  /// Adds a callback object, or a default-constructed one of type C: add<C>().
  void add(std::shared_ptr<TrainerCallback> callback) { list_->push_back(std::move(callback)); }
  template <class C>
  void add() {
    add(std::make_shared<C>());
  }
  /// Removes `callback` and returns it (null when it is not in the list).
  std::shared_ptr<TrainerCallback> pop(const TrainerCallback& callback);
  /// Removes the first callback of type C and returns it (null when there is none).
  template <class C>
  std::shared_ptr<C> pop() {
    return std::static_pointer_cast<C>(take([](const auto& held) { return typeid(*held) == typeid(C); }));
  }
  void remove(const TrainerCallback& callback) { pop(callback); }
  template <class C>
  void remove() {
    pop<C>();
  }
  const List& list() const { return *list_; }

#define TORCHTRAIN_DETAIL_FORWARD(hook)                                                                   \
  template <class Objects>                                                                                \
  void hook(const TrainingArguments& args, const TrainerState& state, TrainerControl& control,           \
            Objects& objects) {                                                                           \
    ModuleObjects erased{*objects.model, objects.optimizer, objects.lr_scheduler, objects.step_logs};                        \
    for (const auto& callback : List(*list_)) callback->hook(args, state, control, erased);              \
  }
#define TORCHTRAIN_DETAIL_FORWARD_METRICS(hook)                                                           \
  template <class Objects>                                                                                \
  void hook(const TrainingArguments& args, const TrainerState& state, TrainerControl& control,           \
            const Metrics& metrics, Objects& objects) {                                                   \
    ModuleObjects erased{*objects.model, objects.optimizer, objects.lr_scheduler, objects.step_logs};                        \
    for (const auto& callback : List(*list_)) callback->hook(args, state, control, metrics, erased);     \
  }
  // Each hook iterates over a copy, so that a callback may add or remove callbacks.
  TORCHTRAIN_DETAIL_FORWARD(on_init_end)
  TORCHTRAIN_DETAIL_FORWARD(on_train_begin)
  TORCHTRAIN_DETAIL_FORWARD(on_train_end)
  TORCHTRAIN_DETAIL_FORWARD(on_epoch_begin)
  TORCHTRAIN_DETAIL_FORWARD(on_epoch_end)
  TORCHTRAIN_DETAIL_FORWARD(on_step_begin)
  TORCHTRAIN_DETAIL_FORWARD(on_substep_end)
  TORCHTRAIN_DETAIL_FORWARD(on_pre_optimizer_step)
  TORCHTRAIN_DETAIL_FORWARD(on_optimizer_step)
  TORCHTRAIN_DETAIL_FORWARD(on_step_end)
  TORCHTRAIN_DETAIL_FORWARD(on_save)
  TORCHTRAIN_DETAIL_FORWARD(on_prediction_step)
  TORCHTRAIN_DETAIL_FORWARD_METRICS(on_evaluate)
  TORCHTRAIN_DETAIL_FORWARD_METRICS(on_predict)
  TORCHTRAIN_DETAIL_FORWARD_METRICS(on_log)
#undef TORCHTRAIN_DETAIL_FORWARD
#undef TORCHTRAIN_DETAIL_FORWARD_METRICS

 private:
  template <class Match>
  std::shared_ptr<TrainerCallback> take(Match&& match) {
    auto found = std::find_if(list_->begin(), list_->end(), match);
    if (found == list_->end()) return nullptr;
    auto callback = std::move(*found);
    list_->erase(found);
    return callback;
  }

  std::shared_ptr<List> list_ = std::make_shared<List>();
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain {

#define TORCHTRAIN_DETAIL_HOOK(hook)                                                                         \
  TORCHTRAIN_INLINE void TrainerCallback::hook(const TrainingArguments&, const TrainerState&, TrainerControl&, \
                                               ModuleObjects&) {}
#define TORCHTRAIN_DETAIL_METRICS_HOOK(hook)                                                                 \
  TORCHTRAIN_INLINE void TrainerCallback::hook(const TrainingArguments&, const TrainerState&, TrainerControl&, \
                                               const Metrics&, ModuleObjects&) {}
TORCHTRAIN_DETAIL_EACH_HOOK
#undef TORCHTRAIN_DETAIL_HOOK
#undef TORCHTRAIN_DETAIL_METRICS_HOOK

TORCHTRAIN_INLINE std::shared_ptr<TrainerCallback> RuntimeCallbacks::pop(const TrainerCallback& callback) {
  return take([&](const auto& held) { return held.get() == &callback; });
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
#undef TORCHTRAIN_DETAIL_EACH_HOOK
