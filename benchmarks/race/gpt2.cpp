// The race's GPT-2 small workload: the gpt example's model (GPT-2 small's shape by default,
// weights tied as in transformers' GPT2LMHeadModel)
// trained on random tokens in bfloat16 with fused AdamW where LibTorch has it, by
// torchtrain's Trainer<BF16> or by a hand-written LibTorch loop (--contestant); prints one
// RACE line with its steps/s, tokens per step and model FLOPs per token. benchmarks/race/race.sh
// runs it for each contestant, and python_trainer.py for the Python Trainer, with the same
// settings, and prints the table.
//
//   race_gpt2 --contestant torchtrain|libtorch [--layers 12] [--hidden 768] [--heads 12]
//             [--vocab_size 50304] [--sequence_length 1024] [--batch_size 8]
//             [--gradient_accumulation_steps 4] [--steps 20] [--warmup_steps 3] [--bf16 true]
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "gpt/model.hpp"
#include "race/race.hpp"
#include "support.hpp"

namespace tt = torchtrain;

struct Gpt2Arguments {
  int layers = 12;
  int hidden = 768;
  int heads = 12;
  int vocab_size = 50304;  // GPT-2's 50257, padded to a multiple of 64 as nanoGPT does
  int sequence_length = 1024;
  int batch_size = 8;
  int gradient_accumulation_steps = 4;
  bool bf16 = true;
  double learning_rate = 1e-4;
};
TORCHTRAIN_REFLECT(Gpt2Arguments, layers, hidden, heads, vocab_size, sequence_length,
                   (batch_size, "sequences per micro-batch"), gradient_accumulation_steps, bf16, learning_rate);

namespace {

gpt::GptConfig config_of(const Gpt2Arguments& options) {
  return {.vocab_size = options.vocab_size, .context = options.sequence_length, .layers = options.layers,
          .heads = options.heads, .hidden = options.hidden, .tied_embeddings = true};
}

// Training FLOPs per token as PaLM's appendix B counts them (and nanoGPT's estimate_mfu):
// 6 per parameter that takes part in a matrix product (all but the position embedding; the
// token embedding counts as the output head it is tied to), plus 12 * layers * hidden *
// sequence length for attention.
double flops_per_token(gpt::Gpt& model, const Gpt2Arguments& options) {
  std::int64_t matmul_parameters = 0;
  for (const auto& parameter : model->parameters()) matmul_parameters += parameter.numel();
  matmul_parameters -= model->position_embedding->weight.numel();
  if (!model->config.tied_embeddings) matmul_parameters -= model->token_embedding->weight.numel();
  return 6.0 * static_cast<double>(matmul_parameters) +
         12.0 * options.layers * options.hidden * static_cast<double>(options.sequence_length);
}

// Random tokens, enough for every step to see new sequences: no network, no tokenizer.
torch::Tensor random_tokens(const race::RaceArguments& run, const Gpt2Arguments& options) {
  const std::int64_t sequences = static_cast<std::int64_t>(options.batch_size) * options.gradient_accumulation_steps *
                                 (run.warmup_steps + run.steps);
  return torch::randint(options.vocab_size, {sequences, options.sequence_length}, torch::kLong);
}

race::Result train_with_torchtrain(const race::RaceArguments& run, const Gpt2Arguments& options) {
  auto args = race::training_arguments(run, options.batch_size, options.learning_rate);
  args.gradient_accumulation_steps = options.gradient_accumulation_steps;
  args.bf16 = options.bf16;
  tt::set_seed(run.seed);
  auto tokens = random_tokens(run, options);
  gpt::Gpt model(config_of(options));
  const auto device = race::pick_device(run.use_cpu);
  race::Timing timing;
  tt::with_precision(args, [&]<class Precision>(Precision) {
    tt::Trainer<Precision, bench::SilentLogger, tt::NoCheckpoint> trainer(
        model, args, tt::data::TensorDataset(tokens, tokens), tt::data::NoDataset{}, tt::loss::causal_lm_cross_entropy,
        tt::NoMetrics{}, tt::callbacks(race::StepTimer{run.warmup_steps, device, &timing}));
    trainer.train();
  });
  return {.workload = "gpt2", .contestant = "torchtrain", .optimizer = race::torchtrain_optimizer_name(),
          .device = device.str(), .timed_steps = run.steps, .seconds = timing.seconds(),
          .tokens_per_step = static_cast<double>(options.batch_size) * options.gradient_accumulation_steps *
                             options.sequence_length,
          .flops_per_token = flops_per_token(model, options)};
}

// What a user writes without torchtrain: autocast around forward and loss, backward per
// micro-batch with the loss divided by the accumulation steps, clip to 1, AdamW, gradients
// set to none. Sequences are taken in order (the data are random already).
race::Result train_by_hand(const race::RaceArguments& run, const Gpt2Arguments& options) {
  torch::manual_seed(run.seed);
  auto tokens = random_tokens(run, options);
  gpt::Gpt model(config_of(options));
  const auto device = race::pick_device(run.use_cpu);
  model->to(device);
  model->train();
  const auto parameters = model->parameters();
  race::HandWrittenAdamW optimizer(parameters, options.learning_rate, /*weight_decay=*/0.0);
  const int micro_batches = options.gradient_accumulation_steps;
  race::Timing timing;
  for (int step = 0, sequence = 0; step < run.warmup_steps + run.steps; ++step) {
    if (step == run.warmup_steps) timing.start = race::finished_now(device);
    for (int micro = 0; micro < micro_batches; ++micro, sequence += options.batch_size) {
      auto batch = tokens.slice(0, sequence, sequence + options.batch_size);
      batch = device.is_cuda() ? batch.pin_memory().to(device, /*non_blocking=*/true) : batch;
      torch::Tensor loss;
      {
        std::optional<tt::detail::AutocastScope> autocast;
        if (options.bf16) autocast.emplace(device.type(), torch::kBFloat16);
        auto logits = model->forward(batch);
        // The next token's label at each position, -100 (ignored) at the last one: as
        // transformers' ForCausalLMLoss, the labels shift, so the logits are not copied.
        auto labels = torch::constant_pad_nd(batch.slice(1, 1), {0, 1}, -100);
        loss = torch::nn::functional::cross_entropy(logits.flatten(0, 1), labels.flatten());
      }
      (loss / micro_batches).backward();
    }
    race::clip_gradients(parameters, 1.0);
    optimizer.step();
    optimizer.zero_grad();
  }
  timing.end = race::finished_now(device);
  return {.workload = "gpt2", .contestant = "libtorch", .optimizer = optimizer.name(), .device = device.str(),
          .timed_steps = run.steps, .seconds = timing.seconds(),
          .tokens_per_step = static_cast<double>(options.batch_size) * micro_batches * options.sequence_length,
          .flops_per_token = flops_per_token(model, options)};
}

}  // namespace

int main(int argc, char** argv) {
  return race::run_contestant("race_gpt2", argc, argv, race::RaceArguments{.steps = 20, .warmup_steps = 3},
                              Gpt2Arguments{}, train_with_torchtrain, train_by_hand);
}
