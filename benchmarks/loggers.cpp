// Logger cost: steps/s of the digits classifier logging every step through each logger, next
// to a logger that does nothing, alternated in one run; prints the ratios as a table.
//
// Also times each logger alone, called as often, and gives that cost as a share of a step.
//
//   bench_loggers [--data digits.csv.gz] [--steps 2000] [--rounds 7] [--folder bench_loggers_data]
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>

#include "digits/digits.hpp"

#include "support.hpp"

namespace tt = torchtrain;
namespace fs = std::filesystem;

struct LoggerBenchArguments {
  std::string data = digits::default_data_path;  // the digits data set
  int steps = 2000;                              // optimizer steps per timed run, each one logged
  int rounds = 7;                                // timed runs of each logger, alternated
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

tt::TrainingArguments training_arguments(int steps, bool log_every_step) {
  auto args = digits::default_training_arguments();
  args.max_steps = steps;
  args.eval_strategy = tt::IntervalStrategy::no;
  args.save_strategy = tt::SaveStrategy::no;
  args.load_best_model_at_end = false;
  args.logging_strategy = log_every_step ? tt::IntervalStrategy::steps : tt::IntervalStrategy::no;
  args.logging_steps = 1;
  return args;
}

template <class Logger>
double steps_per_second(const tt::data::TensorDataset& data, int steps, bool log_every_step = true) {
  static int runs = 0;
  run_folder = run_folder.parent_path() / fmt::format("run-{}", runs++);
  tt::set_seed(0);
  digits::Classifier model(128);
  tt::Trainer<Logger, tt::NoCheckpoint> trainer(model, training_arguments(steps, log_every_step), data,
                                                tt::data::NoDataset{}, tt::loss::cross_entropy);
  const auto start = Clock::now();
  trainer.train();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  fs::remove_all(run_folder);
  return steps / seconds;
}

// The cost of the logger alone: `calls` logs of the shape an interval log has (loss,
// grad_norm, learning_rate, epoch), one a step, each with the step hook the bar needs.
template <class Logger>
double seconds_per_log(int calls) {
  static int runs = 0;
  run_folder = run_folder.parent_path() / fmt::format("calls-{}", runs++);
  double seconds = 0;
  {
    Logger logger;
    tt::TrainerState state;
    state.max_steps = calls;
    const auto start = Clock::now();
    for (int step = 1; step <= calls; ++step) {
      state.global_step = step;
      state.epoch = step / 57.0;
      const double learning_rate = 2e-3 * (calls - step) / calls;
      logger.log({{"loss", 2.0 / step}, {"grad_norm", 1.0 + 1.0 / step}, {"learning_rate", learning_rate},
                  {"epoch", state.epoch}},
                 state);
      if constexpr (requires { logger.on_step_end(state); }) logger.on_step_end(state);
    }
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  fs::remove_all(run_folder);
  return seconds / calls;
}

struct Row {
  std::string name;
  std::function<double(const tt::data::TensorDataset&, int)> train;  // steps/s
  std::function<double(int)> log;                                    // seconds per log
  std::vector<double> steps_per_second, ratios, seconds_per_log, shares;
};

template <class Logger>
Row row(std::string name) {
  return {std::move(name), [](auto& data, int steps) { return steps_per_second<Logger>(data, steps); },
          [](int calls) { return seconds_per_log<Logger>(calls); }};
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<LoggerBenchArguments>(argc, argv);
  auto data = digits::load_digits(options.data);
  fs::create_directories(options.folder);
  run_folder = fs::path(options.folder) / "run";
  console_file = std::fopen((fs::path(options.folder) / "console.txt").c_str(), "w");

  std::vector<Row> rows = {
      row<bench::SilentLogger>("a logger that does nothing"),
      row<ConsoleLines>("ConsoleLogger, lines (to a file)"),
      row<ConsoleBar>("ConsoleLogger, progress bar (to a file)"),
      row<JsonLines>("JsonLinesLogger"),
      row<Csv>("CsvLogger"),
      row<TensorBoard>("TensorBoardLogger"),
      row<All>("Loggers<Console, JsonLines, Csv, TensorBoard>"),
  };
  Row unlogged{"nothing logged (logging_strategy no)",
               [](auto& data, int steps) { return steps_per_second<bench::SilentLogger>(data, steps, false); }};
  for (auto& each : rows) each.train(data, options.steps / 10);  // warm up allocator, threads, disk

  // Rounds alternate the loggers; each ratio compares runs adjacent in time, so the median
  // of per-round ratios is the figure least moved by other load on the machine. The share
  // of a step is one log's cost over the time of one step with the logger that does nothing.
  for (int round = 0; round < options.rounds; ++round) {
    unlogged.steps_per_second.push_back(unlogged.train(data, options.steps));
    for (auto& each : rows) {
      each.steps_per_second.push_back(each.train(data, options.steps));
      each.seconds_per_log.push_back(each.log(options.steps));
    }
    const double baseline = rows.front().steps_per_second.back();
    unlogged.ratios.push_back(unlogged.steps_per_second.back() / baseline);
    for (auto& each : rows) {
      each.ratios.push_back(each.steps_per_second.back() / baseline);
      each.shares.push_back(each.seconds_per_log.back() * baseline);
    }
  }
  std::fclose(console_file);
  fs::remove_all(options.folder);

  fmt::print("digits MLP, batch 32, a log every step, {} steps x {} rounds, medians, {} LibTorch threads\n",
             options.steps, options.rounds, torch::get_num_threads());
  fmt::print("| logger | steps/s | / a logger that does nothing | one log alone, us | share of a step |\n"
             "| --- | --- | --- | --- | --- |\n");
  fmt::print("| {} | {:.0f} | {:.3f} | | |\n", unlogged.name, bench::median(unlogged.steps_per_second),
             bench::median(unlogged.ratios));
  for (const auto& each : rows)
    fmt::print("| {} | {:.0f} | {:.3f} | {:.2f} | {:.2f}% |\n", each.name, bench::median(each.steps_per_second),
               bench::median(each.ratios), bench::median(each.seconds_per_log) * 1e6, bench::median(each.shares) * 100);
}
