// ddp: the digits example as a distributed run of Trainer<BF16, DDP, Accum<4>>, one process per rank.
//
//   torchtrain-launch --nproc_per_node 2 build/examples/ddp [--data path] [any TrainingArguments flag]
//   torchrun --standalone --nproc_per_node 2 --no_python build/examples/ddp ...   (the torch wheel's torchrun)
//
// Each rank trains on its shard of every batch (2 ranks x 4 micro-batches x 16 = 128
// samples per optimizer step); gradients are averaged over the ranks (Gloo on the CPU,
// NCCL on CUDA). Rank 0 alone logs and writes checkpoints; run on its own it is an
// ordinary run of world size 1.
#include <cstdio>
#include <exception>

#include <torchtrain/torchtrain.hpp>

#include "../digits/digits.hpp"

int main(int argc, char** argv) try {
  namespace tt = torchtrain;
  auto defaults = digits::default_training_arguments();
  defaults.output_dir = "ddp_output";
  defaults.per_device_train_batch_size = 16;
  defaults.learning_rate = 4e-3;
  defaults.num_train_epochs = 30;
  defaults.logging_steps = 20;
  defaults.eval_steps = defaults.save_steps = 65;
  auto [args, options] = tt::parse_args(argc, argv, defaults, digits::DigitsArguments{});
  tt::set_seed(args.seed);
  auto [train_set, eval_set] = digits::load_digits(options.data).split(1.0 - options.eval_fraction, args.seed);
  digits::Classifier model(options.hidden_size);

  tt::Trainer<tt::BF16, tt::DDP, tt::Accum<4>> trainer(model, args, train_set, eval_set, tt::loss::cross_entropy,
                                                       tt::metrics::accuracy);
  auto result = trainer.train(args.resume_from_checkpoint);
  trainer.save_model();  // rank 0 writes, every rank waits for it
  trainer.log_metrics("train", result.metrics);
  auto metrics = trainer.evaluate();  // every rank evaluates its shard; the metrics cover the whole set
  trainer.log_metrics("eval", metrics);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "ddp: %s\n", error.what());
  torchtrain::distributed::record_error(error.what());  // for torchrun's failure summary
  return 1;
}
