// The picture of a run: training and evaluation loss and the learning rate against the step, as SVG.
#pragma once

#include <filesystem>
#include <string>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/trainer_state.hpp>

namespace torchtrain::io {

/// `state.log_history` as an SVG picture, readable at a glance:
/// - top panel: the training loss ("loss", a line) and the evaluation loss ("eval_loss",
///   a line with a dot at each evaluation) against the step, with a legend;
/// - bottom panel: the learning rate ("learning_rate") against the step;
/// - one step axis for both, from 0 to max_steps (or the last logged step when further);
///   value axes spanning the values logged, in whole ticks of 1, 2 or 5 times a power of
///   ten; a light grid; a title with the step and epoch reached and the last losses.
/// Values that are not finite (a NaN loss) are left out. A series with a single point is
/// drawn as a dot. A panel with nothing logged says so. Elements are marked for readers
/// of the file: polylines of class "train-loss", "eval-loss", "learning-rate"; tick labels
/// of class "tick x" / "tick y", placed exactly at their value (dominant-baseline middle
/// for y, hanging for x).
TORCHTRAIN_INLINE std::string training_plot_svg(const TrainerState& state);

/// Writes training_plot_svg(state) to `path`, atomically (replace_file): a reader never
/// sees half a picture. Throws FileError.
TORCHTRAIN_INLINE void write_training_plot(const TrainerState& state, const std::filesystem::path& path);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/io/durable_file.hpp>

namespace torchtrain::io {

namespace detail {

struct PlotPoint {
  double step;
  double value;
};

// The finite values of `name` in the log history, at their logged step.
inline std::vector<PlotPoint> logged_series(const TrainerState& state, std::string_view name) {
  std::vector<PlotPoint> points;
  for (const auto& entry : state.log_history)
    if (entry.contains(name) && entry.contains("step") && std::isfinite(entry.at(name)))
      points.push_back({entry.at("step"), entry.at(name)});
  return points;
}

// An axis: the range it spans and the distance between its ticks.
struct PlotAxis {
  double low, high, tick;

  std::vector<double> ticks() const {
    std::vector<double> values;
    // Whole multiples of the tick distance, so that labels read 0.3, not 0.30000000000000004.
    for (auto k = static_cast<long long>(std::ceil(low / tick - 1e-9)); k * tick <= high + tick * 1e-9; ++k)
      values.push_back(static_cast<double>(k) * tick);
    return values;
  }
};

// A tick distance of 1, 2 or 5 times a power of ten, near `rough`.
inline double nice_tick(double rough) {
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  const double fraction = rough / power;
  return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
}

// An axis over [low, high], widened to whole ticks; a single value gets room around it.
inline PlotAxis value_axis(double low, double high) {
  if (low == high) {
    const double room = low == 0 ? 1 : std::abs(low) / 10;
    low -= room;
    high += room;
  }
  const double tick = nice_tick((high - low) / 4);
  return {std::floor(low / tick) * tick, std::ceil(high / tick) * tick, tick};
}

// A panel of the picture: a frame with y ticks and grid, its series drawn in it.
struct PlotPanel {
  double left, right, top, bottom;
  PlotAxis x, y;

  double x_at(double step) const { return left + (step - x.low) / (x.high - x.low) * (right - left); }
  double y_at(double value) const { return bottom - (value - y.low) / (y.high - y.low) * (bottom - top); }
};

struct PlotSeries {
  std::vector<PlotPoint> points;
  std::string_view css_class;  // names the series for readers of the file (and tests)
  std::string_view label;
  std::string_view color;
  bool markers;  // a circle at each point, for sparse series
};

inline std::string svg_panel(const PlotPanel& panel, std::string_view y_title, std::string_view css_class,
                             const std::vector<PlotSeries>& series, std::string_view when_empty) {
  std::string svg = fmt::format("<g class=\"{}\">\n", css_class);
  for (double tick : panel.x.ticks())
    svg += fmt::format("<line class=\"grid\" x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" "
                       "stroke=\"#e4e4e4\"/>\n",
                       panel.x_at(tick), panel.top, panel.bottom);
  for (double tick : panel.y.ticks()) {
    const double y = panel.y_at(tick);
    svg += fmt::format("<line class=\"grid\" x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
                       "stroke=\"#e4e4e4\"/>\n",
                       panel.left, y, panel.right, y);
    svg += fmt::format("<text class=\"tick y\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"end\" "
                       "dominant-baseline=\"middle\">{:g}</text>\n",
                       panel.left - 6, y, tick);
  }
  svg += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"none\" "
                     "stroke=\"#444\"/>\n",
                     panel.left, panel.top, panel.right - panel.left, panel.bottom - panel.top);
  const double middle = (panel.top + panel.bottom) / 2;
  svg += fmt::format("<text class=\"axis-title\" x=\"{0:.2f}\" y=\"{1:.2f}\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 {0:.2f} {1:.2f})\">{2}</text>\n",
                     panel.left - 56, middle, y_title);

  bool empty = true;
  for (const auto& one : series) {
    if (one.points.empty()) continue;
    empty = false;
    std::string points;
    for (const auto& point : one.points)
      points += fmt::format("{}{:.2f},{:.2f}", points.empty() ? "" : " ", panel.x_at(point.step),
                            panel.y_at(point.value));
    svg += fmt::format("<polyline class=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" "
                       "stroke-linejoin=\"round\" points=\"{}\"/>\n",
                       one.css_class, one.color, points);
    if (one.markers || one.points.size() == 1)
      for (const auto& point : one.points)
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"/>\n", panel.x_at(point.step),
                           panel.y_at(point.value), one.color);
  }
  if (empty)
    svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\" fill=\"#777\">{}</text>\n",
                       (panel.left + panel.right) / 2, middle, when_empty);

  // The legend, top right, for panels of several series, on white over the lines.
  if (series.size() > 1) {
    const auto shown = std::count_if(series.begin(), series.end(), [](const auto& one) { return !one.points.empty(); });
    svg += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"142\" height=\"{}\" fill=\"white\" "
                       "fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n",
                       panel.right - 148, panel.top + 6, 18 * shown + 2);
    double y = panel.top + 16;
    for (const auto& one : series) {
      if (one.points.empty()) continue;
      svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{2:.2f}\" y2=\"{1:.2f}\" stroke=\"{3}\" "
                         "stroke-width=\"2.5\"/>\n"
                         "<text x=\"{4:.2f}\" y=\"{1:.2f}\" dominant-baseline=\"middle\">{5}</text>\n",
                         panel.right - 140, y, panel.right - 116, one.color, panel.right - 110, one.label);
      y += 18;
    }
  }
  return svg + "</g>\n";
}

}  // namespace detail

TORCHTRAIN_INLINE std::string training_plot_svg(const TrainerState& state) {
  using detail::PlotSeries;
  constexpr double width = 760, height = 560, left = 92, right = 732;
  const std::vector<PlotSeries> losses = {
      {detail::logged_series(state, "loss"), "train-loss", "training loss", "#1f77b4", false},
      {detail::logged_series(state, "eval_loss"), "eval-loss", "evaluation loss", "#ff7f0e", true},
  };
  const std::vector<PlotSeries> rates = {
      {detail::logged_series(state, "learning_rate"), "learning-rate", "learning rate", "#2ca02c", false}};

  double last_step = std::max(state.max_steps, 1);
  double loss_low = std::numeric_limits<double>::infinity(), loss_high = -loss_low;
  for (const auto& series : losses)
    for (const auto& point : series.points) {
      last_step = std::max(last_step, point.step);
      loss_low = std::min(loss_low, point.value);
      loss_high = std::max(loss_high, point.value);
    }
  double rate_high = 0;  // the learning rate is drawn from 0: warmup and decay read at once
  for (const auto& point : rates.front().points) {
    last_step = std::max(last_step, point.step);
    rate_high = std::max(rate_high, point.value);
  }
  const detail::PlotAxis x{0, last_step, std::max(1.0, detail::nice_tick(last_step / 6))};
  const detail::PlotPanel loss_panel{left, right, 56, 336, x,
                                     losses[0].points.empty() && losses[1].points.empty()
                                         ? detail::PlotAxis{0, 1, 0.25}
                                         : detail::value_axis(loss_low, loss_high)};
  const detail::PlotPanel rate_panel{left, right, 376, 496, x, detail::value_axis(0, rate_high)};

  std::string title = fmt::format("step {} of {}, epoch {:.2f}", state.global_step, state.max_steps, state.epoch);
  if (!losses[0].points.empty()) title += fmt::format(", loss {:.4g}", losses[0].points.back().value);
  if (!losses[1].points.empty()) title += fmt::format(", eval_loss {:.4g}", losses[1].points.back().value);

  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text class=\"title\" x=\"{2:.2f}\" y=\"30\" text-anchor=\"middle\" font-size=\"15\">{3}</text>\n",
      width, height, (left + right) / 2, title);
  svg += detail::svg_panel(loss_panel, "loss", "loss-panel", losses, "no loss logged yet");
  svg += detail::svg_panel(rate_panel, "learning rate", "learning-rate-panel", rates, "no learning rate logged yet");
  for (double tick : x.ticks())
    svg += fmt::format("<text class=\"tick x\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\" "
                       "dominant-baseline=\"hanging\">{:g}</text>\n",
                       rate_panel.x_at(tick), rate_panel.bottom + 6, tick);
  svg += fmt::format("<text class=\"axis-title\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\">step</text>\n",
                     (left + right) / 2, rate_panel.bottom + 38);
  return svg + "</svg>\n";
}

TORCHTRAIN_INLINE void write_training_plot(const TrainerState& state, const std::filesystem::path& path) {
  replace_file(path, training_plot_svg(state));
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS
