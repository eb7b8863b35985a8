// sample_generation: a character-level language model of a text, with a callback that
// prints a sample from the model every N steps, as Python users do with a TrainerCallback.
//
//   sample_generation [--text /usr/share/common-licenses/GPL-3] [--sample_every 100]
//                     [--prompt "This License"] [any TrainingArguments flag]
//
// The callback switches the model to eval mode, generates without autograd, and hands the
// model back in train mode: the training that follows is unchanged by it.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

namespace tt = torchtrain;

struct SampleArguments {
  std::string text = "/usr/share/common-licenses/GPL-3";  // the text to learn (Debian ships this one)
  int context = 16;                                       // characters the model sees
  int sample_every = 100;                                 // steps between samples
  std::string prompt = "This License";                    // the start of every sample
  int sample_length = 60;                                 // characters generated per sample
};
TORCHTRAIN_REFLECT(SampleArguments, text, context, sample_every, prompt, sample_length);

namespace {

// Bytes as tokens: 256 symbols, no tokenizer needed.
constexpr int vocabulary = 256;

// Embeds the last `context` characters, and predicts the next through a small MLP.
struct CharModelImpl : torch::nn::Module {
  explicit CharModelImpl(int context)
      : embedding(register_module("embedding", torch::nn::Embedding(vocabulary, 32))),
        hidden(register_module("hidden", torch::nn::Linear(32 * context, 256))),
        output(register_module("output", torch::nn::Linear(256, vocabulary))) {}
  torch::Tensor forward(const torch::Tensor& characters) {
    return output(torch::gelu(hidden(embedding(characters).flatten(1))));
  }
  torch::nn::Embedding embedding;
  torch::nn::Linear hidden, output;
};
TORCH_MODULE(CharModel);

// Every window of `context` characters, labelled with the character after it.
tt::data::TensorDataset windows_of(const std::string& text, int context) {
  if (static_cast<int>(text.size()) <= context)
    throw tt::data::DataError(fmt::format("the text has {} characters; it needs more than --context {}",
                                          text.size(), context));
  auto bytes = torch::from_blob(const_cast<char*>(text.data()), {static_cast<std::int64_t>(text.size())},
                                torch::kUInt8)
                   .to(torch::kLong);
  auto windows = bytes.unfold(0, context + 1, 1);
  return {windows.slice(1, 0, context).contiguous(), windows.select(1, context).contiguous()};
}

// The callback: every `every` steps, greedy generation from the prompt.
struct SampleEvery {
  int every;
  int context;
  std::string prompt;
  int length;

  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&, auto& objects) {
    if (state.global_step % every != 0) return;
    auto& model = objects.model;
    model->eval();
    std::string text = prompt;
    {
      torch::NoGradGuard no_grad;
      for (int i = 0; i < length; ++i) {
        std::string window = text.substr(text.size() > static_cast<std::size_t>(context) ? text.size() - context : 0);
        window.insert(0, context - window.size(), ' ');
        auto input = torch::from_blob(window.data(), {1, context}, torch::kUInt8).to(torch::kLong);
        text.push_back(static_cast<char>(model->forward(input).argmax(1).template item<std::int64_t>()));
      }
    }
    model->train();
    for (auto& c : text)
      if (c == '\n') c = ' ';
    fmt::print("sample at step {}: {}\n", state.global_step, text);
  }
};

}  // namespace

int main(int argc, char** argv) try {
  tt::TrainingArguments defaults{.output_dir = "sample_generation_output",
                                 .max_steps = 600,
                                 .per_device_train_batch_size = 64,
                                 .learning_rate = 3e-3,
                                 .logging_steps = 100,
                                 .save_strategy = tt::SaveStrategy::no};
  auto [args, options] = tt::parse_args(argc, argv, defaults, SampleArguments{});
  std::ifstream file(options.text, std::ios::binary);
  if (!file) throw tt::data::DataError(fmt::format("cannot open '{}'", options.text));
  const std::string text{std::istreambuf_iterator<char>(file), {}};

  tt::set_seed(args.seed);
  CharModel model(options.context);
  tt::Trainer<> trainer(model, args, windows_of(text, options.context), tt::data::NoDataset{},
                        tt::loss::cross_entropy, tt::NoMetrics{},
                        tt::callbacks(SampleEvery{options.sample_every, options.context, options.prompt,
                                                  options.sample_length}));
  trainer.train();
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "sample_generation: {}\n", error.what());
  return 1;
}
