// Logger cost: the digits classifier trained with each logger, and with a logger that does
// nothing; prints whether logging a step through each logger costs under 2% of the step.
//
// Within each run a coin decides, step by step, whether the step is logged (a callback sets
// should_log), so logged and unlogged steps alternate at random under the same load on the
// machine; the cost is the median logged step against the median unlogged step. Rounds
// repeat every configuration in a shuffled order; the table gives the median over rounds
// and a 95% confidence interval. Each run also times the logger's own calls and counts its
// write system calls per log.
//
//   bench_loggers [--data digits.csv.gz] [--steps 1000] [--rounds 15] [--folder bench_loggers_data]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>

#include <torchtrain/torchtrain.hpp>

#include "digits/digits.hpp"

#include "support.hpp"

namespace tt = torchtrain;
namespace fs = std::filesystem;

struct LoggerBenchArguments {
  std::string data = digits::default_data_path;  // the digits data set
  int steps = 1000;                              // optimizer steps per run, half of them logged
  int rounds = 15;                               // rounds, each running every configuration once
  std::string folder = "bench_loggers_data";     // where the file loggers write (the disk measured)
};
BOOST_HANA_ADAPT_STRUCT(LoggerBenchArguments, data, steps, rounds, folder);

namespace {

using Clock = std::chrono::steady_clock;

// The trainer default-constructs its logger: these put the loggers' output where the
// benchmark says, a fresh folder per run, and the console's into a file (as when a
// run's output is redirected), not among the table.
fs::path run_folder;
std::FILE* console_file = nullptr;

struct ConsoleLines : tt::ConsoleLogger {
  ConsoleLines() : tt::ConsoleLogger(console_file, tt::ProgressBar::never) {}
};
struct ConsoleBar : tt::ConsoleLogger {
  ConsoleBar() : tt::ConsoleLogger(console_file, tt::ProgressBar::always) {}
};
struct JsonLines : tt::JsonLinesLogger {
  JsonLines() : tt::JsonLinesLogger(run_folder) {}
};
struct Csv : tt::CsvLogger {
  Csv() : tt::CsvLogger(run_folder) {}
};
struct TensorBoard : tt::TensorBoardLogger {
  TensorBoard() : tt::TensorBoardLogger(run_folder) {}
};
struct All : tt::Loggers<tt::ConsoleLogger, tt::JsonLinesLogger, tt::CsvLogger, tt::TensorBoardLogger> {
  All()
      : Loggers(tt::ConsoleLogger(console_file, tt::ProgressBar::never), tt::JsonLinesLogger(run_folder),
                tt::CsvLogger(run_folder), tt::TensorBoardLogger(run_folder)) {}
};

// What the current run's logger saw: when each step ended, which steps were logged, and
// the time spent inside the logger's calls at each step.
struct Recording {
  std::vector<Clock::time_point> step_ends;
  std::vector<char> logged;    // by step
  std::vector<double> inside;  // seconds, by step
  long logs = 0;
  std::mt19937 coin{12};
} recording;

// The callback that logs a step when a coin says so (logging_strategy is no).
struct LogAtRandom {
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl& control) {
    control.should_log = (recording.coin() & 1) != 0;
    if (state.global_step < static_cast<int>(recording.logged.size()))
      recording.logged[state.global_step] = control.should_log;
  }
};

// Logger<...> with a stopwatch around each call the step loop makes (two clock reads,
// some 50 ns, which the do-nothing logger's share shows), and a time stamp at the end of
// each step. Hooks the logger lacks stay absent but on_step_end, which every
// configuration gets alike.
template <class Logger>
struct Timed : Logger {
  struct Stopwatch {
    int step;
    Clock::time_point start = Clock::now();
    ~Stopwatch() {
      if (step >= 0 && step < static_cast<int>(recording.inside.size()))
        recording.inside[step] += std::chrono::duration<double>(Clock::now() - start).count();
    }
  };
  void log(const tt::Metrics& logs, const tt::TrainerState& state) {
    Stopwatch watch{state.global_step};
    Logger::log(logs, state);
    ++recording.logs;
  }
  void on_step_end(const tt::TrainerState& state) {
    if constexpr (requires(Logger& logger) { logger.on_step_end(state); }) {
      Stopwatch watch{state.global_step};
      Logger::on_step_end(state);
    }
    recording.step_ends.push_back(Clock::now());
  }
  void on_train_begin(const tt::TrainerState& state)
    requires requires(Logger& logger) { logger.on_train_begin(state); }
  {
    Logger::on_train_begin(state);
  }
  void on_train_end(const tt::TrainerState& state)
    requires requires(Logger& logger) { logger.on_train_end(state); }
  {
    Logger::on_train_end(state);
  }
};

// write-like system calls this process has made (Linux's /proc/self/io "syscw"); none
// where the system does not count them.
std::optional<long> write_calls() {
  std::ifstream io("/proc/self/io");
  std::string key;
  long value = 0;
  while (io >> key >> value)
    if (key == "syscw:") return value;
  return std::nullopt;
}

// The q-quantile of `values` (linear between the closest ranks).
double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(position);
  const std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - static_cast<double>(below)) * (values[above] - values[below]);
}

struct Run {
  double logged = 0, unlogged = 0;  // median seconds of a step after a logged and an unlogged one
  double inside = 0;                // median seconds inside the logger's calls at a logged step
  long logs = 0;
  std::optional<long> writes;       // write system calls during train()
};

tt::TrainingArguments training_arguments(int steps) {
  auto args = digits::default_training_arguments();
  args.max_steps = steps;
  args.output_dir = (run_folder.parent_path() / "output").string();  // not the example's folder
  args.eval_strategy = tt::IntervalStrategy::no;
  args.save_strategy = tt::SaveStrategy::no;
  args.load_best_model_at_end = false;
  args.logging_strategy = tt::IntervalStrategy::no;  // LogAtRandom decides
  return args;
}

template <class Logger>
Run train(const tt::data::TensorDataset& data, int steps) {
  static int runs = 0;
  run_folder = run_folder.parent_path() / fmt::format("run-{}", runs++);
  tt::set_seed(0);
  digits::Classifier model(128);
  tt::Trainer<Timed<Logger>, tt::NoCheckpoint> trainer(model, training_arguments(steps), data, tt::data::NoDataset{},
                                                       tt::loss::cross_entropy, tt::NoMetrics{},
                                                       tt::callbacks(LogAtRandom{}));
  const auto size = static_cast<std::size_t>(steps) + 1;
  recording.step_ends.clear();
  recording.step_ends.reserve(size);
  recording.logged.assign(size, 0);
  recording.inside.assign(size, 0.0);
  recording.logs = 0;
  Run run;
  const auto writes_before = write_calls();
  trainer.train();
  if (const auto writes_after = write_calls(); writes_before && writes_after)
    run.writes = *writes_after - *writes_before;

  // From the end of step k to the end of step k + 1: the log of step k (if any), then step k + 1.
  std::vector<double> logged, unlogged, inside;
  for (std::size_t k = 1; k < recording.step_ends.size(); ++k) {
    const double seconds = std::chrono::duration<double>(recording.step_ends[k] - recording.step_ends[k - 1]).count();
    (recording.logged[k] ? logged : unlogged).push_back(seconds);
    if (recording.logged[k]) inside.push_back(recording.inside[k]);
  }
  run.logged = quantile(logged, 0.5);
  run.unlogged = quantile(unlogged, 0.5);
  run.inside = quantile(inside, 0.5);
  run.logs = recording.logs;
  fs::remove_all(run_folder);
  return run;
}

struct Configuration {
  std::string name;
  Run (*train)(const tt::data::TensorDataset&, int);
  std::vector<Run> runs;
};

template <class Logger>
Configuration configuration(std::string name) {
  return {std::move(name), &train<Logger>};
}

// A 95% confidence interval of the median that assumes nothing of the distribution: the
// order statistics at n/2 -+ 1.96 sqrt(n)/2 (the binomial's normal approximation).
std::pair<double, double> median_interval(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  const double half_width = 1.96 * std::sqrt(n) / 2;
  const auto low = static_cast<std::size_t>(std::clamp(std::floor(n / 2 - half_width), 0.0, n - 1));
  const auto high = static_cast<std::size_t>(std::clamp(std::ceil(n / 2 + half_width), 0.0, n - 1));
  return {values[low], values[high]};
}

// Percent of steps/s that logging every step would lose, run by run.
std::vector<double> costs(const std::vector<Run>& runs) {
  std::vector<double> percent;
  for (const Run& run : runs) percent.push_back(100 * (1 - run.unlogged / run.logged));
  return percent;
}

std::string median_and_interval(const std::vector<double>& percent) {
  const auto [low, high] = median_interval(percent);
  return fmt::format("{:+.2f}% [{:+.2f}, {:+.2f}]", quantile(percent, 0.5), low, high);
}

// Under the bound when the whole confidence interval is, over it when the whole interval is;
// below 6 rounds no interval of the median reaches 95%, so nothing is decided.
std::string verdict(const std::vector<double>& percent, double bound) {
  if (percent.size() < 6) return "not resolved";
  const auto [low, high] = median_interval(percent);
  if (high < bound) return "yes";
  if (low > bound) return "no";
  return "not resolved";
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<LoggerBenchArguments>(argc, argv);
  auto data = digits::load_digits(options.data);
  fs::create_directories(options.folder);
  run_folder = fs::path(options.folder) / "run";
  console_file = std::fopen((fs::path(options.folder) / "console.txt").c_str(), "w");
  constexpr double bound = 2.0;  // percent: the "logging every step must cost under 2%"

  std::vector<Configuration> configurations = {
      configuration<bench::SilentLogger>("a logger that does nothing"),
      configuration<ConsoleLines>("ConsoleLogger, lines (to a file)"),
      configuration<ConsoleBar>("ConsoleLogger, progress bar (to a file)"),
      configuration<JsonLines>("JsonLinesLogger"),
      configuration<Csv>("CsvLogger"),
      configuration<TensorBoard>("TensorBoardLogger"),
      configuration<All>("Loggers<Console, JsonLines, Csv, TensorBoard>"),
  };
  for (auto& each : configurations) each.train(data, options.steps / 10);  // warm up allocator, threads, disk

  std::vector<std::size_t> order(configurations.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 random(12);
  for (int round = 0; round < options.rounds; ++round) {
    std::shuffle(order.begin(), order.end(), random);
    for (std::size_t index : order)
      configurations[index].runs.push_back(configurations[index].train(data, options.steps));
  }
  std::fclose(console_file);
  fs::remove_all(options.folder);

  fmt::print("digits MLP, batch 32, {} steps x {} rounds, {} LibTorch threads; in each run a coin decides which\n"
             "steps are logged. Cost: steps/s lost by logging every step, from the median step after a logged\n"
             "step against the median step after an unlogged one in the same run; median over rounds [95%\n"
             "confidence interval]. 'The logger' subtracts the do-nothing logger's cost of its round: what\n"
             "is left is the logger's own. Under {}%: yes when the whole interval is, no when it is all above,\n"
             "else not resolved.\n\n",
             options.steps, options.rounds, torch::get_num_threads(), bound);
  fmt::print("| logger | steps/s, unlogged | logging every step: cost | under {0}%? | the logger alone: cost | "
             "under {0}%? | inside the logger: us a log, share of a step | writes per log |\n"
             "| --- | --- | --- | --- | --- | --- | --- | --- |\n",
             bound);
  const auto silent = costs(configurations.front().runs);
  for (const auto& each : configurations) {
    std::vector<double> steps_per_second, inside, shares, writes_per_log, alone;
    const auto cost = costs(each.runs);
    for (std::size_t round = 0; round < each.runs.size(); ++round) {
      const Run& run = each.runs[round];
      steps_per_second.push_back(1 / run.unlogged);
      inside.push_back(run.inside * 1e6);
      shares.push_back(100 * run.inside / run.unlogged);
      if (run.writes && run.logs > 0) writes_per_log.push_back(static_cast<double>(*run.writes) / run.logs);
      alone.push_back(cost[round] - silent[round]);
    }
    fmt::print("| {} | {:.0f} | {} | {} | {} | {} | {:.2f} us, {:.2f}% | {} |\n", each.name,
               quantile(steps_per_second, 0.5), median_and_interval(cost), verdict(cost, bound),
               median_and_interval(alone), verdict(alone, bound), quantile(inside, 0.5), quantile(shares, 0.5),
               writes_per_log.empty() ? std::string("?") : fmt::format("{:.2f}", quantile(writes_per_log, 0.5)));
  }
}
