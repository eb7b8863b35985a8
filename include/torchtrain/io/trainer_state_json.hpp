// trainer_state.json: the TrainerState of a checkpoint, byte for byte as the Python Trainer writes it.
#pragma once

#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/trainer_state.hpp>

namespace torchtrain {

/// The text of trainer_state.json, as Python's
/// `json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n"` writes it:
/// one key per field plus "trial_params" (always null: there is no hyperparameter
/// search), log_history entries as metrics_to_json writes them, each stateful callback's
/// text embedded as JSON, empty optionals as null.
/// Throws FileError naming the callback when a stateful_callbacks text is not JSON.
TORCHTRAIN_INLINE std::string trainer_state_json(const TrainerState& state);

/// TrainerState from the text of a trainer_state.json, ours or the Python Trainer's.
/// A missing key keeps its default (older versions lack some), and keys that are not
/// fields ("trial_params", or any a newer version adds) are ignored. Each callback state
/// is kept as compact JSON text (`io::python_json_dumps` without indent).
/// Throws FileError naming `file_name` and the key ("log_history[3].loss") for text
/// that is not JSON, a value of the wrong type, no global_step, or a count below zero.
TORCHTRAIN_INLINE TrainerState trainer_state_from_json(std::string_view text, std::string_view file_name);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <map>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/metrics_json.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE std::string trainer_state_json(const TrainerState& state) {
  static_assert(detail::reflects_every_field<TrainerState>(),
                "torchtrain: list every TrainerState member in its BOOST_HANA_ADAPT_STRUCT, or "
                "trainer_state.json would miss it");
  nlohmann::json json = nlohmann::json::object();
  detail::for_each_field(state, [&](std::string_view name, const auto& field) {
    using Field = std::remove_cvref_t<decltype(field)>;
    auto& value = json[std::string(name)];
    if constexpr (std::is_same_v<Field, std::vector<Metrics>>) {
      value = nlohmann::json::array();
      for (const auto& logs : field) value.push_back(metrics_to_json(logs));
    } else if constexpr (std::is_same_v<Field, std::map<std::string, std::string>>) {
      value = nlohmann::json::object();
      for (const auto& [callback, text] : field)
        value[callback] = io::python_json_loads(text, fmt::format("the state of callback '{}'", callback));
    } else {
      value = io::value_to_json(field);
    }
  });
  json["trial_params"] = nullptr;
  return io::python_json_dumps(json, 2) + "\n";
}

TORCHTRAIN_INLINE TrainerState trainer_state_from_json(std::string_view text, std::string_view file_name) {
  const nlohmann::json json = io::python_json_loads(text, file_name);
  io::require_object(json, file_name);
  TrainerState state;
  detail::for_each_field(state, [&](std::string_view name, auto& field) {
    using Field = std::remove_cvref_t<decltype(field)>;
    auto found = json.find(std::string(name));
    if (found == json.end()) return;
    if constexpr (std::is_same_v<Field, std::vector<Metrics>>) {
      if (!found->is_array()) throw io::unexpected_value(file_name, name, "a list", *found);
      for (std::size_t i = 0; i < found->size(); ++i)
        field.push_back(metrics_from_json((*found)[i], file_name, fmt::format("{}[{}]", name, i)));
    } else if constexpr (std::is_same_v<Field, std::map<std::string, std::string>>) {
      if (!found->is_object()) throw io::unexpected_value(file_name, name, "an object", *found);
      for (const auto& [callback, callback_state] : found->items())
        field[callback] = io::python_json_dumps(callback_state);
    } else {
      io::value_from_json(*found, field, file_name, name);
    }
  });
  // Checked for meaning, not only for type: a state a run could not have reached is refused.
  if (!json.contains("global_step"))
    throw FileError(fmt::format("'{}' has no global_step, which every trainer state holds: the file was cut short "
                                "or is not a trainer state; resume from another checkpoint",
                                file_name));
  const auto require_not_negative = [&](std::string_view key, double value) {
    if (!(value >= 0))  // nan too
      throw FileError(fmt::format("'{}': {}", file_name, no_run_reaches(key, fmt::format("{}", value))));
  };
  require_not_negative("global_step", state.global_step);
  require_not_negative("max_steps", state.max_steps);
  require_not_negative("epoch", state.epoch);
  require_not_negative("num_train_epochs", state.num_train_epochs);
  require_not_negative("logging_steps", state.logging_steps);
  require_not_negative("eval_steps", state.eval_steps);
  require_not_negative("save_steps", state.save_steps);
  require_not_negative("train_batch_size", state.train_batch_size);
  require_not_negative("num_input_tokens_seen", static_cast<double>(state.num_input_tokens_seen));
  require_not_negative("total_flos", state.total_flos);
  return state;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS
