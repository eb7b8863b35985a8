// Gradient accumulation: Accum<4> x 8 equals one step of 32, also for padded token-level losses.
#include "testing.hpp"

#include <string>
#include <vector>

namespace accumulation_tests {

// A tiny language model: embeddings, then logits over the vocabulary at every position.
struct TokenModelImpl : torch::nn::Module {
  TokenModelImpl()
      : embedding(register_module("embedding", torch::nn::Embedding(11, 8))),
        head(register_module("head", torch::nn::Linear(8, 11))) {}
  torch::Tensor forward(const torch::Tensor& tokens) { return head(torch::tanh(embedding(tokens))); }
  torch::nn::Embedding embedding;
  torch::nn::Linear head;
};
TORCH_MODULE(TokenModel);

struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl() : linear(register_module("linear", torch::nn::Linear(6, 4))) {}
  torch::Tensor forward(const torch::Tensor& x) { return linear(x); }
  torch::nn::Linear linear;
};
TORCH_MODULE(Classifier);

// 32 sequences of 6 positions, of lengths 1 to 6: padding (0) has label -100.
tt::data::TensorDataset padded_sequences() {
  torch::manual_seed(11);
  auto tokens = torch::randint(1, 11, {32, 6});
  auto lengths = torch::randint(1, 7, {32, 1});
  auto padding = torch::arange(6).unsqueeze(0) >= lengths;
  auto labels = tokens.roll(-1, 1).masked_fill(padding, -100);
  return {tokens.masked_fill(padding, 0), labels};
}

tt::data::TensorDataset fixed_size_classification() {
  torch::manual_seed(12);
  auto inputs = torch::randn({32, 6});
  return {inputs, inputs.argmax(1) % 4};
}

// An epsilon of 1 makes AdamW's first update about lr x g / (|g| + 1): it moves with the
// gradient's size, so a wrongly normalized gradient shows in the parameters.
tt::TrainingArguments one_step(int batch_size) {
  return {.max_steps = 1, .per_device_train_batch_size = batch_size, .max_grad_norm = 0,
          .learning_rate = 1.0, .adam_epsilon = 1.0, .logging_strategy = tt::IntervalStrategy::no};
}

std::vector<torch::Tensor> parameters_of(const torch::nn::Module& model) {
  std::vector<torch::Tensor> copies;
  for (const auto& p : model.parameters()) copies.push_back(p.detach().clone());
  return copies;
}

// ||a - b|| / ||b|| over the updates a - initial and b - initial of all parameters.
double relative_difference_of_updates(const std::vector<torch::Tensor>& initial, const std::vector<torch::Tensor>& a,
                                      const std::vector<torch::Tensor>& b) {
  double difference = 0, reference = 0;
  for (std::size_t i = 0; i < initial.size(); ++i) {
    difference += (a[i] - b[i]).to(torch::kDouble).pow(2).sum().item<double>();
    reference += (b[i] - initial[i]).to(torch::kDouble).pow(2).sum().item<double>();
  }
  return std::sqrt(difference / reference);
}

template <class Model, class... Policies>
std::vector<torch::Tensor> train_one_step(const tt::data::TensorDataset& data, int batch_size) {
  torch::manual_seed(3);
  Model model;
  tt::Trainer<Policies...> trainer(model, one_step(batch_size), data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_REQUIRE(trainer.train().global_step == 1);
  return parameters_of(*model);
}

// The initial parameters, and the parameters after one step of Accum<4> x 8 and of 32.
struct OneStepRuns {
  std::vector<torch::Tensor> initial, accumulated, full_batch;
};
template <class Model>
OneStepRuns accumulated_and_full_batch(const tt::data::TensorDataset& data) {
  torch::manual_seed(3);
  auto initial = parameters_of(*Model());
  return {initial, train_one_step<Model, tt::Accum<4>>(data, 8), train_one_step<Model>(data, 32)};
}

// What the naive normalization does: each micro-batch's mean loss divided by the number of
// micro-batches, then the same AdamW step.
std::vector<torch::Tensor> naive_mean_of_means(const tt::data::TensorDataset& data) {
  torch::manual_seed(3);
  TokenModel model;
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1.0).eps(1.0).weight_decay(0));
  auto order = tt::data::epoch_permutation(32, 42, 0);  // the trainer's first epoch
  for (int micro_batch = 0; micro_batch < 4; ++micro_batch) {
    auto batch = data.get_batch(order.slice(0, micro_batch * 8, (micro_batch + 1) * 8));
    (tt::loss::cross_entropy(model->forward(batch.inputs), batch) / 4).backward();
  }
  optimizer.step();
  return parameters_of(*model);
}

struct StepCounter {
  int* substeps;
  int* optimizer_steps;
  void on_substep_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) { ++*substeps; }
  void on_optimizer_step(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) {
    ++*optimizer_steps;
  }
};

DOCTEST_TEST_SUITE("accumulation") {

DOCTEST_TEST_CASE("Accum<4> with micro-batches of 8 equals one step of 32: fixed-size classification") {
  auto run = accumulated_and_full_batch<Classifier>(fixed_size_classification());
  DOCTEST_CHECK(relative_difference_of_updates(run.initial, run.accumulated, run.full_batch) < 1e-6);
}

DOCTEST_TEST_CASE("Accum<4> with micro-batches of 8 equals one step of 32: padded sequences, token-level loss") {
  auto data = padded_sequences();
  auto [initial, accumulated, full_batch] = accumulated_and_full_batch<TokenModel>(data);
  const double ours = relative_difference_of_updates(initial, accumulated, full_batch);
  const double naive = relative_difference_of_updates(initial, naive_mean_of_means(data), full_batch);
  DOCTEST_INFO("relative difference: ours ", ours, ", naive mean of means ", naive);
  DOCTEST_CHECK(ours < 1e-6);
  DOCTEST_CHECK(naive > 1e-3);  // the naive normalization would fail this test
  // The runtime setting gives the same as the compile-time one.
  torch::manual_seed(3);
  TokenModel model;
  auto args = one_step(8);
  args.gradient_accumulation_steps = 4;
  tt::Trainer<> trainer(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  trainer.train();
  auto runtime = parameters_of(*model);
  for (std::size_t i = 0; i < runtime.size(); ++i) DOCTEST_CHECK(torch::equal(runtime[i], accumulated[i]));
}

DOCTEST_TEST_CASE("one optimizer step per window; intervals count optimizer steps") {
  int substeps = 0, optimizer_steps = 0;
  Classifier model;
  tt::Trainer<tt::Accum<4>> trainer(model, {.num_train_epochs = 2, .per_device_train_batch_size = 3, .logging_steps = 2},
                                    fixed_size_classification(), tt::data::NoDataset{}, tt::loss::cross_entropy,
                                    tt::NoMetrics{}, tt::callbacks(StepCounter{&substeps, &optimizer_steps}));
  // 32 samples in micro-batches of 3: 11 per epoch, windows of 4, 4 and 3.
  DOCTEST_CHECK(trainer.train().global_step == 6);
  DOCTEST_CHECK(optimizer_steps == 6);
  DOCTEST_CHECK(substeps == 2 * (3 + 3 + 2));
  std::vector<double> logged_steps;
  for (const auto& log : trainer.state().log_history)
    if (log.contains("loss")) logged_steps.push_back(log.at("step"));
  DOCTEST_CHECK(logged_steps == std::vector<double>{2, 4, 6});
}

}  // DOCTEST_TEST_SUITE

}  // namespace accumulation_tests
