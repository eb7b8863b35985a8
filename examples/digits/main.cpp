// digits: trains a classifier of handwritten digits (the UCI data set Debian ships) with torchtrain.
//
//   digits [--data path] [--eval_fraction 0.1] [--hidden_size 128] [any TrainingArguments flag]
//
// Checkpoints go to output_dir/checkpoint-<step> (two kept, never deleting the best);
// `--resume_from_checkpoint true` (or a checkpoint folder) continues an interrupted run.
// At the end the best model is loaded and saved to output_dir as model.safetensors.
#include <cstdio>
#include <exception>

#include "digits.hpp"

int main(int argc, char** argv) try {
  namespace tt = torchtrain;
  auto [args, options] =
      tt::parse_args(argc, argv, digits::default_training_arguments(), digits::DigitsArguments{});
  digits::validate(options);
  tt::set_seed(args.seed);
  auto images = digits::load_digits(options.data);
  auto [train_set, eval_set] = images.split(1.0 - options.eval_fraction, args.seed);
  if (train_set.size() == 0 || eval_set.size() == 0)
    throw tt::ArgumentError(fmt::format("--eval_fraction {} of the {} images of {} leaves no image for {}; {}",
                                        options.eval_fraction, images.size(), options.data,
                                        train_set.size() == 0 ? "training" : "evaluation",
                                        images.size() < 2 ? "give a file of more images" : "choose another fraction"));
  digits::Classifier model(options.hidden_size);

  // --bf16 or --fp16 on the command line pick the precision, as in Python.
  tt::Trainer<tt::PrecisionFromArguments> trainer(model, args, train_set, eval_set, tt::loss::cross_entropy,
                                                  tt::metrics::accuracy);
  auto result = trainer.train(args.resume_from_checkpoint);
  trainer.save_model();
  trainer.log_metrics("train", result.metrics);
  trainer.save_metrics("train", result.metrics);
  auto metrics = trainer.evaluate();
  trainer.log_metrics("eval", metrics);
  trainer.save_metrics("eval", metrics);
  trainer.save_state();
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "digits: {}\n", error.what());
  return 1;
}
