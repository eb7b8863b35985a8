// The digits example's parts: its arguments, the UCI handwritten-digits data, and the classifier.
#pragma once

#include <string>

#include <fmt/format.h>
#include <torch/torch.h>
// The parts of torchtrain this program uses (torchtrain.hpp would include every part, and
// cost each compile about a second more: docs/benchmarks.md, "Compile time").
#include <torchtrain/arguments/parse_args.hpp>
#include <torchtrain/arguments/reflect.hpp>
#include <torchtrain/data/csv.hpp>
#include <torchtrain/data/tensor_dataset.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/metrics/accuracy.hpp>
#include <torchtrain/policies/precision/precision_from_arguments.hpp>
#include <torchtrain/trainer/set_seed.hpp>
#include <torchtrain/trainer/trainer.hpp>

namespace digits {

namespace tt = torchtrain;

/// Where Debian's python3-sklearn package installs the data set (1797 images of 8x8
/// pixels with values 0..16, then the digit, per line).
inline const std::string default_data_path =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

/// The example's own flags, parsed beside TrainingArguments.
struct DigitsArguments {
  std::string data = default_data_path;  // digits CSV (plain or .gz): 64 pixels, then the label
  double eval_fraction = 0.1;            // share of the images held out for evaluation
  int hidden_size = 128;                 // width of the hidden layer
};

/// Throws tt::ArgumentError, naming the flag, for options the example cannot run with.
inline void validate(const DigitsArguments& options) {
  if (options.data.empty()) throw tt::ArgumentError("--data is empty; give the path of a digits CSV file");
  if (options.hidden_size < 1)
    throw tt::ArgumentError(fmt::format("--hidden_size must be at least 1, got {}", options.hidden_size));
  if (!(options.eval_fraction > 0 && options.eval_fraction < 1))
    throw tt::ArgumentError(fmt::format(
        "--eval_fraction must be between 0 and 1 (both excluded: each part needs images), got {}",
        options.eval_fraction));
}

/// The example's training defaults; any of them can be changed with --field_name value.
inline tt::TrainingArguments default_training_arguments() {
  return {.output_dir = "digits_output",
          .num_train_epochs = 20,
          .per_device_train_batch_size = 32,
          .per_device_eval_batch_size = 256,
          .learning_rate = 2e-3,
          .weight_decay = 0.01,
          .warmup_ratio = 0.05,
          .logging_steps = 100,
          .eval_strategy = tt::IntervalStrategy::steps,
          .eval_steps = 255,
          .save_steps = 255,  // on the evaluations, so that the best one can be loaded at the end
          .save_total_limit = 2,
          .load_best_model_at_end = true,
          .metric_for_best_model = "accuracy"};
}

/// Reads the data set: pixels scaled to [0, 1] as inputs, digits 0..9 as labels.
/// Throws tt::data::DataError naming the file (and line) when it is not that data set.
inline tt::data::TensorDataset load_digits(const std::string& path) {
  auto table = tt::data::read_numeric_csv(path).to_tensor();
  if (table.size(1) != 65)
    throw tt::data::DataError(fmt::format(
        "{}: expected 65 columns (64 pixels, then the digit), found {}", path, table.size(1)));
  auto labels = table.select(1, 64);
  if (labels.min().item<float>() < 0 || labels.max().item<float>() > 9 ||
      !labels.equal(labels.round()))
    throw tt::data::DataError(fmt::format("{}: the last column must hold digits 0 to 9", path));
  return {table.slice(1, 0, 64) / 16.0, labels.to(torch::kLong)};
}

/// A two-layer perceptron: 64 pixels -> hidden (ReLU, LayerNorm, dropout) -> 10 logits.
struct ClassifierImpl : torch::nn::Module {
  explicit ClassifierImpl(int hidden_size)
      : hidden(register_module("hidden", torch::nn::Linear(64, hidden_size))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_size})))),
        dropout(register_module("dropout", torch::nn::Dropout(0.1))),
        output(register_module("output", torch::nn::Linear(hidden_size, 10))) {}

  torch::Tensor forward(const torch::Tensor& pixels) {
    return output(dropout(norm(torch::relu(hidden(pixels)))));
  }

  torch::nn::Linear hidden;
  torch::nn::LayerNorm norm;
  torch::nn::Dropout dropout;
  torch::nn::Linear output;
};
TORCH_MODULE(Classifier);

}  // namespace digits

TORCHTRAIN_REFLECT(digits::DigitsArguments,
                   (data, "digits CSV (plain or .gz): 64 pixels, then the label"),
                   (eval_fraction, "share of the images held out for evaluation"),
                   (hidden_size, "width of the hidden layer"));
