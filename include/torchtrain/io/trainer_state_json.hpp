// trainer_state.json: the TrainerState of a checkpoint, byte for byte as the Python Trainer writes it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/metrics_json.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

namespace torchtrain {

/// The text of trainer_state.json, as Python's
/// `json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n"` writes it:
/// one key per field plus "trial_params" (always null: there is no hyperparameter
/// search), log_history entries as metrics_to_json writes them, each stateful callback's
/// text embedded as JSON, empty optionals as null.
/// Throws FileError naming the callback when a stateful_callbacks text is not JSON.
inline std::string trainer_state_json(const TrainerState& state) {
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

/// TrainerState from the text of a trainer_state.json, ours or the Python Trainer's.
/// A missing key keeps its default (older versions lack some), and keys that are not
/// fields ("trial_params", or any a newer version adds) are ignored. Each callback state
/// is kept as compact JSON text (`io::python_json_dumps` without indent).
/// Throws FileError naming `file_name` and the key ("log_history[3].loss") for text
/// that is not JSON or a value of the wrong type.
inline TrainerState trainer_state_from_json(std::string_view text, std::string_view file_name) {
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
  return state;
}

}  // namespace torchtrain
