// Data loader: batches/s of tt::data::DataLoader with 0, 1 and 2 workers on a tokenized
// text, next to the steps/s of the Trainer training a small causal language model on the
// same batches; the ratio says whether the loader keeps the step fed.
//
//   bench_data_loader [--text /usr/share/common-licenses/GPL-3] [--epochs 3] [--rounds 5]
//
// Tokens are bytes (the sentencepiece tokenizer is not wired in yet); samples are the
// text's lines, padded per batch by DataCollatorForLanguageModeling (causal).
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "support.hpp"

namespace tt = torchtrain;

struct BenchmarkArguments {
  std::string text = "/usr/share/common-licenses/GPL-3";  // the corpus
  int epochs = 3;                                         // epochs per timed loader run
  int steps = 200;                                        // optimizer steps per timed trainer run
  int rounds = 5;                                         // timed runs of each, alternated
  int batch_size = 32;
};
TORCHTRAIN_REFLECT(BenchmarkArguments, text, epochs, steps, rounds, batch_size);

namespace {

using Clock = std::chrono::steady_clock;

// The non-blank lines of a text, each a sequence of byte tokens.
struct Lines {
  std::vector<torch::Tensor> lines;
  torch::data::Example<> get(std::size_t i) const { return {lines.at(i), {}}; }
  c10::optional<std::size_t> size() const { return lines.size(); }
};

Lines read_lines(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw tt::data::DataError(fmt::format("cannot open '{}'", path));
  Lines lines;
  for (std::string line; std::getline(file, line);)
    if (line.find_first_not_of(' ') != std::string::npos)
      lines.lines.push_back(torch::tensor(std::vector<std::int64_t>(line.begin(), line.end()), torch::kLong) & 255);
  return lines;
}

// Predicts the next byte from an embedding of the current one and a GRU over the line.
struct ByteModelImpl : torch::nn::Module {
  torch::nn::Embedding embedding = register_module("embedding", torch::nn::Embedding(256, 64));
  torch::nn::GRU gru = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(64, 128).batch_first(true)));
  torch::nn::Linear head = register_module("head", torch::nn::Linear(128, 256));
  torch::Tensor forward(const tt::data::TokenBatch& batch) {
    auto hidden = std::get<0>(gru(embedding(batch.input_ids)));
    return head(hidden).slice(1, 0, -1);  // position t predicts token t + 1
  }
};
TORCH_MODULE(ByteModel);

// Cross-entropy of the prediction for token t + 1 against it.
struct NextTokenLoss {
  torch::Tensor operator()(const torch::Tensor& logits, const tt::data::TokenBatch& batch) const {
    return torch::nn::functional::cross_entropy(
        logits.flatten(0, 1), batch.labels.slice(1, 1).flatten(),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(tt::loss::ignore_index));
  }
};

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
double trainer_steps_per_second(const Dataset& dataset, int steps, int batch_size) {
  tt::set_seed(0);
  ByteModel model;
  tt::Trainer<bench::SilentLogger, tt::NoCheckpoint> trainer(
      model, {.max_steps = steps, .per_device_train_batch_size = batch_size, .logging_strategy = tt::IntervalStrategy::no,
              .save_strategy = tt::SaveStrategy::no},
      dataset, tt::data::NoDataset{}, NextTokenLoss{});
  const auto start = Clock::now();
  trainer.train();
  return steps / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<BenchmarkArguments>(argc, argv);
  auto dataset = tt::data::collate(read_lines(options.text), tt::data::DataCollatorForLanguageModeling{.mlm = false});
  std::vector<double> loader[3], trainer;
  for (int round = 0; round < options.rounds; ++round) {
    for (int workers = 0; workers < 3; ++workers)
      loader[workers].push_back(loader_batches_per_second(dataset, workers, options.epochs, options.batch_size));
    trainer.push_back(trainer_steps_per_second(dataset, options.steps, options.batch_size));
  }
  const double steps = bench::median(trainer);
  fmt::print("{} lines of {}, byte tokens, batch {}, medians of {} rounds, {} LibTorch threads\n",
             tt::data::dataset_size(dataset), options.text, options.batch_size, options.rounds,
             torch::get_num_threads());
  fmt::print("| what                              | per second | loader batches / trainer steps |\n");
  fmt::print("|-----------------------------------|------------|--------------------------------|\n");
  fmt::print("| Trainer steps (GRU byte model)    | {:10.1f} |                                |\n", steps);
  for (int workers = 0; workers < 3; ++workers)
    fmt::print("| DataLoader batches, {} worker{}     | {:10.1f} | {:30.1f} |\n", workers, workers == 1 ? " " : "s",
               bench::median(loader[workers]), bench::median(loader[workers]) / steps);
}
