// JsonLinesDataset: samples read from a JSON lines file (one object per line), fields mapped to inputs and labels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include <torch/data/example.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/json_fields.hpp>

namespace torchtrain::data {

/// A LibTorch-style dataset (`get(i)` gives an Example with `data` and `target`) read from
/// a JSON lines file, plain or gzip: each non-blank line an object whose mapped fields
/// are a number or a (nested, rectangular) array of numbers. All integers make an int64
/// tensor, any fraction a float32 one. Sequences may differ in length: batch them with
/// `collate(dataset, DataCollatorWithPadding{...})`.
/// Throws DataError naming the file and line for a line that is not such an object.
class JsonLinesDataset {
 public:
  explicit JsonLinesDataset(const std::filesystem::path& path, const JsonFields& fields = {});

  torch::data::Example<> get(std::size_t i) const { return samples_.at(i); }
  c10::optional<std::size_t> size() const { return samples_.size(); }
  /// The length of each sample's inputs (1 for a single number), for --group_by_length.
  std::vector<std::int64_t> lengths() const;

 private:
  std::vector<torch::data::Example<>> samples_;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <string>
#include <string_view>

#include <fmt/format.h>

#include <torchtrain/data/csv.hpp>
#include <torchtrain/data/detail/json_sample.hpp>

namespace torchtrain::data {

TORCHTRAIN_INLINE JsonLinesDataset::JsonLinesDataset(const std::filesystem::path& path, const JsonFields& fields) {
  const std::string content = detail::read_maybe_gzipped(path);
  std::string_view rest = content;
  for (std::int64_t line_number = 1; !rest.empty(); ++line_number) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (detail::is_blank(line)) continue;
    samples_.push_back(detail::json_sample(line, fields, fmt::format("{}:{}", path.string(), line_number)));
  }
  if (samples_.empty()) throw DataError(fmt::format("{}: no data lines", path.string()));
}

TORCHTRAIN_INLINE std::vector<std::int64_t> JsonLinesDataset::lengths() const {
  std::vector<std::int64_t> lengths;
  lengths.reserve(samples_.size());
  for (const auto& sample : samples_) lengths.push_back(sample.data.dim() == 0 ? 1 : sample.data.size(0));
  return lengths;
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
