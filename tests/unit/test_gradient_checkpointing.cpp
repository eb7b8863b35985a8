// Gradient checkpointing: the same gradients, from a forward run again in backward.
#include "testing.hpp"

#include <vector>

namespace gradient_checkpointing_tests {

struct BlockImpl : torch::nn::Module {
  BlockImpl() : linear(register_module("linear", torch::nn::Linear(16, 16))), dropout(register_module("dropout", torch::nn::Dropout(0.3))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    ++calls;
    return x + dropout(torch::tanh(linear(x)));
  }
  torch::nn::Linear linear;
  torch::nn::Dropout dropout;
  int calls = 0;
};
TORCH_MODULE(Block);

struct DeepImpl : torch::nn::Module {
  DeepImpl() : input(register_module("input", torch::nn::Linear(5, 16))), head(register_module("head", torch::nn::Linear(16, 3))) {
    for (int i = 0; i < 3; ++i) {
      blocks.push_back(Block());
      checkpoints.push_back(register_module("block" + std::to_string(i), tt::nn::Checkpoint(blocks.back())));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = input(x);
    for (auto& checkpoint : checkpoints) h = checkpoint(h);
    return head(h);
  }
  torch::nn::Linear input, head;
  std::vector<Block> blocks;
  std::vector<tt::nn::Checkpoint> checkpoints;
};
TORCH_MODULE(Deep);

// Gradients of one forward and backward, with or without checkpointing.
std::vector<torch::Tensor> gradients(bool checkpointing, Deep& model) {
  torch::manual_seed(1);
  model = Deep();
  tt::nn::set_gradient_checkpointing(*model, checkpointing);
  torch::manual_seed(2);
  auto x = torch::randn({8, 5});
  model->forward(x).pow(2).sum().backward();
  std::vector<torch::Tensor> result;
  for (const auto& p : model->parameters()) result.push_back(p.grad().clone());
  return result;
}

tt::data::TensorDataset data() {
  torch::manual_seed(4);
  auto inputs = torch::randn({48, 5});
  return {inputs, inputs.argmax(1) % 3};
}

DOCTEST_TEST_SUITE("gradient_checkpointing") {

DOCTEST_TEST_CASE("checkpointed blocks give the same gradients, recomputing their forward (dropout included)") {
  Deep plain{nullptr}, checkpointed{nullptr};
  auto expected = gradients(false, plain);
  auto found = gradients(true, checkpointed);
  DOCTEST_REQUIRE(found.size() == expected.size());
  for (std::size_t i = 0; i < found.size(); ++i) DOCTEST_CHECK(torch::equal(found[i], expected[i]));
  DOCTEST_CHECK(plain->blocks[0]->calls == 1);
  DOCTEST_CHECK(checkpointed->blocks[0]->calls == 2);  // once forward, once again in backward
}

DOCTEST_TEST_CASE("--gradient_checkpointing trains to the same weights through the Trainer") {
  auto train = [](bool checkpointing) {
    torch::manual_seed(1);
    Deep model;
    tt::TrainingArguments args{.max_steps = 6, .per_device_train_batch_size = 8, .gradient_checkpointing = checkpointing,
                               .learning_rate = 1e-2};
    tt::Trainer<> trainer(model, args, data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
    trainer.train();
    return std::pair{model->head->weight.clone(), model->blocks[1]->calls};
  };
  auto [plain_weights, plain_calls] = train(false);
  auto [checkpointed_weights, checkpointed_calls] = train(true);
  DOCTEST_CHECK(torch::equal(plain_weights, checkpointed_weights));
  DOCTEST_CHECK(plain_calls == 6);
  DOCTEST_CHECK(checkpointed_calls == 12);
}

}  // DOCTEST_TEST_SUITE

}  // namespace gradient_checkpointing_tests
