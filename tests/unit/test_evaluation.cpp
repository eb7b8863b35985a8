// Evaluation, prediction and metrics: when the trainer evaluates, what evaluate() and predict() return, what
// compute_metrics receives, the built-in metrics on known answers, best-model tracking, eval mode.
#include "testing.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace evaluation_tests {

using test_support::classification_data;

struct NetImpl : torch::nn::Module {
  NetImpl()
      : first(register_module("first", torch::nn::Linear(8, 16))),
        dropout(register_module("dropout", torch::nn::Dropout(0.5))),
        last(register_module("last", torch::nn::Linear(16, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) { return last(dropout(torch::relu(first(x)))); }
  torch::nn::Linear first;
  torch::nn::Dropout dropout;
  torch::nn::Linear last;
};
TORCH_MODULE(Net);

// 100 samples, batches of 16: 7 optimizer steps per epoch; nothing is saved.
tt::TrainingArguments base_arguments() {
  return {.num_train_epochs = 2,
          .per_device_train_batch_size = 16,
          .per_device_eval_batch_size = 30,  // evaluation batches of 30, 30, 30 and 10
          .learning_rate = 1e-2,
          .logging_steps = 4,
          .save_strategy = tt::SaveStrategy::no};
}

// The steps (and epochs) at which log_history holds an entry with `key`.
std::vector<double> logged_at(const tt::TrainerState& state, const std::string& key, const char* when = "step") {
  std::vector<double> at;
  for (const auto& entry : state.log_history)
    if (entry.contains(key)) at.push_back(entry.at(when));
  return at;
}

// What the model computes for `inputs` in eval mode, by hand.
torch::Tensor eval_logits(Net& model, const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto logits = model->forward(inputs);
  model->train();
  return logits;
}

// Sequences whose length differs between batches of 4: samples 0-3 have 2 positions,
// 4-7 three, 8-9 four (as a collator padding each batch to its longest would give).
struct VariableLengthSequences {
  torch::Tensor features, labels;
  VariableLengthSequences() {
    torch::manual_seed(3);
    features = torch::randn({10, 4, 3});
    labels = torch::randint(0, 5, {10, 4}, torch::kLong);
  }
  std::int64_t size() const { return 10; }
  tt::data::Batch get_batch(const torch::Tensor& indices) const {
    const std::int64_t length = 2 + indices[0].item<std::int64_t>() / 4;
    return {features.index_select(0, indices).slice(1, 0, length), labels.index_select(0, indices).slice(1, 0, length)};
  }
};

// Batches of another type than tt::data::Batch, with no `inputs` tensor, and a model that takes them.
struct FeaturesBatch {
  torch::Tensor features, labels;
  std::int64_t size() const { return features.size(0); }
  FeaturesBatch to(torch::Device, bool) const { return *this; }
};
struct FeaturesData {
  std::int64_t size() const { return 4; }
  FeaturesBatch get_batch(const torch::Tensor& indices) const {
    return {torch::zeros({indices.numel(), 3}), torch::zeros({indices.numel()})};
  }
};
struct TakesFeatures : torch::nn::Module {
  TakesFeatures() { register_parameter("weight", torch::ones({1})); }
  torch::Tensor forward(const FeaturesBatch& batch) { return batch.features.sum(1); }
};

// A test set without labels.
struct Unlabelled {
  torch::Tensor inputs;
  std::int64_t size() const { return inputs.size(0); }
  tt::data::Batch get_batch(const torch::Tensor& indices) const { return {inputs.index_select(0, indices), {}}; }
};

// Counts the calls of compute_metrics, and keeps the last EvalPrediction it got.
struct Recorder {
  int* calls;
  tt::EvalPrediction* last;
  tt::Metrics operator()(const tt::EvalPrediction& prediction) const {
    ++*calls;
    *last = prediction;
    return {{"calls", static_cast<double>(*calls)}};
  }
};

// A Net trained on nothing yet, with classification_data as train and eval set and a Recorder
// as compute_metrics (the data's seed makes the Net's initial weights the same every time).
struct RecordedTrainer {
  tt::data::TensorDataset data = classification_data();
  Net model;
  int calls = 0;
  tt::EvalPrediction got;
  tt::Trainer<> trainer;
  explicit RecordedTrainer(const tt::TrainingArguments& args)
      : trainer(model, args, data, data, tt::loss::cross_entropy, Recorder{&calls, &got}) {}
};

// A linear model evaluated over VariableLengthSequences in batches of 4, and what compute_metrics got.
struct SequenceEvaluation {
  VariableLengthSequences data;
  torch::nn::Linear model = torch::nn::Linear(3, 5);
  int calls = 0;
  tt::EvalPrediction got;
  tt::Metrics metrics;

  explicit SequenceEvaluation(std::vector<std::string> include_for_metrics = {}, bool concat_batches = true) {
    auto args = base_arguments();
    args.per_device_eval_batch_size = 4;
    args.include_for_metrics = std::move(include_for_metrics);
    args.eval_do_concat_batches = concat_batches;
    tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy, Recorder{&calls, &got});
    metrics = trainer.evaluate();
  }
  // Calls check(batch, rows, length) for each batch: `rows(t)` is the batch's rows of a kept
  // tensor, `length` its sequence length.
  template <class Check>
  void for_each_batch(Check check) {
    torch::NoGradGuard no_grad;
    for (std::int64_t first : {0, 4, 8}) {
      const auto indices = torch::arange(first, std::min<std::int64_t>(first + 4, 10));
      const auto batch = data.get_batch(indices);
      check(batch, [&](const torch::Tensor& kept) { return kept.slice(0, first, first + indices.numel()); },
            batch.labels.size(1));
    }
  }
};

// Records the events of evaluation and prediction.
struct EvalEvents {
  std::vector<std::string>* events;
  void on_prediction_step(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) {
    events->push_back("prediction_step");
  }
  void on_evaluate(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&,
                   const tt::Metrics&) {
    events->push_back("evaluate " + std::to_string(state.global_step));
  }
  void on_predict(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&,
                  const tt::Metrics& metrics) {
    events->push_back(metrics.contains("test_loss") ? "predict test_loss" : "predict");
  }
  void on_step_begin(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&) {
    if (state.global_step == 0) events->push_back("first step");
  }
};

DOCTEST_TEST_SUITE("evaluation") {

// 1. When.

DOCTEST_TEST_CASE("eval_steps defaults to logging_steps, and eval_delay holds back the first evaluations") {
  const auto data = classification_data();
  auto args = base_arguments();
  args.eval_strategy = tt::IntervalStrategy::steps;  // 14 steps, logging every 4, and the last step as Python
  {
    Net model;
    tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy);
    trainer.train();
    DOCTEST_CHECK((logged_at(trainer.state(), "eval_loss") == std::vector<double>{4, 8, 12, 14}));
  }
  args.eval_delay = 5;
  {
    Net model;
    tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy);
    trainer.train();
    DOCTEST_CHECK((logged_at(trainer.state(), "eval_loss") == std::vector<double>{8, 12, 14}));
  }
  args.eval_strategy = tt::IntervalStrategy::epoch;  // in epochs: none before epoch 2
  args.num_train_epochs = 3;
  args.eval_delay = 2;
  {
    Net model;
    tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy);
    trainer.train();
    DOCTEST_CHECK((logged_at(trainer.state(), "eval_loss", "epoch") == std::vector<double>{2, 3}));
  }
}

DOCTEST_TEST_CASE("eval_on_start evaluates once before the first step, without counting for the best metric") {
  const auto data = classification_data();
  auto args = base_arguments();
  args.eval_on_start = true;
  args.metric_for_best_model = "loss";
  std::vector<std::string> events;
  Net model;
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy, tt::NoMetrics{},
                        tt::callbacks(EvalEvents{&events}));
  trainer.train();
  DOCTEST_REQUIRE(events.size() >= 6);
  DOCTEST_CHECK((std::vector<std::string>(events.begin(), events.begin() + 6) ==
                 std::vector<std::string>{"prediction_step", "prediction_step", "prediction_step", "prediction_step",
                                          "evaluate 0", "first step"}));
  DOCTEST_CHECK((logged_at(trainer.state(), "eval_loss") == std::vector<double>{0}));
  DOCTEST_CHECK(!trainer.state().best_metric.has_value());  // the start is a sanity check only
}

DOCTEST_TEST_CASE("an eval strategy or eval_on_start without an eval dataset is an error before training") {
  Net model;
  auto args = base_arguments();
  args.eval_strategy = tt::IntervalStrategy::steps;
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, classification_data()),
                               "--eval_strategy steps needs an eval dataset: pass one to the Trainer, "
                               "or use --eval_strategy no",
                               tt::ArgumentError);
  args = base_arguments();
  args.eval_on_start = true;
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, classification_data()),
                               "--eval_on_start needs an eval dataset: pass one to the Trainer, or drop "
                               "--eval_on_start",
                               tt::ArgumentError);
}

// 2. evaluate() and predict().

DOCTEST_TEST_CASE("evaluate(dataset, prefix) evaluates the given dataset under the prefix") {
  const auto data = classification_data();
  const auto [train_set, holdout] = data.split(0.7, 3);
  Net model;
  tt::Trainer<> trainer(model, base_arguments(), train_set, tt::data::NoDataset{}, tt::loss::cross_entropy,
                        tt::metrics::accuracy);
  trainer.train();
  const auto metrics = trainer.evaluate(holdout, "holdout");
  const auto logits = eval_logits(model, holdout.inputs());
  DOCTEST_CHECK(metrics.at("holdout_loss") ==
                doctest::Approx(torch::nn::functional::cross_entropy(logits, holdout.labels()).item<double>()));
  DOCTEST_CHECK(metrics.at("holdout_accuracy") ==
                (logits.argmax(1) == holdout.labels()).to(torch::kDouble).mean().item<double>());
  for (const char* key : {"holdout_runtime", "holdout_samples_per_second", "holdout_steps_per_second", "epoch"})
    DOCTEST_CHECK_MESSAGE(metrics.contains(key), key);
  DOCTEST_CHECK(trainer.evaluate(holdout).contains("eval_loss"));  // the default prefix
  DOCTEST_CHECK_THROWS_WITH_AS(trainer.evaluate(), doctest::Contains("evaluate() needs an eval dataset"),
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("predict returns predictions, label ids and test_ metrics, and calls on_predict") {
  const auto data = classification_data();
  std::vector<std::string> events;
  Net model;
  tt::Trainer<> trainer(model, base_arguments(), data, tt::data::NoDataset{}, tt::loss::cross_entropy,
                        tt::metrics::accuracy, tt::callbacks(EvalEvents{&events}));
  const auto history_before = trainer.state().log_history.size();
  const auto output = trainer.predict(data);
  const auto logits = eval_logits(model, data.inputs());
  // The Trainer predicts in batches, eval_logits all at once: the kernels may round differently.
  DOCTEST_CHECK(torch::allclose(output.predictions, logits, 1e-5, 1e-6));
  DOCTEST_CHECK(torch::equal(output.label_ids, data.labels()));
  DOCTEST_CHECK(output.metrics.at("test_loss") ==
                doctest::Approx(torch::nn::functional::cross_entropy(logits, data.labels()).item<double>()));
  DOCTEST_CHECK(output.metrics.at("test_accuracy") ==
                (logits.argmax(1) == data.labels()).to(torch::kDouble).mean().item<double>());
  for (const char* key : {"test_runtime", "test_samples_per_second", "test_steps_per_second"})
    DOCTEST_CHECK_MESSAGE(output.metrics.contains(key), key);
  DOCTEST_CHECK(!output.metrics.contains("epoch"));  // as in Python, prediction is not logged
  DOCTEST_CHECK(trainer.state().log_history.size() == history_before);
  DOCTEST_CHECK((events == std::vector<std::string>{"prediction_step", "prediction_step", "prediction_step",
                                                    "prediction_step", "predict test_loss"}));

  // A test set without labels: predictions only, no loss, no metrics.
  events.clear();
  const auto unlabelled = trainer.predict(Unlabelled{data.inputs()}, "unlabelled");
  DOCTEST_CHECK(torch::allclose(unlabelled.predictions, logits, 1e-5, 1e-6));
  DOCTEST_CHECK(!unlabelled.label_ids.defined());
  DOCTEST_CHECK(!unlabelled.metrics.contains("unlabelled_loss"));
  DOCTEST_CHECK(!unlabelled.metrics.contains("unlabelled_accuracy"));
  DOCTEST_CHECK(unlabelled.metrics.contains("unlabelled_runtime"));
  DOCTEST_CHECK(events.back() == "predict");
}

DOCTEST_TEST_CASE("a dataset of another batch type is an error naming both types") {
  Net model;
  tt::Trainer<> trainer(model, base_arguments(), classification_data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK_THROWS_WITH_AS(trainer.predict(FeaturesData{}),
                               doctest::Contains("predict(dataset): the dataset gives batches of type"),
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(trainer.evaluate(FeaturesData{}), doctest::Contains("FeaturesBatch"), tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(trainer.evaluate(FeaturesData{}), doctest::Contains("torchtrain::data::Batch"),
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("named eval datasets give eval_<name>_loss and so on, in training and from evaluate()") {
  const auto data = classification_data();
  const auto [clean, rest] = data.split(0.5, 1);
  const tt::data::TensorDataset noisy(rest.inputs() + torch::randn_like(rest.inputs()), rest.labels());
  auto args = base_arguments();
  args.eval_strategy = tt::IntervalStrategy::epoch;
  args.metric_for_best_model = "noisy_loss";  // the eval_ prefix is optional here too
  std::vector<std::string> events;
  Net model;
  tt::Trainer<> trainer(model, args, data, tt::data::named_datasets("clean", clean, "noisy", noisy),
                        tt::loss::cross_entropy, tt::metrics::accuracy, tt::callbacks(EvalEvents{&events}));
  trainer.train();
  DOCTEST_CHECK((logged_at(trainer.state(), "eval_clean_loss") == std::vector<double>{7, 14}));
  DOCTEST_CHECK((logged_at(trainer.state(), "eval_noisy_accuracy") == std::vector<double>{7, 14}));
  DOCTEST_CHECK(std::count(events.begin(), events.end(), "evaluate 14") == 2);  // once per dataset

  const auto metrics = trainer.evaluate();
  for (const char* name : {"clean", "noisy"})
    for (const char* key : {"loss", "accuracy", "runtime", "samples_per_second", "steps_per_second"})
      DOCTEST_CHECK_MESSAGE(metrics.contains(fmt::format("eval_{}_{}", name, key)), name, key);
  DOCTEST_CHECK(metrics.at("eval_noisy_loss") == trainer.evaluate(noisy, "eval_noisy").at("eval_noisy_loss"));
  DOCTEST_CHECK(metrics.at("eval_clean_loss") == trainer.evaluate(clean).at("eval_loss"));
  double best = INFINITY;
  for (const auto& entry : trainer.state().log_history)
    if (entry.contains("eval_noisy_loss") && entry.at("step") <= 14) best = std::min(best, entry.at("eval_noisy_loss"));
  DOCTEST_CHECK(trainer.state().best_metric == best);
  DOCTEST_CHECK(trainer.evaluate(tt::data::named_datasets("a", clean, "b", noisy), "check").contains("check_b_loss"));
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::named_datasets("x", clean, "x", noisy),
                               "named_datasets: two datasets are named 'x'; give each its own name", tt::ArgumentError);
}

// 3. What compute_metrics receives.

DOCTEST_TEST_CASE("compute_metrics gets all batches concatenated, sequences of different lengths padded with -100") {
  SequenceEvaluation run;
  DOCTEST_CHECK(run.calls == 1);
  DOCTEST_CHECK((run.got.predictions.sizes() == torch::IntArrayRef{10, 4, 5}));
  DOCTEST_CHECK((run.got.label_ids.sizes() == torch::IntArrayRef{10, 4}));
  DOCTEST_CHECK(!run.got.inputs.defined());
  DOCTEST_CHECK(!run.got.losses.defined());
  run.for_each_batch([&](const tt::data::Batch& batch, const auto& rows, std::int64_t length) {
    DOCTEST_CHECK(torch::allclose(rows(run.got.predictions).slice(1, 0, length), run.model(batch.inputs)));
    DOCTEST_CHECK(torch::equal(rows(run.got.label_ids).slice(1, 0, length), batch.labels));
    DOCTEST_CHECK((rows(run.got.predictions).slice(1, length) == -100).all().template item<bool>());
    DOCTEST_CHECK((rows(run.got.label_ids).slice(1, length) == -100).all().template item<bool>());
  });
}

DOCTEST_TEST_CASE("--eval_do_concat_batches false: compute_metrics gets each batch apart, unpadded, as Python's lists") {
  SequenceEvaluation apart({"inputs"}, /*concat_batches=*/false);
  DOCTEST_CHECK(apart.calls == 1);
  DOCTEST_CHECK(!apart.got.predictions.defined());
  DOCTEST_CHECK(!apart.got.label_ids.defined());
  DOCTEST_REQUIRE(apart.got.batches.size() == 3);
  std::size_t b = 0;
  apart.for_each_batch([&](const tt::data::Batch& batch, const auto&, std::int64_t length) {
    const auto& kept = apart.got.batches[b++];
    DOCTEST_CHECK(kept.predictions.size(1) == length);  // its own length: no padding
    DOCTEST_CHECK(torch::allclose(kept.predictions, apart.model(batch.inputs)));
    DOCTEST_CHECK(torch::equal(kept.label_ids, batch.labels));
    DOCTEST_CHECK(torch::equal(kept.inputs, batch.inputs));
  });
  // Joined, they are what the Trainer concatenates (the same data and initial weights).
  SequenceEvaluation together({"inputs"});
  const auto joined = tt::concatenated(apart.got);
  DOCTEST_CHECK(torch::equal(joined.predictions, together.got.predictions));
  DOCTEST_CHECK(torch::equal(joined.label_ids, together.got.label_ids));
  DOCTEST_CHECK(torch::equal(joined.inputs, together.got.inputs));
  DOCTEST_CHECK(apart.metrics.at("eval_loss") == together.metrics.at("eval_loss"));
}

DOCTEST_TEST_CASE("--eval_do_concat_batches false: predict() returns the batches, and the built-in metrics take them") {
  const auto data = classification_data();
  Net model;
  auto args = base_arguments();
  args.per_device_eval_batch_size = 30;  // 30, 30, 30 and 10 samples
  tt::Trainer<> together(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy,
                         tt::metrics::combine(tt::metrics::accuracy, tt::metrics::f1));
  args.eval_do_concat_batches = false;
  tt::Trainer<> apart(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy,
                      tt::metrics::combine(tt::metrics::accuracy, tt::metrics::f1));
  const auto expected = together.predict(data);
  const auto got = apart.predict(data);
  DOCTEST_CHECK(!got.predictions.defined());
  DOCTEST_REQUIRE(got.batches.size() == 4);
  DOCTEST_CHECK(got.batches.back().predictions.size(0) == 10);
  DOCTEST_CHECK(torch::equal(tt::concatenated({.batches = got.batches}).predictions, expected.predictions));
  for (const char* key : {"test_accuracy", "test_f1", "test_loss"})
    DOCTEST_CHECK_MESSAGE(got.metrics.at(key) == expected.metrics.at(key), key);
}

DOCTEST_TEST_CASE("pad_and_concatenate pads dimension 1 only, and rejects other differences") {
  const auto a = torch::ones({2, 3, 2}), b = torch::full({1, 1, 2}, 2.0);
  const auto joined = tt::detail::pad_and_concatenate({a, b});
  DOCTEST_CHECK((joined.sizes() == torch::IntArrayRef{3, 3, 2}));
  DOCTEST_CHECK(torch::equal(joined.slice(0, 0, 2), a));
  DOCTEST_CHECK(torch::equal(joined[2][0], torch::full({2}, 2.0)));
  DOCTEST_CHECK((joined[2].slice(0, 1) == -100).all().item<bool>());
  DOCTEST_CHECK(torch::equal(tt::detail::pad_and_concatenate({torch::arange(3), torch::arange(2)}),
                             torch::tensor({0, 1, 2, 0, 1})));  // 1-d: concatenated as they are
  DOCTEST_CHECK_THROWS_WITH(tt::detail::pad_and_concatenate({a, torch::ones({1, 3, 4})}),
                            doctest::Contains("only dimension 1 (the sequence) may differ between batches"));
}

DOCTEST_TEST_CASE("include_for_metrics adds the inputs and each sample's batch loss") {
  SequenceEvaluation run({"inputs", "loss"});
  DOCTEST_REQUIRE(run.got.inputs.defined());
  DOCTEST_REQUIRE(run.got.losses.defined());
  DOCTEST_CHECK((run.got.inputs.sizes() == torch::IntArrayRef{10, 4, 3}));
  DOCTEST_CHECK((run.got.losses.sizes() == torch::IntArrayRef{10}));
  run.for_each_batch([&](const tt::data::Batch& batch, const auto& rows, std::int64_t length) {
    DOCTEST_CHECK(torch::equal(rows(run.got.inputs).slice(1, 0, length), batch.inputs));
    DOCTEST_CHECK((rows(run.got.inputs).slice(1, length) == -100).all().template item<bool>());
    const auto logits = run.model(batch.inputs);
    const auto loss = torch::nn::functional::cross_entropy(logits.flatten(0, 1), batch.labels.flatten());
    DOCTEST_CHECK(torch::allclose(rows(run.got.losses), loss.expand({batch.size()})));
  });
  DOCTEST_CHECK(run.metrics.at("eval_loss") ==
                doctest::Approx(run.got.losses.to(torch::kDouble).mean().item<double>()));

  auto args = base_arguments();
  args.include_for_metrics = {"inputs"};  // a batch type without inputs could not: an error, named
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(std::make_shared<TakesFeatures>(), args, FeaturesData{}, tt::data::NoDataset{},
                    tt::loss::mean_squared_error),
      "--include_for_metrics inputs: this Trainer's batches have no `inputs` tensor to hand to compute_metrics; drop "
      "it from --include_for_metrics",
      tt::ArgumentError);
}

DOCTEST_TEST_CASE("preprocess_logits_for_metrics reduces each batch's logits, with its labels, before they are kept") {
  RecordedTrainer run(base_arguments());
  const auto& data = run.data;
  auto& model = run.model;
  const auto& got = run.got;
  std::vector<std::int64_t> batch_sizes;
  run.trainer.set_preprocess_logits_for_metrics([&](const torch::Tensor& logits, const torch::Tensor& labels) {
    DOCTEST_CHECK(labels.size(0) == logits.size(0));
    batch_sizes.push_back(logits.size(0));
    return tt::metrics::argmax_logits(logits, labels);
  });
  const auto metrics = run.trainer.evaluate();
  DOCTEST_CHECK((batch_sizes == std::vector<std::int64_t>{30, 30, 30, 10}));
  DOCTEST_CHECK((got.predictions.sizes() == torch::IntArrayRef{100}));
  DOCTEST_CHECK(torch::equal(got.predictions, eval_logits(model, data.inputs()).argmax(1)));
  // The loss is still the logits' loss, and accuracy reads reduced predictions as they are.
  DOCTEST_CHECK(metrics.at("eval_loss") == doctest::Approx(torch::nn::functional::cross_entropy(
                                               eval_logits(model, data.inputs()), data.labels()).item<double>()));
  DOCTEST_CHECK(tt::metrics::accuracy(got).at("accuracy") ==
                tt::metrics::accuracy({eval_logits(model, data.inputs()), data.labels()}).at("accuracy"));
}

DOCTEST_TEST_CASE("eval_accumulation_steps moves kept outputs to the CPU every N batches, with the same results") {
  tt::detail::EvalLoopContainer container;
  container.add(torch::ones({2, 3}));
  container.add(torch::ones({2, 2}));
  DOCTEST_CHECK(container.batches_on_device() == 2);
  container.to_cpu();
  DOCTEST_CHECK(container.batches_on_device() == 0);
  container.add(torch::zeros({1, 4}));
  DOCTEST_CHECK(container.batches_on_device() == 1);
  const auto all = container.get();
  DOCTEST_CHECK((all.sizes() == torch::IntArrayRef{5, 4}));
  DOCTEST_CHECK((all.slice(0, 0, 4).slice(1, 3) == -100).all().item<bool>());  // padded across the move too
  DOCTEST_CHECK(container.batches_on_device() == 0);

  auto evaluate_with = [&](std::optional<int> steps) {
    auto args = base_arguments();
    args.eval_accumulation_steps = steps;
    RecordedTrainer run(args);
    const double loss = run.trainer.evaluate().at("eval_loss");
    DOCTEST_CHECK(run.got.predictions.device().is_cpu());
    return std::pair{run.got, loss};
  };
  const auto [all_at_end, loss] = evaluate_with(std::nullopt);
  for (int steps : {1, 3}) {
    const auto [moved, moved_loss] = evaluate_with(steps);
    DOCTEST_CHECK(torch::equal(moved.predictions, all_at_end.predictions));
    DOCTEST_CHECK(torch::equal(moved.label_ids, all_at_end.label_ids));
    DOCTEST_CHECK(moved_loss == loss);
  }
}

DOCTEST_TEST_CASE("prediction_loss_only keeps nothing but the loss") {
  auto args = base_arguments();
  args.prediction_loss_only = true;
  RecordedTrainer run(args);
  const auto metrics = run.trainer.evaluate();
  DOCTEST_CHECK(run.calls == 0);
  DOCTEST_CHECK(metrics.contains("eval_loss"));
  DOCTEST_CHECK(!metrics.contains("eval_calls"));
  const auto output = run.trainer.predict(run.data);
  DOCTEST_CHECK(!output.predictions.defined());
  DOCTEST_CHECK(!output.label_ids.defined());
  DOCTEST_CHECK(output.metrics.contains("test_loss"));
}

// The Python pattern for --batch_eval_metrics: keep counts per batch, return the metrics on the last.
struct RunningAccuracy {
  std::vector<bool>* compute_results;
  std::vector<std::int64_t>* batch_sizes;
  double correct = 0, total = 0;
  tt::Metrics operator()(const tt::EvalPrediction& prediction, bool compute_result) {
    compute_results->push_back(compute_result);
    batch_sizes->push_back(prediction.predictions.size(0));
    correct += (prediction.predictions.argmax(-1) == prediction.label_ids).sum().item<double>();
    total += static_cast<double>(prediction.label_ids.numel());
    if (!compute_result) return {};
    tt::Metrics metrics{{"accuracy", correct / total}};
    correct = total = 0;
    return metrics;
  }
};

DOCTEST_TEST_CASE("batch_eval_metrics calls compute_metrics per batch, compute_result true on the last") {
  const auto data = classification_data();
  Net model;
  std::vector<bool> compute_results;
  std::vector<std::int64_t> batch_sizes;
  auto args = base_arguments();
  args.batch_eval_metrics = true;
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy,
                        RunningAccuracy{&compute_results, &batch_sizes});
  trainer.train();
  compute_results.clear();
  batch_sizes.clear();
  const auto metrics = trainer.evaluate();
  DOCTEST_CHECK((compute_results == std::vector<bool>{false, false, false, true}));
  DOCTEST_CHECK((batch_sizes == std::vector<std::int64_t>{30, 30, 30, 10}));
  const auto logits = eval_logits(model, data.inputs());
  DOCTEST_CHECK(metrics.at("eval_accuracy") == tt::metrics::accuracy({logits, data.labels()}).at("accuracy"));
  DOCTEST_CHECK(trainer.evaluate().at("eval_accuracy") == metrics.at("eval_accuracy"));  // starts afresh
  // predict() still returns every prediction, as in Python.
  DOCTEST_CHECK((trainer.predict(data).predictions.sizes() == torch::IntArrayRef{100, 3}));

  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, data, data, tt::loss::cross_entropy, tt::metrics::accuracy),
                               doctest::Contains("--batch_eval_metrics calls compute_metrics(prediction, "
                                                 "compute_result) after every batch, but this compute_metrics "
                                                 "takes no `bool compute_result`"),
                               tt::ArgumentError);
}

// 4. Built-in metrics, on known answers.

// The labels and predictions of a fixed confusion matrix (rows: true class, columns: predicted).
tt::EvalPrediction from_confusion_matrix(const std::vector<std::vector<int>>& matrix) {
  std::vector<std::int64_t> labels, predicted;
  for (std::size_t t = 0; t < matrix.size(); ++t)
    for (std::size_t p = 0; p < matrix[t].size(); ++p)
      for (int i = 0; i < matrix[t][p]; ++i) {
        labels.push_back(static_cast<std::int64_t>(t));
        predicted.push_back(static_cast<std::int64_t>(p));
      }
  return {torch::tensor(predicted), torch::tensor(labels)};
}

DOCTEST_TEST_CASE("precision, recall and F1 (macro, micro, weighted) on a fixed confusion matrix") {
  // True positives 5, 3, 6; predicted (column sums) 7, 6, 7; actual (row sums) 6, 6, 8; 20 samples.
  const auto prediction = from_confusion_matrix({{5, 1, 0}, {2, 3, 1}, {0, 2, 6}});
  using tt::metrics::Average;
  const double p[] = {5.0 / 7, 3.0 / 6, 6.0 / 7}, r[] = {5.0 / 6, 3.0 / 6, 6.0 / 8};
  double f[3];
  for (int c = 0; c < 3; ++c) f[c] = 2 * p[c] * r[c] / (p[c] + r[c]);
  const double support[] = {6, 6, 8};
  const auto weighted = [&](const double* score) {
    return (score[0] * support[0] + score[1] * support[1] + score[2] * support[2]) / 20;
  };
  const auto value = [&](const auto& metric, const tt::EvalPrediction& of) { return metric(of).begin()->second; };
  const auto mean = [](const double* score) { return (score[0] + score[1] + score[2]) / 3; };
  DOCTEST_CHECK(value(tt::metrics::Precision{.average = Average::macro}, prediction) == doctest::Approx(mean(p)));
  DOCTEST_CHECK(value(tt::metrics::Recall{.average = Average::macro}, prediction) == doctest::Approx(mean(r)));
  DOCTEST_CHECK(value(tt::metrics::F1{.average = Average::macro}, prediction) == doctest::Approx(mean(f)));
  DOCTEST_CHECK(value(tt::metrics::Precision{.average = Average::weighted}, prediction) ==
                doctest::Approx(weighted(p)));
  DOCTEST_CHECK(value(tt::metrics::Recall{.average = Average::weighted}, prediction) == doctest::Approx(weighted(r)));
  DOCTEST_CHECK(value(tt::metrics::F1{.average = Average::weighted}, prediction) == doctest::Approx(weighted(f)));
  // Micro-averaged, single-label: every one is the accuracy, 14 / 20.
  for (double micro : {value(tt::metrics::Precision{.average = Average::micro}, prediction),
                       value(tt::metrics::Recall{.average = Average::micro}, prediction),
                       value(tt::metrics::F1{.average = Average::micro}, prediction)})
    DOCTEST_CHECK(micro == doctest::Approx(0.7));
  DOCTEST_CHECK(tt::metrics::accuracy(prediction).at("accuracy") == doctest::Approx(0.7));

  // Logits are reduced by argmax; labels -100 do not count; a class never predicted scores
  // precision 0 (scikit-learn's zero_division=0); class 1, in neither, is left out of the mean.
  auto logits = torch::full({4, 5}, -1.0);
  logits[0][0] = logits[1][2] = logits[2][2] = logits[3][0] = 1;  // predicted 0, 2, 2, 0
  const tt::EvalPrediction reduced{logits, torch::tensor({0, 3, 2, -100})};  // class 3 never predicted
  DOCTEST_CHECK(value(tt::metrics::Precision{}, reduced) == doctest::Approx((1.0 + 0.5 + 0.0) / 3));
  DOCTEST_CHECK(value(tt::metrics::Recall{}, reduced) == doctest::Approx((1.0 + 1.0 + 0.0) / 3));
  DOCTEST_CHECK(value(tt::metrics::F1{}, reduced) == doctest::Approx((1.0 + 2.0 / 3 + 0.0) / 3));
  DOCTEST_CHECK(tt::metrics::accuracy(reduced).at("accuracy") == doctest::Approx(2.0 / 3));
}

DOCTEST_TEST_CASE("perplexity, mean squared and mean absolute error on known answers") {
  // Uniform logits over 8 tokens: perplexity 8; padding positions (-100) do not count.
  auto labels = torch::randint(0, 8, {2, 5}, torch::kLong);
  labels[1][4] = -100;
  DOCTEST_CHECK(tt::metrics::perplexity({torch::zeros({2, 5, 8}), labels}).at("perplexity") == doctest::Approx(8.0));
  // The label's probability is 1/2 everywhere (logit log 3 against 3 others at 0): perplexity 2.
  auto logits = torch::zeros({6, 4});
  const auto targets = torch::tensor({0, 1, 2, 3, 0, 1});
  for (int i = 0; i < 6; ++i) logits[i][targets[i].item<std::int64_t>()] = std::log(3.0);
  DOCTEST_CHECK(tt::metrics::perplexity({logits, targets}).at("perplexity") == doctest::Approx(2.0));
  DOCTEST_CHECK_THROWS_WITH(tt::metrics::perplexity({targets, targets}),
                            doctest::Contains("do not reduce the logits with preprocess_logits_for_metrics"));

  // Errors -1, 0, 2, -4: squared 1 + 0 + 4 + 16 = 21, absolute 7, over 4.
  const tt::EvalPrediction regression{torch::tensor({1.0, 2.0, 3.0, 4.0}).view({4, 1}),
                                      torch::tensor({2.0, 2.0, 1.0, 8.0})};
  DOCTEST_CHECK(tt::metrics::mean_squared_error(regression).at("mse") == doctest::Approx(5.25));
  DOCTEST_CHECK(tt::metrics::mean_absolute_error(regression).at("mae") == doctest::Approx(1.75));

  const auto both = tt::metrics::combine(tt::metrics::mean_squared_error, tt::metrics::mean_absolute_error);
  DOCTEST_CHECK((both(regression) == tt::Metrics{{"mse", 5.25}, {"mae", 1.75}}));
  DOCTEST_CHECK_THROWS_WITH(tt::metrics::combine(tt::metrics::f1, tt::metrics::F1{})(from_confusion_matrix({{1}})),
                            doctest::Contains("two metrics are named 'f1'"));
}

// 5. Best model.

// Returns scripted values, one per evaluation, under `name`.
struct Scripted {
  std::string name;
  std::vector<double> values;
  int* call;
  tt::Metrics operator()(const tt::EvalPrediction&) const { return {{name, values.at((*call)++ % values.size())}}; }
};

DOCTEST_TEST_CASE("metric_for_best_model: a loss is better lower, other metrics higher, the eval_ prefix optional") {
  const auto data = classification_data();
  struct Case {
    std::string metric_name, metric_for_best_model;
    bool greater;
    double best;
  };
  for (const auto& c : {Case{"score", "score", true, 0.9}, Case{"score", "eval_score", true, 0.9},
                        Case{"my_loss", "my_loss", false, 0.2}, Case{"my_loss", "eval_my_loss", false, 0.2}}) {
    DOCTEST_CAPTURE(c.metric_for_best_model);
    int call = 0;
    auto args = base_arguments();
    args.max_steps = 6;
    args.eval_strategy = tt::IntervalStrategy::steps;
    args.eval_steps = 2;
    args.metric_for_best_model = c.metric_for_best_model;
    Net model;
    const std::vector<double> values = c.greater ? std::vector{0.3, 0.9, 0.5} : std::vector{0.5, 0.2, 0.7};
    tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy, Scripted{c.metric_name, values, &call});
    DOCTEST_CHECK(trainer.args().greater_is_better == c.greater);
    trainer.train();
    DOCTEST_CHECK(trainer.state().best_metric == c.best);
    DOCTEST_CHECK(trainer.state().best_global_step == 4);
  }
  // Without a name, the best model is judged by the loss (when one is needed), lower better.
  auto args = base_arguments();
  args.save_strategy = tt::SaveStrategy::best;
  args.eval_strategy = tt::IntervalStrategy::steps;
  args.output_dir = test_support::fresh_folder("best_by_loss").string();
  Net model;
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy);
  DOCTEST_CHECK(trainer.args().metric_for_best_model == "loss");
  DOCTEST_CHECK(trainer.args().greater_is_better == false);
  trainer.train();
  double lowest = INFINITY;
  for (const auto& entry : trainer.state().log_history)
    if (entry.contains("eval_loss")) lowest = std::min(lowest, entry.at("eval_loss"));
  DOCTEST_CHECK(trainer.state().best_metric == lowest);
}

// 6. Evaluation mode.

// Notes, at each forward, whether autograd records and whether the model and its dropout train.
struct ProbeImpl : torch::nn::Module {
  ProbeImpl()
      : linear(register_module("linear", torch::nn::Linear(8, 3))),
        dropout(register_module("dropout", torch::nn::Dropout(0.5))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    seen.push_back({torch::GradMode::is_enabled(), is_training(), dropout->is_training()});
    return linear(dropout(x));
  }
  struct Seen {
    bool grad_mode, training, dropout_training;
  };
  torch::nn::Linear linear;
  torch::nn::Dropout dropout;
  std::vector<Seen> seen;
};
TORCH_MODULE(Probe);

// Fails a check if a prediction carries an autograd graph.
struct NoGraph {
  tt::Metrics operator()(const tt::EvalPrediction& prediction) const {
    DOCTEST_CHECK(!prediction.predictions.requires_grad());
    DOCTEST_CHECK(!prediction.predictions.grad_fn());
    return {{"checked", 1}};
  }
};

DOCTEST_TEST_CASE("evaluation builds no autograd graph, turns dropout off, and gives the model back in train mode") {
  const auto data = classification_data();
  Probe model;
  auto args = base_arguments();
  args.max_steps = 4;
  args.eval_strategy = tt::IntervalStrategy::steps;
  args.eval_steps = 2;
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy, NoGraph{});
  trainer.train();
  // Steps 1 and 2, an evaluation of 4 batches, steps 3 and 4, another evaluation.
  DOCTEST_REQUIRE(model->seen.size() == 12);
  for (std::size_t i = 0; i < model->seen.size(); ++i) {
    const bool evaluating = (i >= 2 && i < 6) || i >= 8;
    DOCTEST_CAPTURE(i);
    DOCTEST_CHECK(model->seen[i].grad_mode == !evaluating);
    DOCTEST_CHECK(model->seen[i].training == !evaluating);
    DOCTEST_CHECK(model->seen[i].dropout_training == !evaluating);
  }
  DOCTEST_CHECK(model->is_training());
  DOCTEST_CHECK(model->dropout->is_training());

  // Dropout is off: two evaluations agree, and equal the model in eval mode by hand.
  for (auto& parameter : model->parameters()) parameter.mutable_grad() = torch::Tensor();
  const auto first = trainer.evaluate(), second = trainer.evaluate();
  DOCTEST_CHECK(first.at("eval_loss") == second.at("eval_loss"));
  torch::NoGradGuard no_grad;
  model->eval();
  DOCTEST_CHECK(first.at("eval_loss") == doctest::Approx(torch::nn::functional::cross_entropy(
                                             model->forward(data.inputs()), data.labels()).item<double>()));
  // No gradient was made, and a model given in eval mode stays there.
  for (const auto& parameter : model->parameters()) DOCTEST_CHECK(!parameter.grad().defined());
  trainer.evaluate();
  DOCTEST_CHECK(!model->is_training());
}

}  // DOCTEST_TEST_SUITE

}  // namespace evaluation_tests
