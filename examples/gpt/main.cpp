// gpt: a GPT-style language model trained on the licence texts that every Debian system
// ships (/usr/share/common-licenses), with a sentencepiece tokenizer trained on the same
// text: a small one by default, or GPT-2 small (`--model gpt2_small`: 12 layers, hidden 768,
// 12 heads, context 1024, vocabulary 50304, 124M parameters). `--bf16` trains it with
// Trainer<BF16>. It prints the eval perplexity before and after training (exp(eval_loss), as
// Python's run_clm.py reports it), fails unless training at least halved it, and ends with a
// sample.
//
//   gpt [--model small|gpt2_small] [--vocab_size 1000] [--block_size 64] [--layers 4]
//       [--hidden 128] [--heads 4] [--max_eval_samples N] [--prompt "This License"]
//       [any TrainingArguments flag]
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "gpt/model.hpp"

namespace tt = torchtrain;

struct GptArguments {
  std::vector<std::string> text_files = {
      "/usr/share/common-licenses/GPL-3",     "/usr/share/common-licenses/GPL-2",
      "/usr/share/common-licenses/LGPL-2.1",  "/usr/share/common-licenses/Apache-2.0",
      "/usr/share/common-licenses/MPL-2.0",   "/usr/share/common-licenses/GFDL-1.3"};
  std::string model = "small";
  int vocab_size = 1000;
  int block_size = 64;
  int layers = 4;
  int heads = 4;
  int hidden = 128;
  std::optional<int> max_eval_samples;
  bool require_halved_perplexity = true;
  std::string prompt = "This License";
  int sample_tokens = 40;
};
TORCHTRAIN_REFLECT(GptArguments, (text_files, "the training text, concatenated"),
                   (model, "small (shaped by --layers, --heads, --hidden) or gpt2_small (GPT-2 small, 124M parameters)"),
                   (vocab_size, "pieces of the sentencepiece tokenizer trained on the text"),
                   (block_size, "tokens per training sequence"), layers, heads, hidden,
                   (max_eval_samples, "evaluate on the first N evaluation blocks only (as run_clm.py's flag)"),
                   (require_halved_perplexity, "fail unless training at least halved the eval perplexity"),
                   (prompt, "the start of the sample generated at the end"), sample_tokens);

namespace {

// The text files, one after another, in `folder/corpus.txt`: what the tokenizer and the
// dataset read.
std::filesystem::path write_corpus(const std::vector<std::string>& files, const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  const auto corpus = folder / "corpus.txt";
  std::ofstream out(corpus, std::ios::binary);
  if (files.empty()) throw tt::ArgumentError("--text_files names no file; give at least one text file");
  for (const auto& file : files) {
    std::error_code error;
    if (std::filesystem::is_directory(file, error))
      throw tt::data::DataError(fmt::format("--text_files: '{}' is a folder; name the text files in it", file));
    std::ifstream in(file, std::ios::binary);
    if (!in) throw tt::data::DataError(fmt::format("cannot open '{}': no such file or not readable", file));
    if (in.peek() == std::char_traits<char>::eof())  // `out << rdbuf()` of nothing fails the output stream
      throw tt::data::DataError(fmt::format("--text_files: '{}' is empty; give a file of text", file));
    out << in.rdbuf() << '\n';
  }
  if (!out.flush())
    throw tt::data::DataError(fmt::format("cannot write '{}'; choose a writable --output_dir", corpus.string()));
  return corpus;
}

// Refuses, naming the flag, the options that cannot make a model or a run (before any work).
void validate(const GptArguments& options) {
  const auto at_least = [](const char* flag, long long value, long long least) {
    if (value < least) throw tt::ArgumentError(fmt::format("--{} must be at least {}, got {}", flag, least, value));
  };
  at_least("vocab_size", options.vocab_size, 1);
  at_least("block_size", options.block_size, 1);
  at_least("layers", options.layers, 1);
  at_least("heads", options.heads, 1);
  at_least("hidden", options.hidden, 1);
  at_least("sample_tokens", options.sample_tokens, 0);
  if (options.max_eval_samples) at_least("max_eval_samples", *options.max_eval_samples, 1);
  if (options.model == "small" && options.hidden % options.heads != 0)
    throw tt::ArgumentError(fmt::format("--heads {} does not divide --hidden {}: each head takes hidden / heads "
                                        "features; choose them so that it does",
                                        options.heads, options.hidden));
}

// The model --model names, for a tokenizer of `vocab_size` pieces (GPT-2 small's embedding
// has rows for 50304 tokens, of which the tokenizer uses the first vocab_size).
gpt::GptConfig model_config(const GptArguments& options, std::int64_t vocab_size) {
  if (options.model == "small")
    return {.vocab_size = vocab_size, .context = options.block_size, .layers = options.layers,
            .heads = options.heads, .hidden = options.hidden};
  if (options.model != "gpt2_small")
    throw tt::ArgumentError(fmt::format("--model is small or gpt2_small, not '{}'", options.model));
  auto config = gpt::GptConfig::gpt2_small();
  if (options.block_size > config.context)
    throw tt::ArgumentError(fmt::format("--block_size {} is longer than GPT-2 small's context of {} tokens",
                                        options.block_size, config.context));
  if (vocab_size > config.vocab_size)
    throw tt::ArgumentError(fmt::format("--vocab_size {} is larger than GPT-2 small's vocabulary of {}", vocab_size,
                                        config.vocab_size));
  return config;
}

}  // namespace

int main(int argc, char** argv) try {
  tt::TrainingArguments defaults{.output_dir = "gpt_output",
                                 .max_steps = 300,
                                 .per_device_train_batch_size = 32,
                                 .per_device_eval_batch_size = 64,
                                 .learning_rate = 1e-3,
                                 .weight_decay = 0.1,
                                 .lr_scheduler_type = tt::SchedulerType::cosine,
                                 .warmup_steps = 20,
                                 .logging_steps = 50,
                                 .eval_strategy = tt::IntervalStrategy::steps,
                                 .eval_steps = 100,
                                 .save_strategy = tt::SaveStrategy::no};
  auto [args, options] = tt::parse_args(argc, argv, defaults, GptArguments{});
  validate(options);
  model_config(options, options.vocab_size);  // a wrong --model or --block_size fails before any work

  const auto corpus = write_corpus(options.text_files, args.output_dir);
  const auto tokenizer = [&] {
    try {
      return tt::data::SentencePieceTokenizer::train(corpus, std::filesystem::path(args.output_dir) / "tokenizer",
                                                     {.vocab_size = options.vocab_size});
    } catch (const tt::data::DataError& error) {  // the corpus is --text_files, which the library cannot name
      throw tt::data::DataError(fmt::format("{} (the text of --text_files, with --vocab_size {})", error.what(),
                                            options.vocab_size));
    }
  }();
  auto [train_set, eval_set] = tt::data::text_blocks(corpus, tokenizer, options.block_size).split(0.9, args.seed);
  if (options.max_eval_samples && *options.max_eval_samples < eval_set.size())
    eval_set = tt::data::TensorDataset(eval_set.inputs().slice(0, 0, *options.max_eval_samples),
                                       eval_set.labels().slice(0, 0, *options.max_eval_samples));
  fmt::print("{} training and {} evaluation blocks of {} tokens\n", train_set.size(), eval_set.size(),
             options.block_size);

  tt::set_seed(args.seed);
  gpt::Gpt model(model_config(options, tokenizer.vocab_size()));
  std::int64_t parameters = 0;
  for (const auto& parameter : model->parameters()) parameters += parameter.numel();
  fmt::print("model {}: {} parameters\n", options.model, parameters);
  // --bf16 picks Trainer<BF16>, --fp16 Trainer<FP16>, neither Trainer<FP32>.
  const auto [start, end] = tt::with_precision(args, [&]<class Precision>(Precision) {
    tt::Trainer<Precision> trainer(model, args, train_set, eval_set, tt::loss::causal_lm_cross_entropy);
    const double before = std::exp(trainer.evaluate().at("eval_loss"));
    trainer.train();
    return std::pair{before, std::exp(trainer.evaluate().at("eval_loss"))};
  });
  fmt::print("eval perplexity: {:.1f} before training, {:.1f} after\n", start, end);

  auto sample = gpt::generate(model, tokenizer.encode(options.prompt), options.sample_tokens, tokenizer.vocab_size());
  fmt::print("sample: {}\n", tokenizer.decode(sample));
  if (options.require_halved_perplexity && !(end < start / 2)) {
    fmt::print(stderr, "gpt: training did not halve the eval perplexity ({:.1f} -> {:.1f})\n", start, end);
    return 1;
  }
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "gpt: {}\n", error.what());
  return 1;
}
