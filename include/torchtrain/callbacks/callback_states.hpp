// Callback states: what a stateful callback (EarlyStopping's counter) saves in trainer_state.json and restores on resume.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <nlohmann/json_fwd.hpp>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/trainer_state.hpp>

namespace torchtrain {

namespace detail {
// The TrainerControl's flags as Python saves them: {"args": {...}, "attributes": {}}.
TORCHTRAIN_INLINE std::string trainer_control_state(const TrainerControl& control);

// A callback's state() as JSON text. A function of its own so that a callback compiled in
// the library (EarlyStopping) declares it extern: a program then needs only nlohmann's
// forward declarations.
template <class Callback>
std::string callback_state_text(const Callback& callback) {
  return callback.state().dump();
}

// What stateful_callbacks holds for the callbacks of one type: the state of one, or the
// list of the states of several, in order, as Python saves them.
TORCHTRAIN_INLINE std::string one_or_list(const std::vector<std::string>& states);

// Parses `saved` (the JSON text under `state_key` in `file_name`) and gives `load` the
// state of the `instance`-th of the run's `instances` callbacks of that type (counting from
// 0): the whole when it is one state; from a list, the `instance`-th of its last
// `instances` (transformers 5.x appends the states to the list at every save, so the current
// ones are the last). Nothing when there is none for it: those callbacks start afresh, as in
// Python. FileError naming the file and the callback when the text is not JSON, the state
// does not fit its callback (`load` threw nlohmann's exception) or the callback refuses a
// value in it (`load` threw std::invalid_argument saying why).
TORCHTRAIN_INLINE void load_callback_state(std::string_view saved, std::string_view file_name,
                                           std::string_view state_key, std::size_t instance, std::size_t instances,
                                           const std::function<void(const nlohmann::json&)>& load);

// The warning that `state` holds saved states of callbacks whose keys are not in `keys`.
TORCHTRAIN_INLINE void warn_of_other_callbacks(const TrainerState& state, const std::vector<std::string_view>& keys,
                                               std::string_view file_name);
}  // namespace detail

/// Puts the state of each callback that has one (`state()`, `load_state(json)` and a
/// `state_key`) into `state.stateful_callbacks` under its key, as Python keeps them (the
/// states of several callbacks of one type as a list, in order); the control goes in too,
/// under "TrainerControl", as Python saves it.
template <class Callbacks>
void save_callback_states(const Callbacks& callbacks, const TrainerControl& control, TrainerState& state) {
  state.stateful_callbacks["TrainerControl"] = detail::trainer_control_state(control);
  std::map<std::string, std::vector<std::string>> states;
  boost::hana::for_each(callbacks, [&](const auto& callback) {
    if constexpr (requires { callback.state(); })
      states[std::string(callback.state_key)].push_back(detail::callback_state_text(callback));
  });
  for (const auto& [key, each] : states) state.stateful_callbacks[key] = detail::one_or_list(each);
}

/// Gives each stateful callback its saved state from `state`; FileError naming `file_name`
/// when a state does not fit its callback or the callback refuses it. A callback's
/// `load_state` refuses a value by throwing std::invalid_argument with the reason, e.g.
/// `no_run_reaches(key, value)`, before it changes anything. Saved states of callbacks
/// this run does not have are left, with a warning that names them, as in Python.
template <class Callbacks>
void restore_callback_states(Callbacks& callbacks, const TrainerState& state, std::string_view file_name) {
  std::vector<std::string_view> keys{"TrainerControl"};  // of the run's stateful callbacks, in order
  boost::hana::for_each(callbacks, [&](const auto& callback) {
    if constexpr (requires { callback.state(); }) keys.push_back(callback.state_key);
  });
  std::vector<std::string_view> met;
  boost::hana::for_each(callbacks, [&](auto& callback) {
    if constexpr (requires { callback.state(); }) {
      const auto count_in = [&](const auto& list) {
        return static_cast<std::size_t>(std::count(list.begin(), list.end(), callback.state_key));
      };
      const std::size_t instance = count_in(met);
      met.push_back(callback.state_key);
      const auto saved = state.stateful_callbacks.find(std::string(callback.state_key));
      if (saved == state.stateful_callbacks.end()) return;
      detail::load_callback_state(saved->second, file_name, callback.state_key, instance, count_in(keys),
                                  [&callback](const nlohmann::json& json) { callback.load_state(json); });
    }
  });
  detail::warn_of_other_callbacks(state, keys, file_name);
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/io/messages.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::string trainer_control_state(const TrainerControl& control) {
  return fmt::format(
      R"({{"args": {{"should_epoch_stop": {}, "should_evaluate": {}, "should_log": {}, "should_save": {}, )"
      R"("should_training_stop": {}}}, "attributes": {{}}}})",
      control.should_epoch_stop, control.should_evaluate, control.should_log, control.should_save,
      control.should_training_stop);
}

TORCHTRAIN_INLINE std::string one_or_list(const std::vector<std::string>& states) {
  return states.size() == 1 ? states.front() : fmt::format("[{}]", fmt::join(states, ", "));
}

TORCHTRAIN_INLINE void load_callback_state(std::string_view saved, std::string_view file_name,
                                           std::string_view state_key, std::size_t instance, std::size_t instances,
                                           const std::function<void(const nlohmann::json&)>& load) {
  const auto json = parse_json<FileError>(saved, fmt::format("'{}': the saved state of {}", file_name, state_key));
  const bool listed = json.is_array();
  const std::size_t index = listed && json.size() > instances ? json.size() - instances + instance : instance;
  if (listed ? index >= json.size() : instance > 0) return;
  const std::string name = listed ? fmt::format("{}[{}]", state_key, index) : std::string(state_key);
  try {
    load(listed ? json[index] : json);
  } catch (const nlohmann::json::exception& error) {
    throw FileError(fmt::format("'{}': the saved state of {} does not fit it ({}); resume with another checkpoint",
                                file_name, name, error.what()));
  } catch (const std::invalid_argument& refusal) {
    throw FileError(fmt::format("'{}': the saved state of {}: {}", file_name, name, refusal.what()));
  }
}

TORCHTRAIN_INLINE void warn_of_other_callbacks(const TrainerState& state, const std::vector<std::string_view>& keys,
                                               std::string_view file_name) {
  std::vector<std::string_view> left;
  for (const auto& [key, saved] : state.stateful_callbacks)
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) left.push_back(key);
  if (!left.empty())
    message(LogLevel::warning,
            "'{}' holds the saved state of {}, which this run does not have among its callbacks; ignoring it",
            file_name, fmt::join(left, ", "));
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
