// Callback states: what a stateful callback (EarlyStopping's counter) saves in trainer_state.json and restores on resume.
#pragma once

#include <string>
#include <string_view>

#include <boost/hana/for_each.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/detail/json_text.hpp>

namespace torchtrain {

/// Puts the state of each callback that has one (`state()`, `load_state(json)` and a
/// `state_key`) into `state.stateful_callbacks` under its key, as Python keeps them; the
/// control goes in too, under "TrainerControl", as Python saves it.
template <class Callbacks>
void save_callback_states(const Callbacks& callbacks, const TrainerControl& control, TrainerState& state) {
  state.stateful_callbacks["TrainerControl"] = fmt::format(
      R"({{"args": {{"should_epoch_stop": {}, "should_evaluate": {}, "should_log": {}, "should_save": {}, )"
      R"("should_training_stop": {}}}, "attributes": {{}}}})",
      control.should_epoch_stop, control.should_evaluate, control.should_log, control.should_save,
      control.should_training_stop);
  boost::hana::for_each(callbacks, [&](const auto& callback) {
    if constexpr (requires { callback.state(); })
      state.stateful_callbacks[std::string(callback.state_key)] = callback.state().dump();
  });
}

/// Gives each stateful callback its saved state from `state`; FileError naming `file_name`
/// when a state does not fit its callback.
template <class Callbacks>
void restore_callback_states(Callbacks& callbacks, const TrainerState& state, std::string_view file_name) {
  boost::hana::for_each(callbacks, [&](auto& callback) {
    if constexpr (requires { callback.state(); }) {
      const auto saved = state.stateful_callbacks.find(std::string(callback.state_key));
      if (saved == state.stateful_callbacks.end()) return;
      try {
        callback.load_state(detail::parse_json<FileError>(
            saved->second, fmt::format("'{}': the saved state of {}", file_name, callback.state_key)));
      } catch (const nlohmann::json::exception& error) {
        throw FileError(fmt::format("'{}': the saved state of {} does not fit it ({}); resume with "
                                    "another checkpoint",
                                    file_name, callback.state_key, error.what()));
      }
    }
  });
}

}  // namespace torchtrain
