// AnyDataset: a dataset of any type, seen through its size and batches, for evaluate(dataset) and predict(dataset).
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <string>
#include <typeinfo>
#include <utility>

#include <c10/util/Type.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/dataset.hpp>

namespace torchtrain::detail {

/// A dataset whose type the Trainer's loop does not know (it was compiled for the train
/// and eval dataset types): evaluation costs one indirect call per batch this way, never
/// one per step of training. Holds a reference: use it while the dataset lives.
class AnyDataset {
 public:
  template <class D>
    requires data::Dataset<std::remove_cvref_t<D>>
  explicit AnyDataset(D& dataset)
      : size_(data::dataset_size(dataset)),
        batch_type_(&typeid(decltype(data::fetch_batch(dataset, std::declval<const torch::Tensor&>())))),
        fetch_([&dataset](const torch::Tensor& indices) -> std::any { return data::fetch_batch(dataset, indices); }) {}

  std::int64_t size() const { return size_; }

  /// The batches as `Batch`, the type the loop's model and loss take; a dataset of
  /// another batch type is an ArgumentError naming both.
  template <class Batch>
  void check_batch_type(std::string_view caller) const {
    if (*batch_type_ != typeid(Batch))
      throw ArgumentError(fmt::format("{}: the dataset gives batches of type {}, but this Trainer's model and loss "
                                      "take {} (the batches of its train dataset); pass a dataset of that batch type",
                                      caller, c10::demangle(batch_type_->name()), c10::demangle(typeid(Batch).name())));
  }
  template <class Batch>
  Batch fetch(const torch::Tensor& indices) const {
    return std::any_cast<Batch>(fetch_(indices));
  }

 private:
  std::int64_t size_;
  const std::type_info* batch_type_;
  std::function<std::any(const torch::Tensor&)> fetch_;
};

/// An AnyDataset known to give `Batch`es, as a data::BatchDataset for the evaluation loop.
template <class Batch>
struct TypedDataset {
  const AnyDataset& dataset;
  std::int64_t size() const { return dataset.size(); }
  Batch get_batch(const torch::Tensor& indices) const { return dataset.fetch<Batch>(indices); }
};

}  // namespace torchtrain::detail
