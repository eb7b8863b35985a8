// combine: several compute_metrics as one, like the Python `evaluate.combine`.
#pragma once

#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain::metrics {

/// The metrics of every callable, in order: `combine(accuracy, F1{.average = Average::weighted})`
/// gives {"accuracy": ..., "f1": ...}. Two metrics of one name are an error (rename one
/// with its `name` field).
template <class... Computes>
struct Combined {
  std::tuple<Computes...> computes;
  Metrics operator()(const EvalPrediction& prediction) const {
    Metrics all;
    std::apply([&](const auto&... compute) { (add(all, compute(prediction)), ...); }, computes);
    return all;
  }

 private:
  static void add(Metrics& all, const Metrics& more) {
    for (const auto& [name, value] : more) {
      if (all.contains(name))
        throw std::invalid_argument(fmt::format("metrics::combine: two metrics are named '{}'; give one another "
                                                "name (for example F1{{.name = \"f1_micro\"}})", name));
      all.set(name, value);
    }
  }
};

template <class... Computes>
Combined<Computes...> combine(Computes... computes) {
  return {{std::move(computes)...}};
}

}  // namespace torchtrain::metrics
