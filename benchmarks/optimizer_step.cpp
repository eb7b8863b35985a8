// One AdamW step over about 200 parameter tensors: LibTorch's per-parameter AdamW against
// the multi-tensor step (optim::MultiTensorAdamW), alternated in one run, with the ratio.
//
//   bench_optimizer_step [--layers 100] [--width 64] [--steps 200] [--rounds 7]
#include <chrono>
#include <memory>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "support.hpp"

namespace tt = torchtrain;

struct StepArguments {
  int layers = 100;  // Linear layers: a weight and a bias each
  int width = 64;    // features in and out of each layer
  int steps = 200;   // optimizer steps per timed run
  int rounds = 7;    // timed runs of each optimizer, alternated
};
BOOST_HANA_ADAPT_STRUCT(StepArguments, layers, width, steps, rounds);

namespace {

std::vector<torch::Tensor> parameters_with_gradients(const StepArguments& shape) {
  std::vector<torch::Tensor> parameters;
  for (int layer = 0; layer < shape.layers; ++layer) {
    torch::nn::Linear linear(shape.width, shape.width);
    for (auto& p : linear->parameters()) {
      p.mutable_grad() = torch::randn_like(p);
      parameters.push_back(p);
    }
  }
  return parameters;
}

template <class Optimizer>
double steps_per_second(const StepArguments& shape) {
  torch::manual_seed(0);
  auto parameters = parameters_with_gradients(shape);
  auto options = torch::optim::AdamWOptions(1e-3).weight_decay(0.01);
  Optimizer optimizer(std::vector{torch::optim::OptimizerParamGroup(parameters)}, options);
  optimizer.step();  // creates the moments
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < shape.steps; ++step) optimizer.step();
  return shape.steps / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto [shape] = tt::parse_args<StepArguments>(argc, argv);
  std::vector<double> per_parameter, multi_tensor, ratios;
  for (int round = 0; round < shape.rounds; ++round) {
    per_parameter.push_back(steps_per_second<torch::optim::AdamW>(shape));
    multi_tensor.push_back(steps_per_second<tt::optim::MultiTensorAdamW>(shape));
    ratios.push_back(multi_tensor.back() / per_parameter.back());
  }
  fmt::print("AdamW step over {} tensors ({} Linear {}x{}), {} steps x {} rounds, medians, LibTorch {}\n",
             2 * shape.layers, shape.layers, shape.width, shape.width, shape.steps, shape.rounds, TORCH_VERSION);
  fmt::print("| optimizer                            | steps/s | ratio |\n");
  fmt::print("|--------------------------------------|---------|-------|\n");
  fmt::print("| torch::optim::AdamW (per parameter)  | {:7.0f} | 1.000 |\n", bench::median(per_parameter));
  fmt::print("| optim::MultiTensorAdamW (_foreach)   | {:7.0f} | {:.3f} |\n", bench::median(multi_tensor),
             bench::median(ratios));
}
