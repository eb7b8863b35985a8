// JsonFields: which keys of a JSON object hold a sample's inputs and labels.
#pragma once

#include <string>

namespace torchtrain::data {

/// Which keys of each JSON object hold a sample's inputs and labels (the Python
/// `remove_unused_columns` keeps only what the model takes; here that is these two).
/// An empty `labels` reads no labels (a set to predict on).
struct JsonFields {
  std::string inputs = "input_ids";
  std::string labels = "labels";
};

}  // namespace torchtrain::data
