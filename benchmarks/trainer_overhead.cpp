// Trainer overhead: the digits classifier trained by Trainer<> and by a hand-written LibTorch
// loop doing the same work, alternated in one run; prints steps/s of each and their ratio.
//
//   bench_trainer_overhead [--data digits.csv.gz] [--steps 2000] [--rounds 5]
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>

#include "digits/digits.hpp"

namespace tt = torchtrain;

struct BenchmarkArguments {
  std::string data = digits::default_data_path;  // the digits data set
  int steps = 2000;                              // optimizer steps per timed run
  int rounds = 5;                                // timed runs of each loop, alternated
};
BOOST_HANA_ADAPT_STRUCT(BenchmarkArguments, data, steps, rounds);

namespace {

using Clock = std::chrono::steady_clock;

tt::TrainingArguments training_arguments(int steps) {
  auto args = digits::default_training_arguments();
  args.max_steps = steps;
  args.eval_strategy = tt::IntervalStrategy::no;
  args.logging_strategy = tt::IntervalStrategy::no;
  return args;
}

double trainer_steps_per_second(const tt::data::TensorDataset& data, int steps) {
  tt::set_seed(0);
  digits::Classifier model(128);
  tt::Trainer<tt::ConsoleLogger> trainer(model, training_arguments(steps), data, tt::data::NoDataset{},
                                         tt::loss::cross_entropy);
  const auto start = Clock::now();
  trainer.train();
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

// What a user would write by hand for the same run: seeded order per epoch, AdamW with
// the same parameter groups, linear warmup schedule, clipping.
double hand_written_steps_per_second(const tt::data::TensorDataset& data, int steps) {
  tt::set_seed(0);
  digits::Classifier model(128);
  const auto args = training_arguments(steps);
  const auto start = Clock::now();
  auto options = torch::optim::AdamWOptions(args.learning_rate).weight_decay(args.weight_decay);
  auto& m = *model;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector{m.hidden->weight, m.output->weight},
                      std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(std::vector{m.hidden->bias, m.norm->weight, m.norm->bias, m.output->bias},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(0)));
  torch::optim::AdamW optimizer(std::move(groups), options);
  const int batch_size = args.per_device_train_batch_size;
  const auto batches = (data.size() + batch_size - 1) / batch_size;
  const int warmup = static_cast<int>(std::ceil(args.warmup_ratio * steps));
  model->train();
  for (int step = 0, epoch = 0; step < steps; ++epoch) {
    auto order = torch::randperm(data.size(), at::detail::createCPUGenerator(args.seed + epoch), torch::kLong);
    for (std::int64_t b = 0; b < batches && step < steps; ++b, ++step) {
      const double factor = step < warmup ? static_cast<double>(step) / warmup
                                          : static_cast<double>(steps - step) / (steps - warmup);
      for (auto& group : optimizer.param_groups()) group.options().set_lr(args.learning_rate * factor);
      auto indices = order.slice(0, b * batch_size, (b + 1) * batch_size);
      auto loss = torch::nn::functional::cross_entropy(model(data.inputs().index_select(0, indices)),
                                                       data.labels().index_select(0, indices));
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), args.max_grad_norm);
      optimizer.step();
      optimizer.zero_grad();
    }
  }
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<BenchmarkArguments>(argc, argv);
  auto data = digits::load_digits(options.data);
  trainer_steps_per_second(data, options.steps / 10);  // warm up allocator and threads
  hand_written_steps_per_second(data, options.steps / 10);

  std::vector<double> trainer, hand_written;
  for (int round = 0; round < options.rounds; ++round) {
    trainer.push_back(trainer_steps_per_second(data, options.steps));
    hand_written.push_back(hand_written_steps_per_second(data, options.steps));
  }
  // Each round's two runs are adjacent in time, so the median of the per-round ratios is
  // the figure least moved by other load on the machine.
  std::vector<double> ratios;
  for (int round = 0; round < options.rounds; ++round) ratios.push_back(trainer[round] / hand_written[round]);
  const double ours = median(trainer), theirs = median(hand_written), ratio = median(ratios);
  fmt::print("digits MLP, batch 32, {} steps x {} rounds, median, {} threads\n", options.steps,
             options.rounds, torch::get_num_threads());
  fmt::print("| loop               | steps/s |\n|--------------------|---------|\n");
  fmt::print("| hand-written       | {:7.0f} |\n| Trainer<>          | {:7.0f} |\n", theirs, ours);
  fmt::print("trainer / hand-written = {:.3f} (median of per-round ratios; overhead {:+.1f}%)\n", ratio,
             (1 / ratio - 1) * 100);
}
