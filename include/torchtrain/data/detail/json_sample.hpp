// json_sample: one sample from one JSON line, its mapped fields as tensors, with errors naming file and line.
#pragma once

#include <string>
#include <string_view>

#include <torch/data/example.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/data/json_fields.hpp>

namespace torchtrain::data::detail {

/// The sample of one JSON line (an object); `where` is "file:line" for errors.
TORCHTRAIN_INLINE torch::data::Example<> json_sample(std::string_view line, const JsonFields& fields,
                                                     const std::string& where);

/// Whether a line holds nothing but white space (skipped, as blank lines are).
TORCHTRAIN_INLINE bool is_blank(std::string_view line);

}  // namespace torchtrain::data::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/detail/printable.hpp>

namespace torchtrain::data::detail {

// Appends the numbers of `value` (depth `depth` of the field) to `values`, checking that
// every array at one depth has the length `shape` records for it.
inline void flatten_json_numbers(const nlohmann::json& value, std::size_t depth, std::vector<std::int64_t>& shape,
                                 std::vector<double>& values, bool& fractional, const std::string& key, const std::string& where) {
  if (value.is_number()) {
    if (depth < shape.size())
      throw DataError(fmt::format("{}: field '{}' mixes numbers and arrays at one depth", where, key));
    fractional = fractional || value.is_number_float();
    values.push_back(value.get<double>());
    return;
  }
  if (!value.is_array())
    throw DataError(fmt::format("{}: field '{}' is {} {}, not a number or an array of numbers{}", where, key,
                                value.is_object() || value.is_array() ? "an" : "a", value.type_name(),
                                value.is_string() ? " (tokenize text before reading it here)" : ""));
  const auto length = static_cast<std::int64_t>(value.size());
  if (depth == shape.size() && values.empty())
    shape.push_back(length);
  else if (depth >= shape.size() || shape[depth] != length)
    throw DataError(fmt::format("{}: field '{}' is a ragged array: arrays at depth {} differ in length", where, key,
                                depth + 1));
  for (const auto& element : value) flatten_json_numbers(element, depth + 1, shape, values, fractional, key, where);
}

// The field `key` of `object` as a tensor; `role` (inputs or labels) is for the error.
inline torch::Tensor json_field(const nlohmann::json& object, const std::string& key, std::string_view role,
                                const std::string& where) {
  const auto found = object.find(key);
  if (found == object.end()) {
    // The line's keys as the message lists them: a few, each short and printable, whatever the line holds.
    constexpr std::size_t listed = 5;
    std::string keys;
    for (std::size_t shown = 0; const auto& item : object.items())
      if (shown++ < listed) keys += (keys.empty() ? "'" : ", '") + torchtrain::detail::printable(item.key(), 20) + "'";
    if (object.size() > listed) keys += fmt::format(" and {} more", object.size() - listed);
    throw DataError(fmt::format("{}: no field '{}' for the {}; the line has {}. Map the {} to one of them "
                                "with JsonFields{{.{} = \"...\"}}",
                                where, key, role, keys.empty() ? "no fields" : keys, role, role));
  }
  std::vector<std::int64_t> shape;
  std::vector<double> values;
  bool fractional = false;
  flatten_json_numbers(*found, 0, shape, values, fractional, key, where);
  if (fractional)  // a float32 tensor: a larger number would become inf
    for (const double value : values)
      if (std::abs(value) > std::numeric_limits<float>::max())
        throw DataError(fmt::format("{}: field '{}' holds {}, beyond the range of a float", where, key, value));
  auto tensor = torch::tensor(values, torch::kDouble).view(shape);
  return tensor.to(fractional ? torch::kFloat32 : torch::kLong);
}

TORCHTRAIN_INLINE torch::data::Example<> json_sample(std::string_view line, const JsonFields& fields,
                                                     const std::string& where) {
  // Nesting bounded: flatten_json_numbers recurses.
  const auto object = torchtrain::detail::parse_json<DataError>(line, where);
  if (!object.is_object()) throw DataError(fmt::format("{}: expected a JSON object, found {}", where, object.type_name()));
  torch::data::Example<> sample;
  sample.data = json_field(object, fields.inputs, "inputs", where);
  if (!fields.labels.empty()) sample.target = json_field(object, fields.labels, "labels", where);
  return sample;
}

TORCHTRAIN_INLINE bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

}  // namespace torchtrain::data::detail

#endif  // TORCHTRAIN_DEFINITIONS
