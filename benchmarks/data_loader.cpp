// Data loader: batches/s of tt::data::DataLoader with 0, 1 and 2 workers on a text
// tokenized by sentencepiece, next to the steps/s of the Trainer training the `gpt`
// example's model on the same batches; the ratio says whether the loader keeps the step fed.
//
//   bench_data_loader [--text /usr/share/common-licenses/GPL-3] [--epochs 3] [--rounds 5]
//
// The dataset is what `gpt` trains on: the text's sentencepiece tokens in blocks of 64
// (tt::data::text_blocks).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "gpt/model.hpp"
#include "support.hpp"

namespace tt = torchtrain;

struct BenchmarkArguments {
  std::string text = "/usr/share/common-licenses/GPL-3";  // the corpus
  int epochs = 3;                                         // epochs per timed loader run
  int steps = 30;                                         // optimizer steps per timed trainer run
  int rounds = 5;                                         // timed runs of each, alternated
  int batch_size = 32;
  int block_size = 64;
};
TORCHTRAIN_REFLECT(BenchmarkArguments, text, epochs, steps, rounds, batch_size, block_size);

namespace {

using Clock = std::chrono::steady_clock;

template <class Dataset>
double loader_batches_per_second(Dataset& dataset, int workers, int epochs, int batch_size) {
  std::optional<int> prefetch;
  if (workers > 0) prefetch = 2;
  tt::data::DataLoader loader(dataset, {.batch_size = batch_size, .num_workers = workers, .prefetch_factor = prefetch});
  const tt::data::RandomSampler sampler{0};
  std::int64_t batches = 0;
  const auto start = Clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch(sampler.order(tt::data::dataset_size(dataset), epoch));
    for (; loader.has_next(); ++batches) loader.next();
  }
  return static_cast<double>(batches) / std::chrono::duration<double>(Clock::now() - start).count();
}

template <class Dataset>
double trainer_steps_per_second(const Dataset& dataset, int steps, int batch_size, std::int64_t vocab_size,
                                std::int64_t block_size) {
  tt::set_seed(0);
  gpt::Gpt model(gpt::GptConfig{.vocab_size = vocab_size, .context = block_size});
  tt::Trainer<bench::SilentLogger, tt::NoCheckpoint> trainer(
      model, {.max_steps = steps, .per_device_train_batch_size = batch_size, .logging_strategy = tt::IntervalStrategy::no,
              .save_strategy = tt::SaveStrategy::no},
      dataset, tt::data::NoDataset{}, tt::loss::causal_lm_cross_entropy);
  const auto start = Clock::now();
  trainer.train();
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<BenchmarkArguments>(argc, argv);
  const auto folder = std::filesystem::temp_directory_path() / "torchtrain_bench_data_loader";
  std::filesystem::create_directories(folder);
  const auto tokenizer = tt::data::SentencePieceTokenizer::train(options.text, folder / "spm", {.vocab_size = 1000});
  auto dataset = tt::data::text_blocks(options.text, tokenizer, options.block_size);
  std::vector<double> loader[3], trainer;
  for (int round = 0; round < options.rounds; ++round) {
    for (int workers = 0; workers < 3; ++workers)
      loader[workers].push_back(loader_batches_per_second(dataset, workers, options.epochs, options.batch_size));
    trainer.push_back(trainer_steps_per_second(dataset, options.steps, options.batch_size, tokenizer.vocab_size(),
                                              options.block_size));
  }
  const double steps = bench::median(trainer);
  fmt::print("{} blocks of {} sentencepiece tokens from {}, batch {}, medians of {} rounds, {} LibTorch threads\n",
             tt::data::dataset_size(dataset), options.block_size, options.text, options.batch_size, options.rounds,
             torch::get_num_threads());
  fmt::print("| what                              | per second | loader batches / trainer steps |\n");
  fmt::print("|-----------------------------------|------------|--------------------------------|\n");
  fmt::print("| Trainer steps (gpt model)         | {:10.1f} |                                |\n", steps);
  for (int workers = 0; workers < 3; ++workers)
    fmt::print("| DataLoader batches, {} worker{}     | {:10.1f} | {:30.1f} |\n", workers, workers == 1 ? " " : "s",
               bench::median(loader[workers]), bench::median(loader[workers]) / steps);
}
