// The race's small workload, where the cost of each step around the kernels decides: an MLP
// of the digits example's size (64 inputs, a hidden layer of 128, 10 classes) on random
// inputs, batch 32, float32, trained by torchtrain's Trainer<>, by Trainer<CudaGraphs> (the
// whole step replayed as one CUDA graph; CUDA only) or by a hand-written LibTorch loop
// (--contestant); prints one RACE line with its steps/s. benchmarks/race/race.sh runs it for
// each contestant, and python_trainer.py for the Python ones, with the same settings, and
// prints the table.
//
//   race_mlp --contestant torchtrain|torchtrain_cuda_graphs|libtorch [--inputs 64] [--hidden 128] [--hidden_layers 1]
//            [--classes 10] [--batch_size 32] [--steps 2000] [--warmup_steps 200]
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "race/race.hpp"
#include "support.hpp"

namespace tt = torchtrain;

struct MlpArguments {
  int inputs = 64;
  int hidden = 128;
  int hidden_layers = 1;
  int classes = 10;
  int batch_size = 32;
  int samples = 3200;  // the training set: random inputs and labels
  double learning_rate = 1e-3;
};
TORCHTRAIN_REFLECT(MlpArguments, inputs, hidden, hidden_layers, classes, batch_size,
                   (samples, "random training samples"), learning_rate);

namespace {

// `hidden_layers` layers of `hidden` units with ReLU, then the classes; the same model as
// python_trainer.py's Mlp.
struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(const MlpArguments& options) {
    for (int layer = 0; layer < options.hidden_layers; ++layer)
      hidden->push_back(torch::nn::Linear(layer == 0 ? options.inputs : options.hidden, options.hidden));
    register_module("hidden", hidden);
    output = register_module(
        "output", torch::nn::Linear(options.hidden_layers > 0 ? options.hidden : options.inputs, options.classes));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& layer : *hidden) x = torch::relu(layer->as<torch::nn::Linear>()->forward(x));
    return output(x);
  }
  torch::nn::ModuleList hidden;
  torch::nn::Linear output{nullptr};
};
TORCH_MODULE(Mlp);

tt::data::TensorDataset random_data(const MlpArguments& options) {
  return {torch::randn({options.samples, options.inputs}), torch::randint(options.classes, {options.samples}, torch::kLong)};
}

// Trainer<Policies..., SilentLogger, NoCheckpoint>: the torchtrain contestants.
template <class... Policies>
race::Result train_with_torchtrain(const race::RaceArguments& run, const MlpArguments& options, const char* contestant) {
  const auto args = race::training_arguments(run, options.batch_size, options.learning_rate);
  tt::set_seed(run.seed);
  auto data = random_data(options);
  Mlp model(options);
  const auto device = race::pick_device(run.use_cpu);
  race::Timing timing;
  tt::Trainer<Policies..., bench::SilentLogger, tt::NoCheckpoint> trainer(
      model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy, tt::NoMetrics{},
      tt::callbacks(race::StepTimer{run.warmup_steps, device, &timing}));
  trainer.train();
  return {.workload = "mlp", .contestant = contestant, .optimizer = race::torchtrain_optimizer_name(),
          .device = device.str(), .timed_steps = run.steps, .seconds = timing.seconds()};
}

// What a user writes without torchtrain: a seeded shuffle per epoch, forward, loss,
// backward, clip to 1, AdamW, gradients set to none.
race::Result train_by_hand(const race::RaceArguments& run, const MlpArguments& options) {
  torch::manual_seed(run.seed);
  auto data = random_data(options);
  Mlp model(options);
  const auto device = race::pick_device(run.use_cpu);
  model->to(device);
  model->train();
  const auto parameters = model->parameters();
  race::HandWrittenAdamW optimizer(parameters, options.learning_rate, /*weight_decay=*/0.0);
  const std::int64_t batches = options.samples / options.batch_size;
  race::Timing timing;
  torch::Tensor order;
  for (int step = 0; step < run.warmup_steps + run.steps; ++step) {
    if (step == run.warmup_steps) timing.start = race::finished_now(device);
    const auto b = step % batches;
    if (b == 0) order = torch::randperm(options.samples, torch::kLong);
    auto indices = order.slice(0, b * options.batch_size, (b + 1) * options.batch_size);
    auto inputs = data.inputs().index_select(0, indices), labels = data.labels().index_select(0, indices);
    if (device.is_cuda()) {
      inputs = inputs.pin_memory().to(device, /*non_blocking=*/true);
      labels = labels.pin_memory().to(device, /*non_blocking=*/true);
    }
    torch::nn::functional::cross_entropy(model->forward(inputs), labels).backward();
    race::clip_gradients(parameters, 1.0);
    optimizer.step();
    optimizer.zero_grad();
  }
  timing.end = race::finished_now(device);
  return {.workload = "mlp", .contestant = "libtorch", .optimizer = optimizer.name(), .device = device.str(),
          .timed_steps = run.steps, .seconds = timing.seconds()};
}

}  // namespace

int main(int argc, char** argv) {
  return race::run_contestant(
      "race_mlp", argc, argv, race::RaceArguments{.steps = 2000, .warmup_steps = 200}, MlpArguments{},
      [](const auto& run, const auto& options) { return train_with_torchtrain<>(run, options, "torchtrain"); },
      train_by_hand,
      [](const auto& run, const auto& options) {
        return train_with_torchtrain<tt::CudaGraphs>(run, options, "torchtrain_cuda_graphs");
      });
}
