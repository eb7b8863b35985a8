// A user's program: trains a tiny regression with torchtrain from outside this repository.
#include <torchtrain/torchtrain.hpp>  // first: it needs nothing included before it
#include <torch/torch.h>

#include <fmt/format.h>

namespace tt = torchtrain;

int main() {
  tt::set_seed(0);
  auto inputs = torch::randn({64, 3});
  auto labels = inputs.matmul(torch::tensor({1.0f, -2.0f, 0.5f})).unsqueeze(1);
  tt::data::TensorDataset data(inputs, labels);
  torch::nn::Linear model(3, 1);
  tt::Trainer<> trainer(model, tt::TrainingArguments{.max_steps = 20, .learning_rate = 0.05},
                        data, data, tt::loss::mean_squared_error);
  trainer.train();
  fmt::print("consumer trained: eval_loss {:.4f}\n", trainer.evaluate().at("eval_loss"));
}
