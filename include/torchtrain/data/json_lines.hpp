// JsonLinesDataset: samples read from a JSON lines file (one object per line), fields mapped to inputs and labels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/data/example.h>
#include <torch/types.h>

#include <torchtrain/data/csv.hpp>

namespace torchtrain::data {

/// Which keys of each JSON object hold a sample's inputs and labels (the Python
/// `remove_unused_columns` keeps only what the model takes; here that is these two).
/// An empty `labels` reads no labels (a set to predict on).
struct JsonFields {
  std::string inputs = "input_ids";
  std::string labels = "labels";
};

/// A LibTorch-style dataset (`get(i)` gives an Example with `data` and `target`) read from
/// a JSON lines file, plain or gzip: each non-blank line an object whose mapped fields
/// are a number or a (nested, rectangular) array of numbers. All integers make an int64
/// tensor, any fraction a float32 one. Sequences may differ in length: batch them with
/// `collate(dataset, DataCollatorWithPadding{...})`.
/// Throws DataError naming the file and line for a line that is not such an object.
class JsonLinesDataset {
 public:
  explicit JsonLinesDataset(const std::filesystem::path& path, JsonFields fields = {}) : fields_(std::move(fields)) {
    const std::string content = detail::read_maybe_gzipped(path);
    std::string_view rest = content;
    for (std::int64_t line_number = 1; !rest.empty(); ++line_number) {
      const auto end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const auto where = fmt::format("{}:{}", path.string(), line_number);
      nlohmann::json object;
      try {
        object = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& error) {
        throw DataError(fmt::format("{}: not valid JSON ({})", where, error.what()));
      }
      if (!object.is_object()) throw DataError(fmt::format("{}: expected a JSON object, found {}", where, object.type_name()));
      torch::data::Example<> sample;
      sample.data = field(object, fields_.inputs, "inputs", where);
      if (!fields_.labels.empty()) sample.target = field(object, fields_.labels, "labels", where);
      samples_.push_back(std::move(sample));
    }
    if (samples_.empty()) throw DataError(fmt::format("{}: no data lines", path.string()));
  }

  torch::data::Example<> get(std::size_t i) const { return samples_.at(i); }
  c10::optional<std::size_t> size() const { return samples_.size(); }
  /// The length of each sample's inputs (1 for a single number), for --group_by_length.
  std::vector<std::int64_t> lengths() const {
    std::vector<std::int64_t> lengths;
    lengths.reserve(samples_.size());
    for (const auto& sample : samples_) lengths.push_back(sample.data.dim() == 0 ? 1 : sample.data.size(0));
    return lengths;
  }

 private:
  static torch::Tensor field(const nlohmann::json& object, const std::string& key, std::string_view role,
                             const std::string& where) {
    const auto found = object.find(key);
    if (found == object.end()) {
      std::string keys;
      for (const auto& [name, value] : object.items()) keys += (keys.empty() ? "'" : ", '") + name + "'";
      throw DataError(fmt::format("{}: no field '{}' for the {}; the line has {}. Map the {} to one of them "
                                  "with JsonFields{{.{} = \"...\"}}",
                                  where, key, role, keys.empty() ? "no fields" : keys, role, role));
    }
    std::vector<std::int64_t> shape;
    std::vector<double> values;
    bool fractional = false;
    flatten(*found, 0, shape, values, fractional, key, where);
    auto tensor = torch::tensor(values, torch::kDouble).view(shape);
    return tensor.to(fractional ? torch::kFloat32 : torch::kLong);
  }

  // Appends the numbers of `value` (depth `depth` of the field) to `values`, checking that
  // every array at one depth has the length `shape` records for it.
  static void flatten(const nlohmann::json& value, std::size_t depth, std::vector<std::int64_t>& shape,
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
    for (const auto& element : value) flatten(element, depth + 1, shape, values, fractional, key, where);
  }

  JsonFields fields_;
  std::vector<torch::data::Example<>> samples_;
};

}  // namespace torchtrain::data
