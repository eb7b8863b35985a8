// A GPT-style causal language model from LibTorch modules: token and position embeddings,
// pre-norm transformer blocks with LibTorch's scaled-dot-product attention, and a head
// over the vocabulary. The `gpt` example trains a small one, or GPT-2 small
// (GptConfig::gpt2_small(), `gpt --model gpt2_small`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <torch/torch.h>
#include <torchtrain/data/batch.hpp>

namespace gpt {

struct GptConfig {
  std::int64_t vocab_size = 1000;
  std::int64_t context = 64;  // the longest sequence the position embedding covers
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t hidden = 128;
  bool tied_embeddings = false;  // the head multiplies by the token embedding (GPT-2's weight tying)

  /// GPT-2 small: 124M parameters, its vocabulary of 50257 padded to 50304 (a multiple of 64,
  /// for faster matrix products), weights tied as in GPT-2.
  static GptConfig gpt2_small() {
    return {.vocab_size = 50304, .context = 1024, .layers = 12, .heads = 12, .hidden = 768, .tied_embeddings = true};
  }
};

struct CausalSelfAttentionImpl : torch::nn::Module {
  explicit CausalSelfAttentionImpl(const GptConfig& config)
      : heads(config.heads),
        qkv(register_module("qkv", torch::nn::Linear(config.hidden, 3 * config.hidden))),
        projection(register_module("projection", torch::nn::Linear(config.hidden, config.hidden))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    const auto batch = x.size(0), length = x.size(1), hidden = x.size(2);
    // [batch, length, 3 * hidden] -> three [batch, heads, length, head_dim]
    auto parts = qkv(x).view({batch, length, 3, heads, hidden / heads}).permute({2, 0, 3, 1, 4}).unbind(0);
    auto attended = at::scaled_dot_product_attention(parts[0], parts[1], parts[2], /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                    /*is_causal=*/true);
    return projection(attended.transpose(1, 2).reshape({batch, length, hidden}));
  }

  std::int64_t heads;
  torch::nn::Linear qkv, projection;
};
TORCH_MODULE(CausalSelfAttention);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const GptConfig& config)
      : attention_norm(register_module("attention_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})))),
        attention(register_module("attention", CausalSelfAttention(config))),
        mlp_norm(register_module("mlp_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})))),
        mlp_in(register_module("mlp_in", torch::nn::Linear(config.hidden, 4 * config.hidden))),
        mlp_out(register_module("mlp_out", torch::nn::Linear(4 * config.hidden, config.hidden))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = x + attention(attention_norm(x));
    return x + mlp_out(torch::gelu(mlp_in(mlp_norm(x)), "tanh"));
  }

  torch::nn::LayerNorm attention_norm;
  CausalSelfAttention attention;
  torch::nn::LayerNorm mlp_norm;
  torch::nn::Linear mlp_in, mlp_out;
};
TORCH_MODULE(Block);

struct GptImpl : torch::nn::Module {
  explicit GptImpl(const GptConfig& config)
      : config(config),
        token_embedding(register_module("token_embedding", torch::nn::Embedding(config.vocab_size, config.hidden))),
        position_embedding(register_module("position_embedding", torch::nn::Embedding(config.context, config.hidden))),
        final_norm(register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})))),
        head(config.tied_embeddings ? torch::nn::Linear(nullptr)
                                    : register_module("head", torch::nn::Linear(torch::nn::LinearOptions(
                                                                  config.hidden, config.vocab_size).bias(false)))) {
    for (std::int64_t i = 0; i < config.layers; ++i) blocks->push_back(Block(config));
    register_module("blocks", blocks);
    // GPT-2's initialization: normal(0, 0.02) weights, zero biases.
    for (auto& parameter : named_parameters()) {
      torch::NoGradGuard no_grad;
      if (parameter.key().ends_with(".bias")) parameter.value().zero_();
      else if (parameter.value().dim() == 2) parameter.value().normal_(0.0, 0.02);
    }
  }

  /// Logits [batch, length, vocab] for the token ids [batch, length].
  torch::Tensor forward(const torch::Tensor& ids) {
    auto positions = torch::arange(ids.size(1), ids.options());
    auto x = token_embedding(ids) + position_embedding(positions);
    for (auto& block : *blocks) x = block->as<Block>()->forward(x);
    x = final_norm(x);
    return config.tied_embeddings ? torch::nn::functional::linear(x, token_embedding->weight) : head(x);
  }
  torch::Tensor forward(const torchtrain::data::Batch& batch) { return forward(batch.inputs); }

  GptConfig config;
  torch::nn::Embedding token_embedding, position_embedding;
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm final_norm;
  torch::nn::Linear head;  // empty with tied embeddings
};
TORCH_MODULE(Gpt);

/// `length` tokens after `prompt`, each drawn from the model's distribution at `temperature`
/// (greedy when 0) over the first `vocab_size` ids (those a tokenizer smaller than the
/// model's vocabulary knows), in eval mode without autograd; the model is handed back in
/// train mode.
inline std::vector<int> generate(Gpt& model, std::vector<int> prompt, int length, std::int64_t vocab_size,
                                 double temperature = 0.8) {
  model->eval();
  torch::NoGradGuard no_grad;
  const auto device = model->token_embedding->weight.device();
  for (int i = 0; i < length; ++i) {
    const auto start = prompt.size() > static_cast<std::size_t>(model->config.context)
                           ? prompt.size() - static_cast<std::size_t>(model->config.context) : 0;
    auto window = torch::tensor(std::vector<std::int64_t>(prompt.begin() + static_cast<std::ptrdiff_t>(start), prompt.end()))
                      .unsqueeze(0).to(device);
    auto logits = model->forward(window).select(1, -1).squeeze(0).slice(0, 0, vocab_size).to(torch::kFloat);
    auto next = temperature > 0 ? torch::multinomial(torch::softmax(logits / temperature, -1), 1) : logits.argmax();
    prompt.push_back(static_cast<int>(next.item<std::int64_t>()));
  }
  model->train();
  return prompt;
}

}  // namespace gpt
