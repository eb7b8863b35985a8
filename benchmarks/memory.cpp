// Peak memory of training, side by side in one run: gradient checkpointing off and on, and
// Accum<4> with micro-batches of 8 against batches of 32.
//
//   bench_memory [--blocks 8] [--width 256] [--sequence 128] [--steps 3]
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "peak_memory.hpp"

#include "support.hpp"

namespace tt = torchtrain;

struct MemoryArguments {
  int blocks = 8;       // residual blocks, each wrapped in a Checkpoint
  int width = 256;      // features per position
  int sequence = 128;   // positions per sample
  int steps = 3;        // optimizer steps per run
};
BOOST_HANA_ADAPT_STRUCT(MemoryArguments, blocks, width, sequence, steps);

namespace {

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(int width)
      : up(register_module("up", torch::nn::Linear(width, 2 * width))),
        down(register_module("down", torch::nn::Linear(2 * width, width))) {}
  torch::Tensor forward(const torch::Tensor& x) { return x + down(torch::gelu(up(x))); }
  torch::nn::Linear up, down;
};
TORCH_MODULE(Block);

// Classifies every position of a sequence: activations grow with batch x sequence x width.
struct DeepImpl : torch::nn::Module {
  explicit DeepImpl(const MemoryArguments& shape) : head(register_module("head", torch::nn::Linear(shape.width, 10))) {
    for (int i = 0; i < shape.blocks; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), tt::nn::Checkpoint(Block(shape.width))));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = x;
    for (auto& block : blocks) h = block(h);
    return head(h);
  }
  std::vector<tt::nn::Checkpoint> blocks;
  torch::nn::Linear head;
};
TORCH_MODULE(Deep);

// Peak bytes above what was allocated before the run (the data set).
template <class... Policies>
double peak_megabytes(bench::PeakMemory& memory, const MemoryArguments& shape, const tt::data::TensorDataset& data,
                      int batch_size, bool checkpointing) {
  tt::set_seed(0);
  memory.reset();
  const auto before = memory.current_bytes();
  {
    Deep model(shape);
    tt::Trainer<bench::SilentLogger, tt::NoCheckpoint, Policies...> trainer(
        model, {.max_steps = shape.steps, .per_device_train_batch_size = batch_size, .gradient_checkpointing = checkpointing},
        data, tt::data::NoDataset{}, tt::loss::cross_entropy);
    trainer.train();
  }
  return static_cast<double>(memory.peak_bytes() - before) / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  auto [shape] = tt::parse_args<MemoryArguments>(argc, argv);
  bench::PeakMemory memory;
  torch::manual_seed(0);
  tt::data::TensorDataset data(torch::randn({32 * shape.steps, shape.sequence, shape.width}),
                               torch::randint(0, 10, {32 * shape.steps, shape.sequence}));

  const double plain = peak_megabytes(memory, shape, data, 32, false);
  const double checkpointed = peak_megabytes(memory, shape, data, 32, true);
  const double full_batch = plain;
  const double accumulated = peak_megabytes<tt::Accum<4>>(memory, shape, data, 8, false);

  fmt::print("{} residual blocks, width {}, sequences of {}, {} steps; peak CPU memory allocated by LibTorch\n",
             shape.blocks, shape.width, shape.sequence, shape.steps);
  fmt::print("| run                                  | peak MiB | ratio |\n");
  fmt::print("|--------------------------------------|----------|-------|\n");
  fmt::print("| batch 32                             | {:8.1f} | 1.000 |\n", plain);
  fmt::print("| batch 32, gradient checkpointing     | {:8.1f} | {:.3f} |\n", checkpointed, checkpointed / plain);
  fmt::print("| Accum<4> x micro-batch 8             | {:8.1f} | {:.3f} |\n", accumulated, accumulated / full_batch);
}
