// Precision, recall and F1 of a classification, averaged over classes as scikit-learn does.
#pragma once

#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/metrics/eval_prediction.hpp>

namespace torchtrain::metrics {

/// How per-class scores become one number (scikit-learn's `average`):
/// macro: the plain mean over the classes that occur in the labels or the predictions;
/// micro: from the counts summed over classes (for single-label classification, equal to
/// accuracy); weighted: the mean weighted by each class's number of labels.
enum class Average { macro, micro, weighted };

namespace detail {
enum class Score { precision, recall, f1 };

// The `score` of `prediction`, averaged over classes as `average` says (ClassScore's body,
// which does not depend on its template argument).
TORCHTRAIN_INLINE double class_score(const EvalPrediction& prediction, Score score, Average average);
}  // namespace detail

/// compute_metrics {"<name>": score} for one of the class scores below. Predictions are
/// logits (argmax is taken) or class ids; labels -100 do not count.
template <detail::Score score>
struct ClassScore {
  Average average = Average::macro;
  std::string_view name = score == detail::Score::precision ? "precision"
                          : score == detail::Score::recall  ? "recall"
                                                            : "f1";
  Metrics operator()(const EvalPrediction& prediction) const {
    return {{std::string(name), detail::class_score(prediction, score, average)}};
  }
};

/// Precision {"precision": ...}: of the samples predicted as a class, the share that is that class.
using Precision = ClassScore<detail::Score::precision>;
/// Recall {"recall": ...}: of the samples of a class, the share predicted as it.
using Recall = ClassScore<detail::Score::recall>;
/// F1 {"f1": ...}: the harmonic mean of precision and recall, per class 2 tp / (predicted + actual).
using F1 = ClassScore<detail::Score::f1>;

inline constexpr Precision precision{};
inline constexpr Recall recall{};
inline constexpr F1 f1{};

}  // namespace torchtrain::metrics

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <torch/types.h>

#include <torchtrain/metrics/detail/class_counts.hpp>

namespace torchtrain::metrics::detail {

// score_c = numerator_c / denominator_c, 0 where the denominator is 0 (scikit-learn's
// zero_division=0), averaged as `average` says.
inline double average_score(const torchtrain::detail::ClassCounts& counts, const torch::Tensor& numerator,
                            const torch::Tensor& denominator, Average average) {
  if (average == Average::micro) {
    const double total = denominator.sum().item<double>();
    return total == 0 ? 0.0 : numerator.sum().item<double>() / total;
  }
  const auto score = torch::where(denominator > 0, numerator / denominator.clamp_min(1), torch::zeros_like(numerator));
  if (average == Average::weighted)
    return (score * counts.actual).sum().item<double>() / counts.actual.sum().item<double>();
  const auto present = (counts.actual + counts.predicted) > 0;
  return score.masked_select(present).mean().item<double>();
}

TORCHTRAIN_INLINE double class_score(const EvalPrediction& prediction, Score score, Average average) {
  const torchtrain::detail::ClassCounts counts(concatenated(prediction));
  const auto& tp = counts.true_positives;
  if (score == Score::precision) return average_score(counts, tp, counts.predicted, average);
  if (score == Score::recall) return average_score(counts, tp, counts.actual, average);
  return average_score(counts, 2 * tp, counts.predicted + counts.actual, average);
}

}  // namespace torchtrain::metrics::detail

#endif  // TORCHTRAIN_DEFINITIONS
