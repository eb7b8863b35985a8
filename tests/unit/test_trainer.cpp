// The training loop: equal to a hand-written LibTorch loop bit for bit, and what it logs and returns.
#include "testing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

namespace trainer_tests {

struct NetImpl : torch::nn::Module {
  NetImpl()
      : first(register_module("first", torch::nn::Linear(8, 16))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({16})))),
        dropout(register_module("dropout", torch::nn::Dropout(0.2))),
        last(register_module("last", torch::nn::Linear(16, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) { return last(dropout(norm(torch::relu(first(x))))); }
  torch::nn::Linear first;
  torch::nn::LayerNorm norm;
  torch::nn::Dropout dropout;
  torch::nn::Linear last;
};
TORCH_MODULE(Net);

using test_support::classification_data;
using test_support::contains;
using test_support::fresh_folder;
namespace fs = std::filesystem;

// 100 samples in micro-batches of 16: 7 batches per epoch, the last one of 4 samples.
const tt::TrainingArguments arguments{.num_train_epochs = 3,
                                      .per_device_train_batch_size = 16,
                                      .max_grad_norm = 0.5,
                                      .optim = tt::OptimizerNames::adamw_torch,  // the hand loop's torch::optim::AdamW
                                      .learning_rate = 1e-2,
                                      .weight_decay = 0.1,
                                      .warmup_steps = 5,
                                      .logging_steps = 5};

// What the hand-written loop saw at each optimizer step.
struct ReferenceRun {
  Net model{nullptr};
  std::vector<double> losses, grad_norms, learning_rates;
};

// The loop a LibTorch user would write: same seed, data order, AdamW groups, linear
// warmup and clipping, written out with LibTorch calls only.
ReferenceRun hand_written_loop(const tt::data::TensorDataset& data) {
  ReferenceRun run;
  torch::manual_seed(7);
  run.model = Net();
  torch::manual_seed(arguments.seed);
  auto& m = *run.model;
  auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.1);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector{m.first->weight, m.last->weight},
                      std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(std::vector{m.first->bias, m.norm->weight, m.norm->bias, m.last->bias},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(0)));
  torch::optim::AdamW optimizer(std::move(groups), options);

  const int total_steps = 21, warmup = 5;
  int step = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto order = torch::randperm(100, at::detail::createCPUGenerator(42 + epoch), torch::kLong);
    for (int b = 0; b < 7; ++b) {
      auto indices = order.slice(0, b * 16, (b + 1) * 16);
      auto loss = torch::nn::functional::cross_entropy(
          run.model->forward(data.inputs().index_select(0, indices)), data.labels().index_select(0, indices));
      optimizer.zero_grad();
      loss.backward();
      run.grad_norms.push_back(torch::nn::utils::clip_grad_norm_(run.model->parameters(), 0.5));
      const double factor = step < warmup ? static_cast<double>(step) / warmup
                                          : std::max(0.0, static_cast<double>(total_steps - step) / (total_steps - warmup));
      for (auto& group : optimizer.param_groups()) group.options().set_lr(1e-2 * factor);
      run.learning_rates.push_back(1e-2 * factor);
      optimizer.step();
      run.losses.push_back(loss.item<double>());
      ++step;
    }
  }
  return run;
}

// The same run through Trainer<>: same initial weights, seed and arguments.
struct TrainerRun {
  Net model;
  tt::TrainOutput result;
  std::vector<tt::Metrics> log_history;
};
TrainerRun trainer_run(const tt::data::TensorDataset& data) {
  torch::manual_seed(7);
  Net model;
  tt::Trainer<> trainer(model, arguments, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  auto result = trainer.train();
  return {model, result, trainer.state().log_history};
}

// Records the events a callback receives.
struct EventRecorder {
  std::vector<std::string>* events;
  void on_train_begin(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) {
    events->push_back("train_begin");
  }
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&) {
    events->push_back("step_end " + std::to_string(state.global_step));
  }
  void on_log(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&, const tt::Metrics& logs) {
    events->push_back(logs.contains("loss") ? "log loss" : "log other");
  }
};

// Stops training after a given step, through the control flags.
struct StopAfter {
  int step;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl& control) const {
    if (state.global_step == step) control.should_training_stop = true;
  }
};

DOCTEST_TEST_SUITE("trainer") {

DOCTEST_TEST_CASE("the trainer's final weights equal a hand-written LibTorch loop's, bit for bit") {
  auto data = classification_data();
  auto reference = hand_written_loop(data);
  auto [model, result, history] = trainer_run(data);

  DOCTEST_CHECK(result.global_step == 21);
  auto trained = model->named_parameters(), expected = reference.model->named_parameters();
  DOCTEST_REQUIRE(trained.size() == expected.size());
  for (const auto& parameter : trained) {
    DOCTEST_INFO("parameter ", parameter.key());
    DOCTEST_CHECK(torch::equal(parameter.value(), expected[parameter.key()]));
  }
  // The loop really trained: the weights moved away from their initial values.
  torch::manual_seed(7);
  Net initial;
  DOCTEST_CHECK(!torch::equal(initial->first->weight, model->first->weight));
}

DOCTEST_TEST_CASE("logs: mean loss over the interval, grad norm, learning rate used, epoch") {
  auto data = classification_data();
  auto reference = hand_written_loop(data);
  auto [model, result, history] = trainer_run(data);

  DOCTEST_REQUIRE(history.size() == 5);  // steps 5, 10, 15, 20, then the training summary
  for (int i = 0; i < 4; ++i) {
    const int step = 5 * (i + 1);
    DOCTEST_INFO("log at step ", step);
    const auto& log = history[static_cast<std::size_t>(i)];
    double mean = 0;
    for (int s = step - 5; s < step; ++s) mean += reference.losses[static_cast<std::size_t>(s)] / 5;
    DOCTEST_CHECK(log.at("step") == step);
    DOCTEST_CHECK(log.at("loss") == doctest::Approx(mean).epsilon(1e-6));  // unrounded, as transformers 5 logs it
    DOCTEST_CHECK(log.at("grad_norm") == doctest::Approx(reference.grad_norms[static_cast<std::size_t>(step - 1)]).epsilon(1e-6));
    DOCTEST_CHECK(log.at("learning_rate") == reference.learning_rates[static_cast<std::size_t>(step - 1)]);
    DOCTEST_CHECK(log.at("epoch") == doctest::Approx(step / 7 + (step % 7) / 7.0));
  }
  double mean_loss = 0;
  for (double loss : reference.losses) mean_loss += loss / 21;
  DOCTEST_CHECK(result.training_loss == doctest::Approx(mean_loss).epsilon(1e-5));
  for (const char* key : {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "epoch"})
    DOCTEST_CHECK_MESSAGE(result.metrics.contains(key), key);
  DOCTEST_CHECK(result.metrics.at("train_loss") == result.training_loss);
  DOCTEST_CHECK(result.metrics.at("epoch") == 3.0);
  DOCTEST_CHECK(history.back().at("train_runtime") == result.metrics.at("train_runtime"));
}

DOCTEST_TEST_CASE("evaluate() returns the sample-weighted eval_loss, metrics and the epoch") {
  auto data = classification_data();
  torch::manual_seed(7);
  Net model;
  auto args = arguments;
  args.per_device_eval_batch_size = 30;  // batches of 30, 30, 30 and 10 samples
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy, tt::metrics::accuracy);
  trainer.train();
  auto metrics = trainer.evaluate();

  torch::NoGradGuard no_grad;
  model->eval();
  auto logits = model->forward(data.inputs());
  auto expected_loss = torch::nn::functional::cross_entropy(logits, data.labels()).item<double>();
  auto expected_accuracy = (logits.argmax(1) == data.labels()).to(torch::kDouble).mean().item<double>();
  DOCTEST_CHECK(metrics.at("eval_loss") == doctest::Approx(expected_loss).epsilon(1e-6));
  DOCTEST_CHECK(metrics.at("eval_accuracy") == expected_accuracy);
  DOCTEST_CHECK(metrics.at("epoch") == 3.0);
  for (const char* key : {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second"})
    DOCTEST_CHECK_MESSAGE(metrics.contains(key), key);
  DOCTEST_CHECK(trainer.state().log_history.back().at("eval_loss") == metrics.at("eval_loss"));
  DOCTEST_CHECK(trainer.evaluate("test").contains("test_loss"));
}

// Holds 64 MB from the start of training on, and touches 128 MB more for a moment at step 3.
struct AllocatesMemory {
  torch::Tensor* held;
  void on_train_begin(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) const {
    *held = torch::ones({16 << 20});  // 16 Mi floats, written, so resident
  }
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&) const {
    if (state.global_step == 3) DOCTEST_CHECK(torch::ones({32 << 20}).sum().item<double>() == 32 << 20);
  }
};

DOCTEST_TEST_CASE("--skip_memory_metrics false adds Python's memory metrics to train, evaluate and predict" *
                  doctest::skip(test_support::under_address_sanitizer)) {
  auto data = classification_data();
  torch::manual_seed(7);
  Net model;
  auto args = arguments;
  args.skip_memory_metrics = false;
  args.eval_strategy = tt::IntervalStrategy::epoch;  // evaluations inside training add none of their own
  torch::Tensor held;
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy, tt::metrics::accuracy,
                        tt::callbacks(AllocatesMemory{&held}));
  const auto metrics = trainer.train().metrics;
  constexpr double megabyte = 1 << 20;
  // The 64 MB held stays allocated; the 128 MB touched and freed is a peak above the end.
  DOCTEST_CHECK(metrics.at("train_mem_cpu_alloc_delta") >= 60 * megabyte);
  DOCTEST_CHECK(metrics.at("train_mem_cpu_peaked_delta") >= 120 * megabyte);
  for (const char* key : {"init_mem_cpu_alloc_delta", "init_mem_cpu_peaked_delta", "before_init_mem_cpu"})
    DOCTEST_CHECK_MESSAGE(metrics.contains(key), key);
  DOCTEST_CHECK(metrics.at("before_init_mem_cpu") > 0);
  DOCTEST_CHECK(trainer.state().log_history.back().contains("train_mem_cpu_alloc_delta"));
  for (const auto& entry : trainer.state().log_history)
    if (entry.contains("eval_loss")) DOCTEST_CHECK_FALSE(entry.contains("eval_mem_cpu_alloc_delta"));
  const auto evaluated = trainer.evaluate();
  DOCTEST_CHECK(evaluated.contains("eval_mem_cpu_alloc_delta"));
  DOCTEST_CHECK(evaluated.contains("eval_mem_cpu_peaked_delta"));
  DOCTEST_CHECK_FALSE(evaluated.contains("init_mem_cpu_alloc_delta"));  // reported once, with train
  DOCTEST_CHECK(trainer.predict(data).metrics.contains("test_mem_cpu_alloc_delta"));
  // Off by default, as in Python.
  tt::Trainer<> quiet(model, arguments, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK_FALSE(quiet.train().metrics.contains("train_mem_cpu_alloc_delta"));
}

// A classifier that runs in the type of its weights (as a model with token inputs does).
struct CastsInputsImpl : torch::nn::Module {
  CastsInputsImpl() : layer(register_module("layer", torch::nn::Linear(8, 3))) {}
  torch::Tensor forward(const torch::Tensor& inputs) { return layer(inputs.to(layer->weight.scalar_type())); }
  torch::nn::Linear layer;
};
TORCH_MODULE(CastsInputs);

DOCTEST_TEST_CASE("--bf16_full_eval and --fp16_full_eval evaluate with the model cast to that type, as Python") {
  auto data = classification_data();
  for (auto [flag, dtype] : {std::pair{"bf16_full_eval", torch::kBFloat16}, std::pair{"fp16_full_eval", torch::kFloat16}}) {
    DOCTEST_INFO(flag);
    torch::manual_seed(7);
    CastsInputs model;
    auto args = arguments;
    args.num_train_epochs = 1;
    args.eval_strategy = tt::IntervalStrategy::epoch;
    (std::string_view(flag) == "bf16_full_eval" ? args.bf16_full_eval : args.fp16_full_eval) = true;
    tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy);
    trainer.train();
    // Training, and its evaluations, ran in float32.
    DOCTEST_CHECK((model->layer->weight.scalar_type() == torch::kFloat));
    double float32_loss = 0;
    {
      torch::NoGradGuard no_grad;
      float32_loss = torch::nn::functional::cross_entropy(model->forward(data.inputs()), data.labels()).item<double>();
    }
    const auto metrics = trainer.evaluate();
    DOCTEST_CHECK((model->layer->weight.scalar_type() == dtype));  // and it stays so, as in Python
    DOCTEST_CHECK(metrics.at("eval_loss") == doctest::Approx(float32_loss).epsilon(2e-2));
    DOCTEST_CHECK(metrics.at("eval_loss") != float32_loss);  // computed in 16 bits
  }
}

DOCTEST_TEST_CASE("on CUDA, --torch_empty_cache_steps gives the cached blocks back to the device every N steps" *
                  doctest::test_suite("cuda")) {
  auto data = classification_data();
  const auto blocks_given_back = [&](std::optional<int> every) {
    torch::manual_seed(7);
    Net model;
    auto args = arguments;
    args.use_cpu = false;
    args.num_train_epochs = 1;
    args.torch_empty_cache_steps = every;
    tt::Trainer<> trainer(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
    auto* allocator = c10::getDeviceAllocator(c10::DeviceType::CUDA);
    const auto before = allocator->getDeviceStats(0).num_device_free;
    trainer.train();
    return allocator->getDeviceStats(0).num_device_free - before;
  };
  const auto without = blocks_given_back(std::nullopt);
  const auto every_step = blocks_given_back(1);
  DOCTEST_CHECK(every_step > without);
}

DOCTEST_TEST_CASE("eval_strategy steps evaluates every eval_steps during training, and at the last step as Python") {
  auto data = classification_data();
  Net model;
  auto args = arguments;
  args.eval_strategy = tt::IntervalStrategy::steps;
  args.eval_steps = 10;
  tt::Trainer<> trainer(model, args, data, data, tt::loss::cross_entropy);
  trainer.train();
  std::vector<double> eval_steps;
  for (const auto& log : trainer.state().log_history)
    if (log.contains("eval_loss")) eval_steps.push_back(log.at("step"));
  DOCTEST_CHECK(eval_steps == std::vector<double>{10, 20, 21});  // 21 steps: the last is evaluated too
}

DOCTEST_TEST_CASE("an eval strategy without an eval dataset is an error that names the flag") {
  Net model;
  auto args = arguments;
  args.eval_strategy = tt::IntervalStrategy::epoch;
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, classification_data()),
                               "--eval_strategy epoch needs an eval dataset: pass one to the Trainer, "
                               "or use --eval_strategy no",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("absurd step counts are errors naming the flag, never a run of 0 steps; non-finite numbers are refused") {
  constexpr int most = std::numeric_limits<int>::max();
  // --max_steps 2147483647 used to overflow the epoch count to 0 epochs: it is a (long) run.
  auto plan = tt::plan_training({.max_steps = most, .per_device_train_batch_size = 8}, 1797, 1);
  DOCTEST_CHECK(plan.max_steps == most);
  DOCTEST_CHECK(plan.num_epochs == (std::int64_t{most} + 224) / 225);
  // 4.3e7 epochs of 225 steps: 9.7e9 steps, more than a run counts.
  DOCTEST_CHECK_THROWS_WITH_AS(tt::plan_training({.num_train_epochs = 4.3e7, .per_device_train_batch_size = 8}, 1797, 1),
                               doctest::Contains("--num_train_epochs 43000000 makes 9675000000 optimizer steps"),
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::plan_streaming({.max_steps = most, .per_device_train_batch_size = most}, most),
                               doctest::Contains("more than a run can count"), tt::ArgumentError);
  // An interval past every step is never reached, as in Python (it was a float-to-int overflow).
  DOCTEST_CHECK(tt::resolve_interval(1e20, 100) == most);
  DOCTEST_CHECK(tt::resolve_interval(0.25, 100) == 25);
  // inf and nan in any number field, named.
  for (double bad : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    tt::TrainingArguments args;
    args.learning_rate = bad;
    DOCTEST_CHECK_THROWS_WITH_AS(tt::validate(args), doctest::Contains("--learning_rate is "), tt::ArgumentError);
    args = {};
    args.neftune_noise_alpha = bad;
    DOCTEST_CHECK_THROWS_WITH_AS(tt::validate(args), doctest::Contains("--neftune_noise_alpha is "), tt::ArgumentError);
  }
  DOCTEST_CHECK_NOTHROW(tt::validate(tt::TrainingArguments{}));
}

DOCTEST_TEST_CASE("absurd warmups and intervals: counted in 64 bits or refused by name, never a float-to-int overflow") {
  // --warmup_steps counts in 64 bits as Python's int(): 5e9 is a warmup the run never leaves.
  DOCTEST_CHECK(tt::optim::resolve_warmup_steps({.warmup_steps = 5e9}, 100) == 5'000'000'000);
  // 1e20 was a float-to-int overflow (INT_MIN on x86: no warmup at all); now it is named.
  DOCTEST_CHECK_THROWS_WITH_AS(tt::optim::resolve_warmup_steps({.warmup_steps = 1e20}, 100),
                               doctest::Contains("--warmup_steps 1e+20 is more steps than a step counter holds"),
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::optim::resolve_warmup_steps({.warmup_ratio = -1e300}, 100),
                               doctest::Contains("--warmup_ratio must be in [0, 1]"), tt::ArgumentError);
  // The schedule of a warmup longer than the run is Python's step / warmup_steps throughout.
  const tt::optim::LRSchedule long_warmup(tt::SchedulerType::linear, 5'000'000'000, 100);
  DOCTEST_CHECK(long_warmup.factor(50) == 50 / 5e9);
  // warmup_stable_decay's phases, 10 + 2^63 - 1 steps long, overflowed int64 (UBSan): the
  // run stays in the stable phase.
  tt::SchedulerOptions options;
  options.num_stable_steps = options.num_decay_steps = std::numeric_limits<std::int64_t>::max();
  const tt::optim::LRSchedule wsd(tt::SchedulerType::warmup_stable_decay, 10, 100, options);
  DOCTEST_CHECK(wsd.factor(5) == 0.5);
  DOCTEST_CHECK(wsd.factor(50) == 1.0);
  // An interval <= 0 (allowed with a strategy other than steps, and unread) is 0: -1e20 x
  // max_steps overflowed an int, and a negative one in trainer_state.json is refused on resume.
  DOCTEST_CHECK(tt::resolve_interval(-1e20, 100) == 0);
  DOCTEST_CHECK(tt::resolve_interval(-5, 100) == 0);
  tt::TrainingArguments args{.max_steps = 10};
  args.logging_strategy = tt::IntervalStrategy::epoch;
  args.logging_steps = -1e20;
  args.save_strategy = tt::SaveStrategy::no;
  args.save_steps = -3;
  DOCTEST_CHECK_NOTHROW(tt::validate(args));
  const auto state = tt::fresh_trainer_state(tt::plan_training(args, 100, 1), args);
  DOCTEST_CHECK(state.logging_steps == 0);
  DOCTEST_CHECK(state.eval_steps == 0);
  DOCTEST_CHECK(state.save_steps == 0);
  // 2.25e302 steps are written in short, not as 303 digits.
  DOCTEST_CHECK_THROWS_WITH_AS(tt::plan_training({.num_train_epochs = 1e300, .per_device_train_batch_size = 8}, 1797, 1),
                               doctest::Contains("--num_train_epochs 1e+300 makes 2.25e+302 optimizer steps"),
                               tt::ArgumentError);
  // Epochs that are not positive never reach the conversion to int, validated or not.
  DOCTEST_CHECK_THROWS_WITH_AS(tt::plan_training({.num_train_epochs = -1e300}, 100, 1),
                               doctest::Contains("--num_train_epochs must be positive when --max_steps is not set"),
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("max_steps overrides the epochs, and fractional epochs round up to whole steps") {
  auto plan = tt::plan_training({.max_steps = 10, .per_device_train_batch_size = 16}, 100, 1);
  DOCTEST_CHECK(plan.batches_per_epoch == 7);
  DOCTEST_CHECK(plan.max_steps == 10);
  DOCTEST_CHECK(plan.num_epochs == 2);
  plan = tt::plan_training({.num_train_epochs = 1.5, .per_device_train_batch_size = 16}, 100, 2);
  DOCTEST_CHECK(plan.updates_per_epoch == 4);  // windows of 2, 2, 2 and 1 micro-batches
  DOCTEST_CHECK(plan.max_steps == 6);
  DOCTEST_CHECK(plan.num_epochs == 2);
  plan = tt::plan_training({.per_device_train_batch_size = 16, .dataloader_drop_last = true}, 100, 1);
  DOCTEST_CHECK(plan.batches_per_epoch == 6);
  DOCTEST_CHECK_THROWS_AS(tt::plan_training({.per_device_train_batch_size = 16, .dataloader_drop_last = true}, 10, 1),
                          tt::ArgumentError);

  Net model;
  tt::Trainer<> trainer(model, {.num_train_epochs = 1.5, .per_device_train_batch_size = 16},
                        classification_data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK(trainer.train().global_step == 11);  // ceil(1.5 x 7)
  DOCTEST_CHECK(trainer.state().epoch == doctest::Approx(1 + 4 / 7.0));
}

DOCTEST_TEST_CASE("gradient accumulation: one optimizer step per window, the last window short") {
  auto data = classification_data();
  Net model;
  std::vector<std::string> events;
  auto args = arguments;
  args.gradient_accumulation_steps = 3;  // windows of 3, 3 and 1 micro-batches
  args.num_train_epochs = 1;
  tt::Trainer<> trainer(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy,
                        tt::NoMetrics{}, tt::callbacks(EventRecorder{&events}));
  auto result = trainer.train();
  DOCTEST_CHECK(result.global_step == 3);
  DOCTEST_CHECK(std::count(events.begin(), events.end(), "step_end 3") == 1);
}

DOCTEST_TEST_CASE("callbacks see the events in order, and TrainerControl steers the loop") {
  auto data = classification_data();
  Net model;
  std::vector<std::string> events;
  tt::Trainer<> trainer(model, arguments, data, tt::data::NoDataset{}, tt::loss::cross_entropy,
                        tt::NoMetrics{}, tt::callbacks(EventRecorder{&events}, StopAfter{6}));
  auto result = trainer.train();
  DOCTEST_CHECK(result.global_step == 6);
  DOCTEST_CHECK(events == std::vector<std::string>{"train_begin", "step_end 1", "step_end 2", "step_end 3",
                                                   "step_end 4", "step_end 5", "log loss", "step_end 6",
                                                   "log other"});
}

DOCTEST_TEST_CASE("parameter groups: no weight decay for biases and normalization weights") {
  Net model;
  auto groups = tt::optim::weight_decay_groups(*model);
  auto same = [](const std::vector<torch::Tensor>& found, std::vector<torch::Tensor> expected) {
    if (found.size() != expected.size()) return false;
    for (std::size_t i = 0; i < found.size(); ++i)
      if (!found[i].is_same(expected[i])) return false;
    return true;
  };
  DOCTEST_CHECK(same(groups.decay, {model->first->weight, model->last->weight}));
  DOCTEST_CHECK(same(groups.no_decay, {model->first->bias, model->norm->weight, model->norm->bias, model->last->bias}));
  // By type: a LayerNorm registered under any name; by name: a plain module called "*_norm".
  DOCTEST_CHECK(tt::optim::is_normalization_layer(*torch::nn::LayerNorm(torch::nn::LayerNormOptions({4}))));
  DOCTEST_CHECK(!tt::optim::is_normalization_layer(*torch::nn::Linear(2, 2)));
  DOCTEST_CHECK(tt::optim::is_exempt_by_name("blocks.0.attention_norm.weight"));
  DOCTEST_CHECK(tt::optim::is_exempt_by_name("final.norm.scale"));
  DOCTEST_CHECK(!tt::optim::is_exempt_by_name("normalizer.weight"));
  DOCTEST_CHECK(!tt::optim::is_exempt_by_name("embedding.weight"));
}

DOCTEST_TEST_CASE("linear schedule with warmup follows the Python formula") {
  tt::optim::LRSchedule schedule(tt::SchedulerType::linear, 4, 10);
  std::vector<double> factors;
  for (int step = 0; step <= 10; ++step) factors.push_back(schedule.factor(step));
  DOCTEST_CHECK(factors == std::vector<double>{0, 0.25, 0.5, 0.75, 1, 5 / 6.0, 4 / 6.0, 3 / 6.0, 2 / 6.0, 1 / 6.0, 0});
  DOCTEST_CHECK(tt::optim::resolve_warmup_steps({.warmup_steps = 3}, 100) == 3);
  DOCTEST_CHECK(tt::optim::resolve_warmup_steps({.warmup_steps = 0.05}, 90) == 5);  // ceil(4.5)
  DOCTEST_CHECK(tt::optim::resolve_warmup_steps({.warmup_ratio = 0.1}, 95) == 10);  // ceil(9.5)
}

DOCTEST_TEST_CASE("clip_grad_norm matches LibTorch's clip_grad_norm_ exactly") {
  torch::manual_seed(3);
  std::vector<torch::Tensor> ours, theirs;
  for (auto shape : {std::vector<std::int64_t>{16, 8}, {16}, {3, 16}}) {
    auto gradient = torch::randn(shape) * 3;
    ours.push_back(torch::zeros(shape, torch::requires_grad()));
    theirs.push_back(torch::zeros(shape, torch::requires_grad()));
    ours.back().mutable_grad() = gradient.clone();
    theirs.back().mutable_grad() = gradient.clone();
  }
  const double expected = torch::nn::utils::clip_grad_norm_(theirs, 0.5);
  DOCTEST_CHECK(expected > 0.5);  // so that clipping really scales
  DOCTEST_CHECK(tt::optim::clip_grad_norm(ours, 0.5).item<double>() == expected);
  for (std::size_t i = 0; i < ours.size(); ++i) DOCTEST_CHECK(torch::equal(ours[i].grad(), theirs[i].grad()));
}

DOCTEST_TEST_CASE("--tf32 sets LibTorch's float32 precision as Python's fp32_precision; --tf32 true without a GPU is an error") {
  const auto data = test_support::classification_data();
  Net model;
  auto& context = at::globalContext();
  const auto precision = [&] { return context.float32Precision(at::Float32Backend::GENERIC, at::Float32Op::ALL); };
  const auto before = precision();
  context.setFloat32Precision(at::Float32Backend::GENERIC, at::Float32Op::ALL, at::Float32Precision::TF32);
  tt::TrainingArguments args = arguments;
  args.tf32 = false;
  tt::Trainer<> off(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK((precision() == at::Float32Precision::IEEE));
  args.tf32 = true;
  if (torch::cuda::is_available()) {
    tt::Trainer<> on(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
    DOCTEST_CHECK((precision() == at::Float32Precision::TF32));
  } else {
    DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy),
                                 "--tf32 needs a CUDA GPU (Ampere or newer); this run is on the CPU: drop --tf32",
                                 tt::ArgumentError);
  }
  args.tf32.reset();  // unset: LibTorch's setting stays as it is
  context.setFloat32Precision(at::Float32Backend::GENERIC, at::Float32Op::ALL, at::Float32Precision::TF32);
  tt::Trainer<> untouched(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK((precision() == at::Float32Precision::TF32));
  context.setFloat32Precision(at::Float32Backend::GENERIC, at::Float32Op::ALL, before);
}

DOCTEST_TEST_CASE("--full_determinism turns on deterministic kernels only, as Python's enable_full_determinism") {
  auto& context = at::globalContext();
  DOCTEST_REQUIRE(!context.deterministicAlgorithms());
  const bool cudnn_deterministic = context.deterministicCuDNN(), cudnn_benchmark = context.benchmarkCuDNN();
  context.setBenchmarkCuDNN(true);
  Net model;
  tt::Trainer<> plain(model, arguments, test_support::classification_data(), tt::data::NoDataset{},
                      tt::loss::cross_entropy);
  DOCTEST_CHECK(!context.deterministicAlgorithms());
  tt::TrainingArguments args = arguments;
  args.full_determinism = true;
  tt::Trainer<> deterministic(model, args, test_support::classification_data(), tt::data::NoDataset{},
                              tt::loss::cross_entropy);
  DOCTEST_CHECK(context.deterministicAlgorithms());
  DOCTEST_CHECK(!context.deterministicAlgorithmsWarnOnly());
  DOCTEST_CHECK(context.deterministicCuDNN());
  DOCTEST_CHECK(!context.benchmarkCuDNN());
  DOCTEST_CHECK(std::string(std::getenv("CUBLAS_WORKSPACE_CONFIG")) == ":16:8");
  // The seed is still set: the same draw as right after set_seed.
  const auto drawn = torch::rand({4});
  tt::set_seed(args.seed);
  DOCTEST_CHECK(torch::equal(drawn, torch::rand({4})));
  context.setDeterministicAlgorithms(false, false);
  context.setDeterministicCuDNN(cudnn_deterministic);
  context.setBenchmarkCuDNN(cudnn_benchmark);
}

DOCTEST_TEST_CASE("LossSum adds every loss, also past the folding point, and resets, on the device or the host") {
  DOCTEST_CHECK(tt::LossSum::where_for(torch::kCPU) == tt::LossSum::Where::host);
  DOCTEST_CHECK(tt::LossSum::where_for(torch::Device(torch::kCUDA, 0)) == tt::LossSum::Where::device);
  for (const auto where : {tt::LossSum::Where::device, tt::LossSum::Where::host}) {
    DOCTEST_INFO("host: " << (where == tt::LossSum::Where::host));
    tt::LossSum sum(where);
    DOCTEST_CHECK(!sum.sum().defined());
    double expected = 0;
    for (int i = 0; i < 600; ++i) {  // folds twice on the way
      sum.add(torch::tensor(static_cast<float>(i % 7)));
      expected += i % 7;
    }
    DOCTEST_CHECK(sum.sum().item<double>() == expected);
    sum.add(torch::tensor(1.0f));
    DOCTEST_CHECK(sum.sum().item<double>() == expected + 1);

    // Saved with losses pending and read back by either kind: the same sum, and it goes on.
    torch::serialize::OutputArchive archive;
    sum.save(archive);
    std::ostringstream bytes;
    archive.save_to(bytes);
    for (const auto reader_where : {tt::LossSum::Where::device, tt::LossSum::Where::host}) {
      torch::serialize::InputArchive input;
      std::istringstream stream(bytes.str());
      input.load_from(stream);
      tt::LossSum loaded(reader_where);
      loaded.load(input, torch::kCPU);
      loaded.add(torch::tensor(2.0f));
      DOCTEST_CHECK(loaded.sum().item<double>() == expected + 3);
    }
    sum.reset();
    DOCTEST_CHECK(!sum.sum().defined());
  }
}

DOCTEST_TEST_CASE("NonFiniteWatch finds the first NaN or infinity of each quantity with its step, once, read on the host or late from the device") {
  using Watch = tt::NonFiniteWatch;
  tt::SingleDevice strategy;
  for (const bool read_each_value : {true, false}) {
    DOCTEST_INFO("read each value: " << read_each_value);
    Watch watch;
    watch.begin(read_each_value, {});
    for (int step = 1; step <= 600; ++step) {  // past the bound of the values waiting on a device
      watch.add(Watch::loss, step, torch::tensor(step >= 300 ? NAN : 1.0f));
      watch.add(Watch::grad_norm, step, torch::tensor(step == 450 ? INFINITY : 2.0f, torch::kFloat64));
    }
    const auto found = watch.take_findings(strategy);
    DOCTEST_REQUIRE(found.size() == 2);
    DOCTEST_CHECK(found[0].key() == "first_non_finite_loss");
    DOCTEST_CHECK(found[0].step == 300);
    DOCTEST_CHECK(std::isnan(found[0].value));
    DOCTEST_CHECK(found[1].key() == "first_non_finite_grad_norm");
    DOCTEST_CHECK(found[1].step == 450);
    DOCTEST_CHECK(found[1].value == INFINITY);
    watch.add(Watch::loss, 601, torch::tensor(-INFINITY));
    DOCTEST_CHECK(watch.take_findings(strategy).empty());  // each once per run

    // A resumed run whose log history reports the loss reports only the gradient norm.
    watch.begin(read_each_value, {tt::Metrics{{"first_non_finite_loss", NAN}, {"step", 3}}});
    watch.add(Watch::loss, 4, torch::tensor(NAN));
    watch.add(Watch::grad_norm, 4, torch::tensor(NAN));
    const auto after_resume = watch.take_findings(strategy);
    DOCTEST_REQUIRE(after_resume.size() == 1);
    DOCTEST_CHECK(after_resume[0].quantity == Watch::grad_norm);
  }
}

// A loss whose value turns NaN from a given call on, or whose gradient does (sqrt at 0).
struct TurnsNonFinite {
  std::shared_ptr<int> calls = std::make_shared<int>(0);
  int from_call;
  bool in_gradient = false;
  torch::Tensor operator()(const torch::Tensor& output, const tt::data::Batch& batch) const {
    auto loss = tt::loss::cross_entropy(output, batch);
    if (++*calls < from_call) return loss;
    return in_gradient ? loss + torch::sqrt(output.sum() * 0) : loss + torch::full({}, NAN);
  }
};

DOCTEST_TEST_CASE("a diverged run says at which step its loss or gradient norm stopped being finite, records it in trainer_state.json, and --debug underflow_overflow stops there") {
  const auto data = classification_data();
  const auto run = [&](TurnsNonFinite loss, std::vector<std::string> debug, const std::string& name) {
    torch::manual_seed(7);
    Net model;
    auto args = arguments;
    args.output_dir = fresh_folder(name).string();
    args.max_steps = 12;
    args.debug = std::move(debug);
    tt::Trainer<tt::NoCheckpoint> trainer(model, args, data, tt::data::NoDataset{}, loss);
    std::string error;
    const std::string warnings = test_support::stderr_of([&] {
      try {
        trainer.train();
      } catch (const tt::TrainingError& stopped) {
        error = stopped.what();
      }
    });
    return std::tuple{trainer.state(), warnings, error};
  };
  const auto entries_with = [](const tt::TrainerState& state, const std::string& key) {
    std::vector<tt::Metrics> found;
    std::ranges::copy_if(state.log_history, std::back_inserter(found), [&](const auto& e) { return e.contains(key); });
    return found;
  };

  // The loss turns NaN at step 5: said once, with the step and the value; training goes on.
  const auto [state, warnings, error] = run({.from_call = 5}, {}, "diverged");
  DOCTEST_CHECK(error.empty());
  DOCTEST_CHECK(state.global_step == 12);
  const auto loss_entries = entries_with(state, "first_non_finite_loss");
  DOCTEST_REQUIRE(loss_entries.size() == 1);
  DOCTEST_CHECK(loss_entries[0].at("step") == 5);
  DOCTEST_CHECK(std::isnan(loss_entries[0].at("first_non_finite_loss")));
  DOCTEST_CHECK(contains(warnings, "step 5: the training loss is NaN"));
  DOCTEST_CHECK(contains(warnings, "--debug underflow_overflow"));
  DOCTEST_CHECK(warnings.find("the training loss is") == warnings.rfind("the training loss is"));
  // trainer_state.json keeps it, NaN written as Python's json writes it.
  const auto json = tt::trainer_state_json(state);
  DOCTEST_CHECK(contains(json, "\"first_non_finite_loss\": NaN"));
  const auto read_back = tt::trainer_state_from_json(json, "trainer_state.json");
  DOCTEST_CHECK(entries_with(read_back, "first_non_finite_loss").size() == 1);

  // A NaN gradient (finite loss) at step 3: the gradient norm is reported there, then the
  // loss of step 4, computed with the weights the NaN step left.
  const auto [gradient_state, gradient_warnings, gradient_error] =
      run({.from_call = 3, .in_gradient = true}, {}, "diverged_gradient");
  const auto norm_entries = entries_with(gradient_state, "first_non_finite_grad_norm");
  DOCTEST_REQUIRE(norm_entries.size() == 1);
  DOCTEST_CHECK(norm_entries[0].at("step") == 3);
  DOCTEST_CHECK(entries_with(gradient_state, "first_non_finite_loss").at(0).at("step") == 4);
  DOCTEST_CHECK(contains(gradient_warnings, "step 3: the training grad_norm is NaN"));

  // --debug underflow_overflow: a TrainingError at step 5 naming the value and the fix, and
  // the log history up to there in output_dir/trainer_state.json.
  const auto [stopped_state, stopped_warnings, stopped_error] = run({.from_call = 5}, {"underflow_overflow"}, "stopped");
  DOCTEST_CHECK(stopped_state.global_step == 5);
  DOCTEST_CHECK(contains(stopped_error, "step 5: the training loss is NaN"));
  DOCTEST_CHECK(contains(stopped_error, "--learning_rate"));
  const auto saved = fs::path("test_folders") / "stopped" / "trainer_state.json";
  DOCTEST_REQUIRE(fs::exists(saved));
  std::ifstream in(saved);
  const std::string saved_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  DOCTEST_CHECK(contains(saved_text, "first_non_finite_loss"));

  // Python's other debug option, and a misspelt one, are refused by name.
  tt::TrainingArguments tpu = arguments;
  tpu.debug = {"tpu_metrics_debug"};
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate(tpu), doctest::Contains("--debug tpu_metrics_debug"), tt::ArgumentError);
  tpu.debug = {"underflow"};
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate(tpu), doctest::Contains("underflow_overflow"), tt::ArgumentError);
}

DOCTEST_TEST_CASE("a best-model metric that is NaN is never the best, and the run says so and what it loads at the end") {
  const auto data = classification_data();
  auto [train_set, eval_set] = data.split(0.8, 3);
  torch::manual_seed(7);
  Net model;
  auto args = arguments;
  args.output_dir = fresh_folder("nan_best").string();
  args.max_steps = 6;
  args.eval_strategy = tt::IntervalStrategy::steps;
  args.eval_steps = 3;
  args.save_steps = 3;
  args.load_best_model_at_end = true;
  args.metric_for_best_model = "loss";
  args.greater_is_better = false;
  // Every evaluation's loss is NaN; training's stays finite (evaluation runs without gradients).
  const auto loss = [](const torch::Tensor& output, const tt::data::Batch& batch) {
    const bool evaluating = !at::GradMode::is_enabled() || c10::InferenceMode::is_enabled();
    return evaluating ? tt::loss::cross_entropy(output, batch) + torch::full({}, NAN) : tt::loss::cross_entropy(output, batch);
  };
  tt::Trainer<> trainer(model, args, train_set, eval_set, loss);
  const std::string warnings = test_support::stderr_of([&] { trainer.train(); });
  DOCTEST_CHECK(!trainer.state().best_model_checkpoint.has_value());
  DOCTEST_CHECK(contains(warnings, "step 3: --metric_for_best_model loss is NaN: not the best, and no evaluation has been the best yet"));
  DOCTEST_CHECK(contains(warnings, "--load_best_model_at_end: no checkpoint of this run holds a best model"));
  DOCTEST_CHECK(contains(warnings, "keeps the last step's weights"));
}

}  // DOCTEST_TEST_SUITE

}  // namespace trainer_tests
