// NamedDatasets: several evaluation sets, each reported under its name (the Python dict of eval datasets).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <torchtrain/core/config.hpp>
#include <torchtrain/data/dataset.hpp>

namespace torchtrain::data {

/// Evaluation sets in order, each with a name: evaluation reports `eval_<name>_loss`,
/// `eval_<name>_<metric>`, ... for each, as the Python Trainer does for
/// `eval_dataset={"clean": ..., "noisy": ...}`. Make one with named_datasets.
template <Dataset D>
struct NamedDatasets {
  std::vector<std::pair<std::string, D>> datasets;
};

template <class T>
inline constexpr bool is_named_datasets = false;
template <class D>
inline constexpr bool is_named_datasets<NamedDatasets<D>> = true;

namespace detail {
// Throws ArgumentError for an empty name, or one that an earlier dataset has (`taken`).
TORCHTRAIN_INLINE void check_dataset_name(std::string_view name, bool taken);

template <class D>
void add_named(NamedDatasets<D>&) {}
template <class D, class Name, class... Rest>
void add_named(NamedDatasets<D>& named, Name&& name, D dataset, Rest&&... rest) {
  std::string key(std::forward<Name>(name));
  check_dataset_name(key, std::ranges::any_of(named.datasets, [&](const auto& entry) { return entry.first == key; }));
  named.datasets.emplace_back(std::move(key), std::move(dataset));
  add_named(named, std::forward<Rest>(rest)...);
}
}  // namespace detail

/// `named_datasets("clean", clean_set, "noisy", noisy_set)`: names and datasets in turn,
/// every dataset of one type.
template <class Name, Dataset D, class... Rest>
  requires(sizeof...(Rest) % 2 == 0)
NamedDatasets<D> named_datasets(Name&& name, D dataset, Rest&&... rest) {
  NamedDatasets<D> named;
  detail::add_named(named, std::forward<Name>(name), std::move(dataset), std::forward<Rest>(rest)...);
  return named;
}

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <fmt/format.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::data::detail {

TORCHTRAIN_INLINE void check_dataset_name(std::string_view name, bool taken) {
  if (name.empty()) throw ArgumentError("named_datasets: a dataset has an empty name; name each one");
  if (taken) throw ArgumentError(fmt::format("named_datasets: two datasets are named '{}'; give each its own name", name));
}

}  // namespace torchtrain::data::detail

#endif  // TORCHTRAIN_DEFINITIONS
