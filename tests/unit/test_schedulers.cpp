// Learning-rate schedules: every type equals the Python formulas at every step; get_scheduler; the trainer logs them.
#include "testing.hpp"

#include <cstdlib>
#include <memory>
#include <optional>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace schedulers_tests {

struct ReferenceRow {
  std::string type, kwargs;
  std::int64_t warmup = 0, total = 0, step = 0;
  double initial_lr = 0;
  std::optional<double> metric;
  double lr = 0;
};

// Rows written by schedule_reference.py (transformers.get_scheduler), through CTest.
std::vector<ReferenceRow> reference_rows() {
  const char* path = std::getenv("TORCHTRAIN_SCHEDULE_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(path != nullptr, "run through CTest, which writes the reference with Python first");
  std::ifstream file(path);
  std::vector<ReferenceRow> rows;
  for (std::string line; std::getline(file, line);) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    for (std::string field; std::getline(stream, field, ';');) fields.push_back(field);
    DOCTEST_REQUIRE_MESSAGE(fields.size() == 8, line);
    rows.push_back({fields[0], fields[3], std::stoll(fields[1]), std::stoll(fields[2]), std::stoll(fields[5]),
                    std::stod(fields[4]), fields[6].empty() ? std::nullopt : std::optional(std::stod(fields[6])),
                    std::stod(fields[7])});
  }
  return rows;
}

torch::optim::SGD two_group_sgd(std::vector<torch::Tensor>& parameters) {
  parameters = {torch::zeros({1}, torch::requires_grad()), torch::zeros({1}, torch::requires_grad())};
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector{parameters[0]}, std::make_unique<torch::optim::SGDOptions>(0.1));
  groups.emplace_back(std::vector{parameters[1]}, std::make_unique<torch::optim::SGDOptions>(0.02));
  return torch::optim::SGD(std::move(groups), torch::optim::SGDOptions(0.1));
}

DOCTEST_TEST_SUITE("schedulers") {

DOCTEST_TEST_CASE("every schedule of transformers.get_scheduler gives the same learning rate at every step") {
  const auto rows = reference_rows();
  DOCTEST_REQUIRE(rows.size() > 500);
  std::set<std::string> types;
  // Rows come one run after another: a new run starts at step 0.
  std::vector<torch::Tensor> parameters{torch::zeros({1}, torch::requires_grad())};
  std::unique_ptr<torch::optim::SGD> optimizer;
  std::optional<tt::optim::LRScheduler> scheduler;
  for (const auto& row : rows) {
    DOCTEST_INFO(row.type, " warmup ", row.warmup, " total ", row.total, " ", row.kwargs, " step ", row.step);
    if (row.step == 0) {
      optimizer = std::make_unique<torch::optim::SGD>(parameters, torch::optim::SGDOptions(row.initial_lr));
      // lr_scheduler_kwargs as Python gives it: a JSON object.
      scheduler.emplace(tt::get_scheduler(row.type, *optimizer, row.warmup, row.total,
                                          tt::parse_scheduler_kwargs(row.kwargs)));
      types.insert(row.type);
    } else if (!row.metric) {
      scheduler->step();
    }
    if (row.metric) scheduler->step(*row.metric);
    DOCTEST_CHECK(scheduler->last_lr() == doctest::Approx(row.lr).epsilon(1e-12));
  }
  DOCTEST_CHECK(types.size() == tt::enum_names(tt::SchedulerType{}).size());
}

DOCTEST_TEST_CASE("get_scheduler: LambdaLR semantics for every parameter group, and unknown names listed") {
  std::vector<torch::Tensor> parameters;
  auto optimizer = two_group_sgd(parameters);
  auto scheduler = tt::get_scheduler("cosine", optimizer, 2, 10, tt::parse_scheduler_kwargs("num_cycles=1"));
  tt::optim::LRSchedule schedule(tt::SchedulerType::cosine, 2, 10, tt::parse_scheduler_kwargs("num_cycles=1"));
  for (int step = 0; step <= 10; ++step) {
    auto rates = scheduler.get_last_lr();
    DOCTEST_REQUIRE(rates.size() == 2);
    DOCTEST_CHECK(rates[0] == doctest::Approx(0.1 * schedule.factor(step)));
    DOCTEST_CHECK(rates[1] == doctest::Approx(0.02 * schedule.factor(step)));
    scheduler.step();
  }
  DOCTEST_CHECK_THROWS_WITH_AS(tt::get_scheduler("cosin", optimizer, 0, 10),
                               doctest::Contains("unknown scheduler 'cosin'; known: {linear|cosine|cosine_with_restarts|"),
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::parse_scheduler_kwargs("num_cycle=2"),
                               "--lr_scheduler_kwargs: unknown name 'num_cycle'", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_AS(tt::get_scheduler("warmup_stable_decay", optimizer, 0, 10), tt::ArgumentError);
  DOCTEST_CHECK_THROWS_AS(tt::get_scheduler("cosine_with_min_lr", optimizer, 0, 10), tt::ArgumentError);
}

// Before this check a negative last_epoch loaded and set the rates of no step of the run:
// in a warmup, negative ones, and training climbed the loss without a word.
DOCTEST_TEST_CASE("a scheduler.pt whose step or counts no run reaches is refused, and the schedule keeps its step") {
  std::vector<torch::Tensor> parameters;
  auto optimizer = two_group_sgd(parameters);
  auto scheduler = tt::get_scheduler("linear", optimizer, 4, 10);
  for (int step = 0; step < 3; ++step) scheduler.step();
  const auto rates = scheduler.get_last_lr();
  // The scheduler.pt of `from`'s state with `key` set to `value`.
  const auto changed_state = [](const tt::optim::LRScheduler& from, const char* key, c10::IValue value) {
    auto state = from.state_dict().toGenericDict();
    state.insert_or_assign(key, std::move(value));
    return tt::io::torch_load_bytes(tt::io::torch_save_bytes(state), "scheduler.pt");
  };
  const auto changed = [&](const char* key, c10::IValue value) { return changed_state(scheduler, key, std::move(value)); };
  DOCTEST_CHECK_THROWS_WITH_AS(scheduler.load_state_dict(changed("last_epoch", std::int64_t{-5}), "scheduler.pt"),
                               "cannot restore the learning-rate schedule from 'scheduler.pt': its 'last_epoch' is -5, "
                               "which no run reaches: the file was edited or is damaged; resume from another checkpoint",
                               tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      scheduler.load_state_dict(changed("last_epoch", std::int64_t{1} << 40), "scheduler.pt"),
      doctest::Contains("its 'last_epoch' is 1099511627776, which no run reaches"), tt::FileError);
  DOCTEST_CHECK(scheduler.steps_taken() == 3);
  DOCTEST_CHECK(scheduler.get_last_lr() == rates);
  scheduler.load_state_dict(changed("last_epoch", std::int64_t{1}), "scheduler.pt");  // a step a run reaches
  DOCTEST_CHECK(scheduler.steps_taken() == 1);

  // A plateau schedule's counters and best metric, likewise.
  auto plateau = tt::get_scheduler("reduce_lr_on_plateau", optimizer, 0, 10);
  const auto plateau_changed = [&](const char* key, c10::IValue value) {
    return changed_state(plateau, key, std::move(value));
  };
  DOCTEST_CHECK_THROWS_WITH_AS(plateau.load_state_dict(plateau_changed("num_bad_epochs", std::int64_t{-1}), "scheduler.pt"),
                               doctest::Contains("its 'num_bad_epochs' is -1, which no run reaches"), tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      plateau.load_state_dict(plateau_changed("best", std::numeric_limits<double>::quiet_NaN()), "scheduler.pt"),
      doctest::Contains("its 'best' is nan, which no run reaches"), tt::FileError);
  DOCTEST_CHECK_NOTHROW(  // a plateau schedule's best before any evaluation
      plateau.load_state_dict(plateau_changed("best", std::numeric_limits<double>::infinity()), "scheduler.pt"));
}

DOCTEST_TEST_CASE("reduce_lr_on_plateau and greedy step on metric_for_best_model, of a named eval set too") {
  torch::manual_seed(0);
  auto inputs = torch::randn({40, 3});
  const tt::data::TensorDataset data(inputs, inputs.argmax(1) % 2);
  const auto [clean, noisy] = data.split(0.5, 1);
  for (const char* type : {"reduce_lr_on_plateau", "greedy"}) {
    DOCTEST_INFO(type);
    torch::nn::Linear model(3, 2);
    tt::TrainingArguments args{.max_steps = 12, .learning_rate = 0.1,
                               .lr_scheduler_type = *tt::detail::parse_value<tt::SchedulerType>(type),
                               .lr_scheduler_kwargs = R"({"patience": 0, "factor": 0.5, "mode": "max"})",
                               .logging_steps = 1, .eval_strategy = tt::IntervalStrategy::steps, .eval_steps = 2,
                               .save_strategy = tt::SaveStrategy::no, .metric_for_best_model = "noisy_loss"};
    tt::Trainer<> trainer(model, args, data, tt::data::named_datasets("clean", clean, "noisy", noisy),
                          tt::loss::cross_entropy);
    trainer.train();
    // Replayed on the logged eval_noisy_loss: the rate after each evaluation is the one
    // the next step logs.
    std::vector<torch::Tensor> parameters{torch::zeros({1}, torch::requires_grad())};
    torch::optim::SGD optimizer(parameters, torch::optim::SGDOptions(0.1));
    auto replay = tt::get_scheduler(type, optimizer, 0, 12, tt::parse_scheduler_kwargs(*args.lr_scheduler_kwargs));
    double expected = replay.last_lr();
    int checked = 0;
    for (const auto& entry : trainer.state().log_history) {
      if (entry.contains("eval_noisy_loss")) replay.step(entry.at("eval_noisy_loss"));
      if (entry.contains("learning_rate")) {
        DOCTEST_CHECK(entry.at("learning_rate") == expected);
        ++checked;
      }
      expected = replay.last_lr();
    }
    DOCTEST_CHECK(checked == 12);
    DOCTEST_CHECK(replay.last_lr() < 0.1);  // the rule did act
  }
}

DOCTEST_TEST_CASE("the learning_rate logged at each step is the schedule's value for that step") {
  torch::manual_seed(0);
  auto inputs = torch::randn({40, 3});
  torch::nn::Linear model(3, 2);
  tt::TrainingArguments args{.max_steps = 12, .learning_rate = 0.1, .lr_scheduler_type = tt::SchedulerType::cosine_with_restarts,
                             .lr_scheduler_kwargs = R"({"num_cycles": 2})", .warmup_steps = 3, .logging_steps = 1};
  tt::Trainer<> trainer(model, args, tt::data::TensorDataset(inputs, inputs.argmax(1) % 2), tt::data::NoDataset{},
                        tt::loss::cross_entropy);
  trainer.train();
  tt::optim::LRSchedule schedule(tt::SchedulerType::cosine_with_restarts, 3, 12, tt::parse_scheduler_kwargs("num_cycles=2"));
  const auto& history = trainer.state().log_history;
  for (int step = 1; step <= 12; ++step) {
    DOCTEST_INFO("step ", step);
    DOCTEST_CHECK(history[static_cast<std::size_t>(step - 1)].at("learning_rate") == 0.1 * schedule.factor(step - 1));
  }
}

DOCTEST_TEST_CASE("reduce_lr_on_plateau needs an evaluation strategy; bad kwargs fail before training") {
  torch::nn::Linear model(3, 2);
  auto data = tt::data::TensorDataset(torch::randn({8, 3}), torch::zeros({8}, torch::kLong));
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(model, {.lr_scheduler_type = tt::SchedulerType::reduce_lr_on_plateau}, data),
      "--lr_scheduler_type reduce_lr_on_plateau steps on evaluation results: set --eval_strategy steps or epoch",
      tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, {.lr_scheduler_kwargs = "power=two"}, data),
                               "--lr_scheduler_kwargs: power expects float, got 'two'", tt::ArgumentError);
}

}  // DOCTEST_TEST_SUITE

DOCTEST_TEST_SUITE("schedulers") {

DOCTEST_TEST_CASE("a saved and reloaded optimizer and scheduler continue with identical rates and updates") {
  auto run = [](torch::nn::Linear& model, torch::optim::Optimizer& optimizer, tt::optim::LRScheduler& scheduler,
                int steps, std::vector<double>& rates) {
    for (int step = 0; step < steps; ++step) {
      torch::manual_seed(100 + static_cast<std::uint64_t>(scheduler.steps_taken()));
      optimizer.zero_grad();
      model->forward(torch::randn({4, 3})).pow(2).sum().backward();
      rates.push_back(scheduler.get_last_lr()[0]);
      optimizer.step();
      scheduler.step();
    }
  };
  auto make = [](torch::nn::Linear& model) {
    using Optimizer = tt::optim::Resumable<torch::optim::AdamW, torch::optim::AdamWOptions>;
    return std::make_unique<Optimizer>(model->parameters(), torch::optim::AdamWOptions(0.1));
  };
  torch::manual_seed(0);
  torch::nn::Linear model(3, 2);
  auto optimizer = make(model);
  auto scheduler = tt::get_scheduler("cosine", *optimizer, 2, 8);
  std::vector<double> rates;
  run(model, *optimizer, scheduler, 3, rates);

  // As a checkpoint holds them: Python's state dicts, in torch.save's format.
  const auto saved_optimizer = tt::optim::optimizer_file_bytes(*optimizer, scheduler.initial_lrs());
  const auto saved_scheduler = tt::io::torch_save_bytes(scheduler.state_dict());
  std::stringstream saved_model;
  torch::save(model, saved_model);
  std::vector<double> uninterrupted_rates;
  run(model, *optimizer, scheduler, 5, uninterrupted_rates);

  torch::nn::Linear resumed(3, 2);
  torch::load(resumed, saved_model);
  auto resumed_optimizer = make(resumed);
  // The Python Trainer's order: the scheduler takes its initial rates from the optimizer as
  // built, before loading brings back the scheduled rates of step 3.
  auto resumed_scheduler = tt::get_scheduler("cosine", *resumed_optimizer, 2, 8);
  tt::optim::load_optimizer_file(*resumed_optimizer, saved_optimizer, "optimizer.pt");
  resumed_scheduler.load_state_dict(tt::io::torch_load_bytes(saved_scheduler, "scheduler.pt"), "scheduler.pt");
  DOCTEST_CHECK(resumed_scheduler.steps_taken() == 3);
  std::vector<double> resumed_rates;
  run(resumed, *resumed_optimizer, resumed_scheduler, 5, resumed_rates);

  DOCTEST_CHECK(resumed_rates == uninterrupted_rates);
  DOCTEST_CHECK(torch::equal(resumed->weight, model->weight));
  DOCTEST_CHECK(torch::equal(resumed->bias, model->bias));
}

}  // DOCTEST_TEST_SUITE

}  // namespace schedulers_tests
