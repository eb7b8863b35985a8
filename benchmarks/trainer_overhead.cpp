// Trainer overhead: the digits classifier trained by Trainer<> and by a hand-written LibTorch
// loop doing the same work, alternated in one run; prints steps/s of each and their ratios.
//
//   bench_trainer_overhead [--data digits.csv.gz] [--steps 2000] [--rounds 5]
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>

#include <torchtrain/torchtrain.hpp>

#include "digits/digits.hpp"

#include "support.hpp"

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
  args.save_strategy = tt::SaveStrategy::no;
  args.load_best_model_at_end = false;
  return args;
}

double trainer_steps_per_second(const tt::data::TensorDataset& data, int steps) {
  tt::set_seed(0);
  digits::Classifier model(128);
  tt::Trainer<bench::SilentLogger, tt::NoCheckpoint> trainer(model, training_arguments(steps), data, tt::data::NoDataset{},
                                         tt::loss::cross_entropy);
  const auto start = Clock::now();
  trainer.train();
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

// How the hand-written loop clips and clears gradients: as LibTorch's API invites
// (clip_grad_norm_, which reads the norm on the host, and zero_grad, which fills zeros),
// or with the calls the trainer makes (norm kept on the device, gradients set to none,
// the parameter list built once).
// The second isolates the cost of the trainer itself.
enum class Kernels { libtorch_defaults, trainers };

// What a user would write by hand for the same run: seeded order per epoch, AdamW with
// the same parameter groups, linear warmup schedule, clipping.
double hand_written_steps_per_second(const tt::data::TensorDataset& data, int steps, Kernels kernels) {
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
  const auto parameters = model->parameters();  // the trainer's calls include listing them once
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
      if (kernels == Kernels::libtorch_defaults) {
        torch::nn::utils::clip_grad_norm_(model->parameters(), args.max_grad_norm);
        optimizer.step();
        optimizer.zero_grad();
      } else {
        tt::optim::clip_grad_norm(parameters, args.max_grad_norm);
        optimizer.step();
        tt::optim::zero_grad_set_to_none(optimizer);
      }
    }
  }
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<BenchmarkArguments>(argc, argv);
  auto data = digits::load_digits(options.data);
  trainer_steps_per_second(data, options.steps / 10);  // warm up allocator and threads
  hand_written_steps_per_second(data, options.steps / 10, Kernels::libtorch_defaults);

  // Rounds alternate the three loops; each round's runs are adjacent in time, so the
  // median of per-round ratios is the figure least moved by other load on the machine.
  std::vector<double> trainer, typical, same_kernels, ratio_typical, ratio_same;
  for (int round = 0; round < options.rounds; ++round) {
    trainer.push_back(trainer_steps_per_second(data, options.steps));
    typical.push_back(hand_written_steps_per_second(data, options.steps, Kernels::libtorch_defaults));
    same_kernels.push_back(hand_written_steps_per_second(data, options.steps, Kernels::trainers));
    ratio_typical.push_back(trainer.back() / typical.back());
    ratio_same.push_back(trainer.back() / same_kernels.back());
  }
  fmt::print("digits MLP, batch 32, {} steps x {} rounds, medians, {} LibTorch threads\n", options.steps,
             options.rounds, torch::get_num_threads());
  fmt::print("| loop                                   | steps/s | Trainer<> / loop |\n");
  fmt::print("|----------------------------------------|---------|------------------|\n");
  fmt::print("| Trainer<>                              | {:7.0f} |                  |\n", bench::median(trainer));
  fmt::print("| hand-written, LibTorch's usual calls   | {:7.0f} | {:16.3f} |\n", bench::median(typical),
             bench::median(ratio_typical));
  fmt::print("| hand-written, the trainer's calls      | {:7.0f} | {:16.3f} |\n", bench::median(same_kernels),
             bench::median(ratio_same));
  fmt::print("trainer overhead against the same calls written by hand: {:+.1f}%\n",
             (1 / bench::median(ratio_same) - 1) * 100);
}
