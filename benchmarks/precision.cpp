// FP32 against BF16 training speed on this machine, alternated in one run.
//
//   bench_precision [--width 1024] [--batch 256] [--steps 30] [--rounds 5]
#include <algorithm>
#include <chrono>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "support.hpp"

namespace tt = torchtrain;

struct PrecisionArguments {
  int width = 1024;  // hidden width of the MLP
  int batch = 256;   // samples per step
  int steps = 30;    // optimizer steps per timed run
  int rounds = 5;    // timed runs of each precision, alternated
};
BOOST_HANA_ADAPT_STRUCT(PrecisionArguments, width, batch, steps, rounds);

namespace {

template <class Precision>
double steps_per_second(const PrecisionArguments& shape, const tt::data::TensorDataset& data) {
  tt::set_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(shape.width, shape.width), torch::nn::GELU(),
                              torch::nn::Linear(shape.width, shape.width), torch::nn::GELU(),
                              torch::nn::Linear(shape.width, 10));
  tt::Trainer<bench::SilentLogger, tt::NoCheckpoint, Precision> trainer(
      model, {.max_steps = shape.steps, .per_device_train_batch_size = shape.batch},
      data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  const auto start = std::chrono::steady_clock::now();
  trainer.train();
  return shape.steps / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto [shape] = tt::parse_args<PrecisionArguments>(argc, argv);
  torch::manual_seed(0);
  tt::data::TensorDataset data(torch::randn({shape.batch * 4, shape.width}), torch::randint(0, 10, {shape.batch * 4}));
  steps_per_second<tt::BF16>(shape, data);  // warm-up
  std::vector<double> fp32, bf16, ratios;
  for (int round = 0; round < shape.rounds; ++round) {
    fp32.push_back(steps_per_second<tt::FP32>(shape, data));
    bf16.push_back(steps_per_second<tt::BF16>(shape, data));
    ratios.push_back(bf16.back() / fp32.back());
  }
  fmt::print("MLP {0}-{0}-{0}-10, batch {1}, {2} steps x {3} rounds, medians, CPU, {4} LibTorch threads\n",
             shape.width, shape.batch, shape.steps, shape.rounds, torch::get_num_threads());
  fmt::print("| precision | steps/s | BF16 / FP32 |\n|-----------|---------|-------------|\n");
  fmt::print("| FP32      | {:7.2f} |             |\n| BF16      | {:7.2f} | {:11.3f} |\n", bench::median(fp32), bench::median(bf16),
             bench::median(ratios));
}
