// split_examples: the data and the targets of a collator's samples, as two lists.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/data/example.h>
#include <torch/types.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::data::detail {

/// Each sample's data, and each sample's target (empty when no sample has one). A batch
/// where only some samples have a target cannot have labels: an error naming `collator`.
inline std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> split_examples(
    std::vector<torch::data::Example<>> samples, std::string_view collator) {
  std::vector<torch::Tensor> data, targets;
  data.reserve(samples.size());
  for (auto& sample : samples) {
    data.push_back(std::move(sample.data));
    if (sample.target.defined()) targets.push_back(std::move(sample.target));
  }
  if (!targets.empty() && targets.size() != data.size())
    throw ArgumentError(fmt::format("{}: {} of the {} samples have a target; give every sample one, or none",
                                    collator, targets.size(), data.size()));
  return {std::move(data), std::move(targets)};
}

}  // namespace torchtrain::data::detail
