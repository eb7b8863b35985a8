// Callback states: what a stateful callback (EarlyStopping's counter) saves in trainer_state.json and restores on resume.
#pragma once

#include <functional>
#include <string>
#include <string_view>

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

// Parses `saved` (the JSON text of `state_key`'s state in `file_name`) and gives it to
// `load`; FileError naming the file and the callback when the text is not JSON, the state
// does not fit its callback (`load` threw nlohmann's exception) or the callback refuses a
// value in it (`load` threw std::invalid_argument saying why).
TORCHTRAIN_INLINE void load_callback_state(std::string_view saved, std::string_view file_name,
                                           std::string_view state_key,
                                           const std::function<void(const nlohmann::json&)>& load);
}  // namespace detail

/// Puts the state of each callback that has one (`state()`, `load_state(json)` and a
/// `state_key`) into `state.stateful_callbacks` under its key, as Python keeps them; the
/// control goes in too, under "TrainerControl", as Python saves it.
template <class Callbacks>
void save_callback_states(const Callbacks& callbacks, const TrainerControl& control, TrainerState& state) {
  state.stateful_callbacks["TrainerControl"] = detail::trainer_control_state(control);
  boost::hana::for_each(callbacks, [&](const auto& callback) {
    if constexpr (requires { callback.state(); })
      state.stateful_callbacks[std::string(callback.state_key)] = detail::callback_state_text(callback);
  });
}

/// Gives each stateful callback its saved state from `state`; FileError naming `file_name`
/// when a state does not fit its callback or the callback refuses it. A callback's
/// `load_state` refuses a value by throwing std::invalid_argument with the reason, e.g.
/// `no_run_reaches(key, value)`, before it changes anything.
template <class Callbacks>
void restore_callback_states(Callbacks& callbacks, const TrainerState& state, std::string_view file_name) {
  boost::hana::for_each(callbacks, [&](auto& callback) {
    if constexpr (requires { callback.state(); }) {
      const auto saved = state.stateful_callbacks.find(std::string(callback.state_key));
      if (saved == state.stateful_callbacks.end()) return;
      detail::load_callback_state(saved->second, file_name, callback.state_key,
                                  [&callback](const nlohmann::json& json) { callback.load_state(json); });
    }
  });
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::string trainer_control_state(const TrainerControl& control) {
  return fmt::format(
      R"({{"args": {{"should_epoch_stop": {}, "should_evaluate": {}, "should_log": {}, "should_save": {}, )"
      R"("should_training_stop": {}}}, "attributes": {{}}}})",
      control.should_epoch_stop, control.should_evaluate, control.should_log, control.should_save,
      control.should_training_stop);
}

TORCHTRAIN_INLINE void load_callback_state(std::string_view saved, std::string_view file_name,
                                           std::string_view state_key,
                                           const std::function<void(const nlohmann::json&)>& load) {
  try {
    load(parse_json<FileError>(saved, fmt::format("'{}': the saved state of {}", file_name, state_key)));
  } catch (const nlohmann::json::exception& error) {
    throw FileError(fmt::format("'{}': the saved state of {} does not fit it ({}); resume with another checkpoint",
                                file_name, state_key, error.what()));
  } catch (const std::invalid_argument& refusal) {
    throw FileError(fmt::format("'{}': the saved state of {}: {}", file_name, state_key, refusal.what()));
  }
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS
