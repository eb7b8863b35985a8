// Callback cost: the digits classifier trained with no callbacks, with eight callbacks that
// have no step hooks, with the run-time callback list (empty), and with one step hook;
// alternated in one run, printed as steps/s and ratios to no callbacks.
//
//   bench_callbacks [--data digits.csv.gz] [--steps 2000] [--rounds 5]
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/torchtrain.hpp>

#include "digits/digits.hpp"

#include "support.hpp"

namespace tt = torchtrain;

struct CallbackBenchArguments {
  std::string data = digits::default_data_path;  // the digits data set
  int steps = 2000;                              // optimizer steps per timed run
  int rounds = 5;                                // timed runs of each, alternated
};
TORCHTRAIN_REFLECT(CallbackBenchArguments, data, steps, rounds);

namespace {

// Hooks at the start and end of training only: nothing for the step loop to call.
template <int N>
struct TrainBeginEnd {
  int calls = 0;
  void on_train_begin(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) { ++calls; }
  void on_train_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) { ++calls; }
};

struct CountSteps {
  long steps = 0;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) { ++steps; }
};

template <class Callbacks>
double steps_per_second(const tt::data::TensorDataset& data, int steps, Callbacks callbacks) {
  tt::set_seed(0);
  digits::Classifier model(128);
  auto args = digits::default_training_arguments();
  args.max_steps = steps;
  args.eval_strategy = tt::IntervalStrategy::no;
  args.logging_strategy = tt::IntervalStrategy::no;
  args.save_strategy = tt::SaveStrategy::no;
  args.load_best_model_at_end = false;
  tt::Trainer<bench::SilentLogger, tt::NoCheckpoint> trainer(model, args, data, tt::data::NoDataset{},
                                                             tt::loss::cross_entropy, tt::NoMetrics{}, callbacks);
  const auto start = std::chrono::steady_clock::now();
  trainer.train();
  return steps / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<CallbackBenchArguments>(argc, argv);
  const auto data = digits::load_digits(options.data);
  const auto none = [&] { return steps_per_second(data, options.steps, tt::callbacks()); };
  const auto eight = [&] {
    return steps_per_second(data, options.steps,
                            tt::callbacks(TrainBeginEnd<0>{}, TrainBeginEnd<1>{}, TrainBeginEnd<2>{}, TrainBeginEnd<3>{},
                                          TrainBeginEnd<4>{}, TrainBeginEnd<5>{}, TrainBeginEnd<6>{},
                                          TrainBeginEnd<7>{}));
  };
  const auto runtime = [&] { return steps_per_second(data, options.steps, tt::callbacks(tt::RuntimeCallbacks{})); };
  const auto step_hook = [&] { return steps_per_second(data, options.steps, tt::callbacks(CountSteps{})); };
  none();  // warm up

  std::vector<double> base, with_eight, with_runtime, with_step_hook, eight_ratio, runtime_ratio, step_ratio;
  for (int round = 0; round < options.rounds; ++round) {
    base.push_back(none());
    with_eight.push_back(eight());
    with_runtime.push_back(runtime());
    with_step_hook.push_back(step_hook());
    eight_ratio.push_back(with_eight.back() / base.back());
    runtime_ratio.push_back(with_runtime.back() / base.back());
    step_ratio.push_back(with_step_hook.back() / base.back());
  }
  fmt::print("digits MLP, batch 32, {} steps x {} rounds, medians\n", options.steps, options.rounds);
  fmt::print("| callbacks                                   | steps/s | / no callbacks |\n");
  fmt::print("|---------------------------------------------|---------|----------------|\n");
  fmt::print("| none                                        | {:7.0f} |                |\n", bench::median(base));
  fmt::print("| 8 without step hooks (train begin/end only) | {:7.0f} | {:14.3f} |\n", bench::median(with_eight),
             bench::median(eight_ratio));
  fmt::print("| RuntimeCallbacks, empty (the opt-in list)   | {:7.0f} | {:14.3f} |\n", bench::median(with_runtime),
             bench::median(runtime_ratio));
  fmt::print("| 1 with on_step_end (counts steps)           | {:7.0f} | {:14.3f} |\n",
             bench::median(with_step_hook), bench::median(step_ratio));
}
