// Customization: the Python Trainer's overrides in their C++ forms (compute_loss,
// training_step, prediction_step, the data loaders, the schedule, self.log), each checked
// against a hand-written LibTorch loop or by what it must change.
#include "testing.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace customization_tests {

namespace F = torch::nn::functional;
using test_support::contains;
using test_support::fresh_folder;

struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(int hidden = 16, double dropout_rate = 0.1)
      : first(register_module("first", torch::nn::Linear(8, hidden))),
        dropout(register_module("dropout", torch::nn::Dropout(dropout_rate))),
        last(register_module("last", torch::nn::Linear(hidden, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) { return last(dropout(torch::relu(first(x)))); }
  torch::nn::Linear first;
  torch::nn::Dropout dropout;
  torch::nn::Linear last;
};
TORCH_MODULE(Mlp);

// 100 samples, 5 batches of 20 per epoch, 2 epochs.
tt::TrainingArguments arguments(int accumulation = 1, double max_grad_norm = 0) {
  return {.num_train_epochs = 2,
          .per_device_train_batch_size = 20,
          .gradient_accumulation_steps = accumulation,
          .max_grad_norm = max_grad_norm,
          .optim = tt::OptimizerNames::adamw_torch,
          .learning_rate = 1e-2,
          .weight_decay = 0,
          .lr_scheduler_type = tt::SchedulerType::constant,
          .logging_steps = 2,
          .save_strategy = tt::SaveStrategy::no};
}

// The loop a LibTorch user writes for the same run: seed, data order, AdamW, windows of
// `accumulation` micro-batches (each loss divided by the window's length), clipping.
// `micro_loss(model, inputs, labels, step)` is the loss of one micro-batch.
template <class MicroLoss>
Mlp hand_loop(const tt::data::TensorDataset& data, int accumulation, double max_grad_norm, MicroLoss&& micro_loss) {
  torch::manual_seed(7);
  Mlp model;
  torch::manual_seed(42);  // the Trainer's seed, set when it is made
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0));
  int step = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto order = torch::randperm(100, at::detail::createCPUGenerator(42 + epoch), torch::kLong);
    for (int first = 0; first < 5; first += accumulation) {
      const int window = std::min(accumulation, 5 - first);
      for (int b = first; b < first + window; ++b) {
        const auto indices = order.slice(0, b * 20, (b + 1) * 20);
        auto loss = micro_loss(model, data.inputs().index_select(0, indices), data.labels().index_select(0, indices), step);
        (window > 1 ? loss / static_cast<double>(window) : loss).backward();
      }
      if (max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), max_grad_norm);
      optimizer.step();
      optimizer.zero_grad();
      ++step;
    }
  }
  return model;
}

void check_same_weights(Mlp& trained, Mlp& expected) {
  auto expected_parameters = expected->named_parameters();
  for (const auto& parameter : trained->named_parameters()) {
    DOCTEST_INFO("parameter ", parameter.key());
    DOCTEST_CHECK(torch::equal(parameter.value(), expected_parameters[parameter.key()]));
  }
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), {}};
}

// ----- compute_loss with the model: distillation from a frozen teacher -----

torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                                const torch::Tensor& labels) {
  const double temperature = 2.0, alpha = 0.5;
  const auto soft = F::kl_div(F::log_softmax(student_logits / temperature, 1), F::softmax(teacher_logits / temperature, 1),
                              F::KLDivFuncOptions().reduction(torch::kBatchMean));
  return alpha * F::cross_entropy(student_logits, labels) + (1 - alpha) * temperature * temperature * soft;
}

Mlp frozen_teacher() {
  torch::manual_seed(3);
  Mlp teacher(32, 0.0);
  teacher->eval();
  for (auto& parameter : teacher->parameters()) parameter.set_requires_grad(false);
  return teacher;
}

// snippet: compute_loss
struct Distillation {
  Mlp teacher;
  tt::LossAndOutputs<torch::Tensor> compute_loss(Mlp& model, const tt::data::Batch& batch) {
    auto logits = model->forward(batch.inputs);
    torch::Tensor teacher_logits;
    {
      torch::NoGradGuard frozen;
      teacher_logits = teacher->forward(batch.inputs);
    }
    return {distillation_loss(logits, teacher_logits, batch.labels), logits};
  }
};
// end snippet

// Records the num_items_in_batch each call of compute_loss gets, and divides a summed loss by it.
// snippet: num_items_in_batch
struct SummedLoss {
  std::vector<double>* counts;
  torch::Tensor compute_loss(Mlp& model, const tt::data::Batch& batch, const torch::Tensor& num_items_in_batch) const {
    counts->push_back(num_items_in_batch.item<double>());
    return F::cross_entropy(model->forward(batch.inputs), batch.labels,
                            F::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum)) /
           num_items_in_batch;
  }
};
// end snippet
// end snippet

// ----- the training step replaced: R-drop, two forwards through dropout -----

std::pair<torch::Tensor, torch::Tensor> r_drop_loss(const torch::Tensor& first, const torch::Tensor& second,
                                                    const torch::Tensor& labels) {
  const auto p = F::log_softmax(first, 1), q = F::log_softmax(second, 1);
  const auto options = F::KLDivFuncOptions().reduction(torch::kBatchMean).log_target(true);
  const auto kl = (F::kl_div(p, q, options) + F::kl_div(q, p, options)) / 2;
  return {(F::cross_entropy(first, labels) + F::cross_entropy(second, labels)) / 2 + kl, kl};
}

// snippet: training_step
struct RDrop {
  template <class Step>
  void training_step(Step& step, const tt::data::Batch& batch) const {
    auto [loss, kl] = step.autocast([&] {
      auto first = step.forward(batch);  // dropout draws a different mask for each
      auto second = step.forward(batch);
      return r_drop_loss(first, second, batch.labels);
    });
    step.log("kl", kl);
    step.backward(loss);
  }
  // Evaluation's loss: one forward.
  torch::Tensor operator()(const torch::Tensor& logits, const tt::data::Batch& batch) const {
    return F::cross_entropy(logits, batch.labels);
  }
};
// end snippet
// end snippet

struct ForgetsBackward {
  template <class Step>
  void training_step(Step& step, const tt::data::Batch& batch) const {
    (void)step.compute_loss(batch);
  }
  torch::Tensor operator()(const torch::Tensor& logits, const tt::data::Batch& batch) const {
    return F::cross_entropy(logits, batch.labels);
  }
};

// Policies that record what the loop asks of them.
struct PolicyRecord {
  int autocasts = 0, backwards = 0;
  std::vector<bool> gradient_syncs;
};
struct RecordingPrecision : tt::FP32 {
  PolicyRecord* record = nullptr;
  template <class Forward>
  decltype(auto) autocast(Forward&& forward) {
    ++record->autocasts;
    return tt::FP32::autocast(std::forward<Forward>(forward));
  }
  void backward(const at::Tensor& loss) {
    ++record->backwards;
    tt::FP32::backward(loss);
  }
};
struct RecordingStrategy : tt::SingleDevice {
  PolicyRecord* record = nullptr;
  GradientSyncScope gradient_sync(bool enabled) const {
    record->gradient_syncs.push_back(enabled);
    return {};
  }
};

// A callback that adds a value of its own to the logs.
// snippet: callback_log
struct LogsStepParity {
  template <class Objects>
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&, Objects& objects) {
    objects.log("step_parity", static_cast<double>(state.global_step % 2));
  }
};
// end snippet
// end snippet

// ----- a model that returns its loss and logits -----

// snippet: loss_and_logits
struct ClassifierOutput {
  torch::Tensor loss;
  torch::Tensor logits;
};
struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl() : linear(register_module("linear", torch::nn::Linear(8, 3))) {}
  ClassifierOutput forward(const tt::data::Batch& batch) {
    auto logits = linear(batch.inputs);
    return {batch.labels.defined() ? F::cross_entropy(logits, batch.labels) : torch::Tensor(), logits};
  }
  torch::nn::Linear linear;
};
TORCH_MODULE(Classifier);
// end snippet
// end snippet

// ----- the prediction step replaced: evaluation by generation -----

constexpr int vocabulary = 10;
// Logits of the next token from the current one [N, T] -> [N, T, V]: enough to learn "t + 1".
struct BigramImpl : torch::nn::Module {
  BigramImpl() : table(register_module("table", torch::nn::Embedding(vocabulary, vocabulary))) {}
  torch::Tensor forward(const torch::Tensor& ids) { return table(ids); }
  torch::nn::Embedding table;
};
TORCH_MODULE(Bigram);

// Sequences counting up modulo the vocabulary, from random starts.
torch::Tensor counting(std::int64_t samples, std::int64_t length, std::uint64_t seed) {
  auto starts = torch::randint(vocabulary, {samples, 1}, at::detail::createCPUGenerator(seed), torch::kLong);
  return (starts + torch::arange(length, torch::kLong)) % vocabulary;
}

// snippet: prediction_step
struct GenerateWhenEvaluating {
  torch::Tensor operator()(const torch::Tensor& logits, const tt::data::Batch& batch) const {
    return tt::loss::causal_lm_cross_entropy(logits, batch);
  }
  tt::PredictionStepOutput prediction_step(Bigram& model, const tt::data::Batch& batch) const {
    return {.logits = tt::nn::generate_greedy(model, batch.inputs, batch.labels.size(1))};
  }
};
// end snippet

tt::Metrics exact_match(const tt::EvalPrediction& prediction) {
  return {{"exact_match", (prediction.predictions == prediction.label_ids).all(1).to(torch::kDouble).mean().item<double>()}};
}

// Records the first feature of every training sample a compute_loss sees (it identifies the sample).
struct RecordsSamples {
  std::vector<float>* seen;
  torch::Tensor compute_loss(Mlp& model, const tt::data::Batch& batch) const {
    const auto first_features = batch.inputs.select(1, 0).contiguous();
    seen->insert(seen->end(), first_features.data_ptr<float>(), first_features.data_ptr<float>() + first_features.numel());
    return F::cross_entropy(model->forward(batch.inputs), batch.labels);
  }
};

// Logs a value under a name the Trainer uses itself.
struct LogsLoss {
  template <class Objects>
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&, Objects& objects) {
    objects.log("loss", 1.0);
  }
};

// Counts the batches of each evaluation.
struct CountsPredictionSteps {
  int* steps;
  void on_prediction_step(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) { ++*steps; }
};

DOCTEST_TEST_SUITE("customization") {

DOCTEST_TEST_CASE("compute_loss with the model: a frozen teacher's logits enter the student's loss, as a hand loop") {
  const auto data = test_support::classification_data();
  const auto reference = hand_loop(data, 2, 0, [teacher = frozen_teacher()](Mlp& model, const torch::Tensor& inputs,
                                                                         const torch::Tensor& labels, int) mutable {
    auto logits = model->forward(inputs);
    torch::Tensor teacher_logits;
    {
      torch::NoGradGuard frozen;
      teacher_logits = teacher->forward(inputs);
    }
    return distillation_loss(logits, teacher_logits, labels);
  });
  auto expected = reference;
  torch::manual_seed(7);
  Mlp student;
  tt::Trainer<> trainer(student, arguments(2), data, data, Distillation{frozen_teacher()});
  trainer.train();
  check_same_weights(student, expected);

  // Evaluation takes its loss and logits from compute_loss too.
  const auto metrics = trainer.evaluate();
  auto teacher = frozen_teacher();
  student->eval();
  torch::NoGradGuard no_grad;
  const double hand_loss = distillation_loss(student->forward(data.inputs()), teacher->forward(data.inputs()),
                                             data.labels()).item<double>();
  DOCTEST_CHECK(metrics.at("eval_loss") == doctest::Approx(hand_loss).epsilon(1e-6));
  // Without the teacher's term the loss would be the student's cross-entropy alone.
  const double cross_entropy_only = F::cross_entropy(student->forward(data.inputs()), data.labels()).item<double>();
  DOCTEST_CHECK(std::abs(metrics.at("eval_loss") - cross_entropy_only) > 1e-3);
}

DOCTEST_TEST_CASE("compute_loss(model, batch, num_items_in_batch) gets the labels that count in the whole window") {
  auto data = test_support::classification_data();
  auto labels = data.labels().clone();
  labels.index_put_({torch::arange(0, 100, 7)}, -100);  // some labels do not count
  data = tt::data::TensorDataset(data.inputs(), labels);
  std::vector<double> counts;
  torch::manual_seed(7);
  Mlp model;
  tt::Trainer<> trainer(model, arguments(2), data, tt::data::NoDataset{}, SummedLoss{&counts});
  trainer.train();

  std::vector<double> expected;
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto order = torch::randperm(100, at::detail::createCPUGenerator(42 + epoch), torch::kLong);
    for (int first = 0; first < 5; first += 2) {
      const int window = std::min(2, 5 - first);
      const auto window_labels = labels.index_select(0, order.slice(0, first * 20, (first + window) * 20));
      const double count = (window_labels != -100).sum().item<double>();
      for (int b = 0; b < window; ++b) expected.push_back(count);
    }
  }
  DOCTEST_CHECK(counts == expected);
}

DOCTEST_TEST_CASE("training_step replaced (R-drop, two forwards): accumulation and clipping still apply, as a hand loop") {
  const auto data = test_support::classification_data();
  std::vector<std::vector<double>> kl_per_step(6);
  const auto reference = hand_loop(data, 2, 0.5, [&](Mlp& model, const torch::Tensor& inputs, const torch::Tensor& labels,
                                                     int step) {
    auto first = model->forward(inputs);
    auto second = model->forward(inputs);
    auto [loss, kl] = r_drop_loss(first, second, labels);
    kl_per_step[static_cast<std::size_t>(step)].push_back(kl.item<double>());
    return loss;
  });
  auto expected = reference;

  PolicyRecord record;
  RecordingPrecision precision;
  precision.record = &record;
  RecordingStrategy strategy;
  strategy.record = &record;
  const auto folder = fresh_folder("r_drop");
  auto args = arguments(2, 0.5);
  args.output_dir = (folder / "out").string();
  torch::manual_seed(7);
  Mlp model;
  tt::Trainer<RecordingPrecision, RecordingStrategy, tt::JsonLinesLogger> trainer(
      tt::with_policies(precision, strategy, tt::JsonLinesLogger(folder / "logs")), model, args, data,
      tt::data::NoDataset{}, RDrop{}, tt::NoMetrics{}, tt::callbacks(LogsStepParity{}));
  trainer.train();
  check_same_weights(model, expected);

  // Windows of 2, 2 and 1 micro-batches: gradients synchronize on the last of each only.
  const std::vector<bool> epoch_syncs{false, true, false, true, true};
  std::vector<bool> expected_syncs = epoch_syncs;
  expected_syncs.insert(expected_syncs.end(), epoch_syncs.begin(), epoch_syncs.end());
  DOCTEST_CHECK(record.gradient_syncs == expected_syncs);
  DOCTEST_CHECK(record.autocasts == 10);  // the step's own autocast, once per micro-batch
  DOCTEST_CHECK(record.backwards == 10);

  // Custom logs: the step's kl (mean over the micro-batches of the interval) and the
  // callback's value, in log_history, the logger's file and trainer_state.json.
  const auto& history = trainer.state().log_history;
  int training_logs = 0;
  for (const auto& entry : history) {
    if (!entry.contains("loss")) continue;
    const int step = static_cast<int>(entry.at("step"));
    DOCTEST_INFO("log at step ", step);
    ++training_logs;
    double sum = 0;
    int count = 0;
    for (int s = step - 2; s < step; ++s)
      for (double kl : kl_per_step[static_cast<std::size_t>(s)]) sum += kl, ++count;
    DOCTEST_CHECK(entry.at("kl") == doctest::Approx(sum / count).epsilon(1e-9));
    DOCTEST_CHECK(entry.at("step_parity") == 0.5);  // steps step - 1 and step: one odd, one even
    DOCTEST_CHECK(entry.contains("grad_norm"));     // clipping ran
  }
  DOCTEST_CHECK(training_logs == 3);  // 3 steps per epoch (windows of 2, 2 and 1), a log every 2
  trainer.save_state();
  DOCTEST_CHECK(contains(file_text(folder / "out" / "trainer_state.json"), "\"kl\""));
  DOCTEST_CHECK(contains(file_text(folder / "logs" / tt::JsonLinesLogger::file_name), "\"step_parity\""));
}

DOCTEST_TEST_CASE("a training step that never calls step.backward is an error that says so") {
  const auto data = test_support::classification_data();
  Mlp model;
  tt::Trainer<> trainer(model, arguments(), data, tt::data::NoDataset{}, ForgetsBackward{});
  DOCTEST_CHECK_THROWS_WITH_AS(trainer.train(), doctest::Contains("step.backward"), std::logic_error);
}

DOCTEST_TEST_CASE("a custom log named like one of the Trainer's is an error that names it") {
  const auto data = test_support::classification_data();
  Mlp model;
  tt::Trainer<> trainer(model, arguments(), data, tt::data::NoDataset{}, tt::loss::cross_entropy, tt::NoMetrics{},
                        tt::callbacks(LogsLoss{}));
  DOCTEST_CHECK_THROWS_WITH_AS(trainer.train(), doctest::Contains("'loss'"), tt::ArgumentError);
}

DOCTEST_TEST_CASE("a model returning {loss, logits} trains and evaluates with no loss given") {
  const auto data = test_support::classification_data();
  torch::manual_seed(7);
  Classifier expected;
  {
    torch::manual_seed(42);
    torch::optim::AdamW optimizer(expected->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0));
    for (int epoch = 0; epoch < 2; ++epoch) {
      const auto order = torch::randperm(100, at::detail::createCPUGenerator(42 + epoch), torch::kLong);
      for (int b = 0; b < 5; ++b) {
        const auto indices = order.slice(0, b * 20, (b + 1) * 20);
        expected->forward({data.inputs().index_select(0, indices), data.labels().index_select(0, indices)}).loss.backward();
        optimizer.step();
        optimizer.zero_grad();
      }
    }
  }
  torch::manual_seed(7);
  Classifier model;
  tt::Trainer<> trainer(model, arguments(), data, data, tt::loss::ModelLoss{}, tt::metrics::accuracy);
  trainer.train();
  for (const auto& parameter : model->named_parameters())
    DOCTEST_CHECK(torch::equal(parameter.value(), expected->named_parameters()[parameter.key()]));

  const auto metrics = trainer.evaluate();
  torch::NoGradGuard no_grad;
  const auto outputs = model->forward({data.inputs(), data.labels()});
  DOCTEST_CHECK(metrics.at("eval_loss") == doctest::Approx(outputs.loss.item<double>()).epsilon(1e-6));
  const double accuracy = (outputs.logits.argmax(1) == data.labels()).to(torch::kDouble).mean().item<double>();
  DOCTEST_CHECK(metrics.at("eval_accuracy") == doctest::Approx(accuracy));
}

DOCTEST_TEST_CASE("prediction_step replaced: evaluation by generation, scored by compute_metrics on the generated ids") {
  const auto text = counting(200, 8, 1);
  const tt::data::TensorDataset train_set(text, text);
  const auto prompts_and_continuations = counting(30, 7, 2);
  const tt::data::TensorDataset eval_set(prompts_and_continuations.slice(1, 0, 3).contiguous(),
                                         prompts_and_continuations.slice(1, 3).contiguous());
  auto args = arguments();
  args.num_train_epochs = 3;
  args.learning_rate = 0.1;
  args.per_device_eval_batch_size = 8;
  torch::manual_seed(7);
  Bigram model;
  tt::Trainer<> trainer(model, args, train_set, eval_set, GenerateWhenEvaluating{}, exact_match);
  trainer.train();
  const auto output = trainer.predict(eval_set);

  model->eval();
  const auto generated = tt::nn::generate_greedy(model, eval_set.inputs(), 4);
  DOCTEST_CHECK(torch::equal(output.predictions, generated));
  DOCTEST_CHECK(torch::equal(output.label_ids, eval_set.labels()));
  const double matched = (generated == eval_set.labels()).all(1).to(torch::kDouble).mean().item<double>();
  DOCTEST_CHECK(output.metrics.at("test_exact_match") == matched);
  DOCTEST_CHECK(matched == 1.0);  // counting up is learnt: every continuation is right
}

DOCTEST_TEST_CASE("set_train_dataloader: a weighted sampler's order, the same after an exact resume") {
  const auto data = test_support::classification_data();
  const auto weights = torch::where(data.labels() == 0, 10.0, 1.0).to(torch::kDouble);
  // snippet: train_dataloader
  const auto weighted = [&](tt::data::LoaderSetup& setup) {
    setup.sampler = tt::data::WeightedRandomSampler{.weights = weights, .seed = 5};
    setup.options.num_workers = 2;  // options other than the batch size may change
  };
  // end snippet
  const auto folder = fresh_folder("weighted_sampler");
  auto args = arguments();
  args.save_strategy = tt::SaveStrategy::steps;
  args.save_steps = 3;
  const auto run = [&](const char* output_dir, const tt::ResumeFrom& resume, std::vector<float>& seen) {
    args.output_dir = (folder / output_dir).string();
    torch::manual_seed(7);
    Mlp model;
    tt::Trainer<> trainer(model, args, data, tt::data::NoDataset{}, RecordsSamples{&seen});
    trainer.set_train_dataloader(weighted);
    trainer.train(resume);
    return model;
  };
  std::vector<float> seen, resumed_seen;
  auto model = run("out", {}, seen);
  auto resumed = run("resumed", folder / "out" / "checkpoint-3", resumed_seen);
  check_same_weights(resumed, model);

  // The order is torch.multinomial's draw for (seed + epoch), as WeightedRandomSampler's.
  std::vector<float> expected;
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto order = torch::multinomial(weights, 100, true, at::detail::createCPUGenerator(5 + epoch));
    const auto first_features = data.inputs().index_select(0, order).select(1, 0).contiguous();
    expected.insert(expected.end(), first_features.data_ptr<float>(), first_features.data_ptr<float>() + 100);
  }
  DOCTEST_CHECK(seen == expected);
  // The resumed run trained on the samples after the first 3 steps' (60 of them).
  DOCTEST_CHECK(resumed_seen == std::vector<float>(expected.begin() + 60, expected.end()));
  const auto drawn_zeros = (data.labels().index_select(0, torch::multinomial(weights, 100, true,
                                                                             at::detail::createCPUGenerator(5))) == 0)
                               .sum()
                               .item<int>();
  DOCTEST_CHECK(drawn_zeros > 60);  // the weights favour class 0, about a third of the data

  const tt::data::WeightedRandomSampler too_few_weights{.weights = torch::ones({99}, torch::kDouble)};
  DOCTEST_CHECK_THROWS_WITH_AS(too_few_weights.order(100, 0), doctest::Contains("one weight per training sample (100)"),
                               tt::ArgumentError);

  Mlp other;
  tt::Trainer<> changes_batch_size(other, arguments(), data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  changes_batch_size.set_train_dataloader([](tt::data::LoaderSetup& setup) { setup.options.batch_size = 4; });
  DOCTEST_CHECK_THROWS_WITH_AS(changes_batch_size.train(), doctest::Contains("--per_device_train_batch_size"),
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("set_eval_dataloader and set_test_dataloader change the evaluation loaders") {
  const auto data = test_support::classification_data();
  int steps = 0;
  Mlp model;
  tt::Trainer<> trainer(model, arguments(), data, data, tt::loss::cross_entropy, tt::NoMetrics{},
                        tt::callbacks(CountsPredictionSteps{&steps}));
  // snippet: eval_dataloader
  trainer.set_eval_dataloader([](tt::data::LoaderSetup& setup) { setup.options.batch_size = 7; });
  trainer.set_test_dataloader([](tt::data::LoaderSetup& setup) { setup.options.batch_size = 50; });
  // end snippet
  const auto metrics = trainer.evaluate();
  DOCTEST_CHECK(steps == 15);  // ceil(100 / 7)
  steps = 0;
  (void)trainer.predict(data);
  DOCTEST_CHECK(steps == 2);
  trainer.set_eval_dataloader([](tt::data::LoaderSetup& setup) { setup.sampler = tt::data::RandomSampler{}; });
  DOCTEST_CHECK_THROWS_AS(trainer.evaluate(), tt::ArgumentError);
}

DOCTEST_TEST_CASE("set_scheduler_factory with LambdaLR: the user's schedule, restored on resume") {
  const auto data = test_support::classification_data();
  const auto folder = fresh_folder("lambda_lr");
  auto args = arguments();
  args.logging_steps = 1;
  args.save_strategy = tt::SaveStrategy::steps;
  args.save_steps = 3;
  const auto halving = [](std::int64_t step) { return std::pow(0.5, static_cast<double>(step)); };
  const auto run = [&](const char* output_dir, const tt::ResumeFrom& resume) {
    args.output_dir = (folder / output_dir).string();
    torch::manual_seed(7);
    Mlp model;
    tt::Trainer<> trainer(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
    // snippet: scheduler_factory
    trainer.set_scheduler_factory([&](torch::optim::Optimizer& optimizer, const tt::TrainingArguments&, int) {
      return tt::optim::LambdaLR(optimizer, halving);
    });
    // end snippet
    trainer.train(resume);
    return std::pair(model, trainer.state().log_history);
  };
  auto [model, history] = run("out", {});
  for (const auto& entry : history)
    if (entry.contains("learning_rate"))
      DOCTEST_CHECK(entry.at("learning_rate") == 1e-2 * halving(static_cast<std::int64_t>(entry.at("step")) - 1));
  auto [resumed, resumed_history] = run("resumed", folder / "out" / "checkpoint-3");
  check_same_weights(resumed, model);
  DOCTEST_CHECK(resumed_history.back().at("step") == 10);
  for (const auto& entry : resumed_history)
    if (entry.contains("learning_rate"))
      DOCTEST_CHECK(entry.at("learning_rate") == 1e-2 * halving(static_cast<std::int64_t>(entry.at("step")) - 1));
}

}  // DOCTEST_TEST_SUITE

}  // namespace customization_tests
