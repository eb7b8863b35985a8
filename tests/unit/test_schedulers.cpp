// Learning-rate schedules: every type equals the Python formulas at every step; get_scheduler; the trainer logs them.
#include "testing.hpp"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace schedulers_tests {

struct ReferenceRow {
  std::string type, kwargs;
  std::int64_t warmup = 0, total = 0, step = 0;
  double initial_lr = 0, factor = 0;
};

// Rows written by schedule_reference.py (the Python formulas), through CTest.
std::vector<ReferenceRow> reference_rows() {
  const char* path = std::getenv("TORCHTRAIN_SCHEDULE_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(path != nullptr, "run through CTest, which writes the reference with Python first");
  std::ifstream file(path);
  std::vector<ReferenceRow> rows;
  for (std::string line; std::getline(file, line);) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    for (std::string field; std::getline(stream, field, ';');) fields.push_back(field);
    if (fields.size() == 6) fields.insert(fields.begin() + 3, "");  // empty kwargs
    DOCTEST_REQUIRE(fields.size() == 7);
    rows.push_back({fields[0], fields[3], std::stoll(fields[1]), std::stoll(fields[2]), std::stoll(fields[5]),
                    std::stod(fields[4]), std::stod(fields[6])});
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

DOCTEST_TEST_CASE("every schedule type equals the Python formula at every step, at several settings") {
  auto rows = reference_rows();
  DOCTEST_REQUIRE(rows.size() > 500);
  std::set<std::string> types;
  for (const auto& row : rows) {
    auto type = tt::detail::parse_value<tt::SchedulerType>(row.type);
    DOCTEST_REQUIRE_MESSAGE(type.has_value(), row.type);
    types.insert(row.type);
    tt::optim::LRSchedule schedule(*type, row.warmup, row.total, tt::parse_scheduler_kwargs(row.kwargs), row.initial_lr);
    DOCTEST_INFO(row.type, " warmup ", row.warmup, " total ", row.total, " {", row.kwargs, "} step ", row.step);
    DOCTEST_CHECK(schedule.factor(row.step) == doctest::Approx(row.factor).epsilon(1e-12));
  }
  DOCTEST_CHECK(types.size() == 9);  // all but reduce_lr_on_plateau, tested below
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

DOCTEST_TEST_CASE("reduce_lr_on_plateau: PyTorch's rule on the evaluated metric") {
  std::vector<torch::Tensor> parameters;
  auto optimizer = two_group_sgd(parameters);
  auto scheduler = tt::get_scheduler("reduce_lr_on_plateau", optimizer, 0, 10,
                                     tt::parse_scheduler_kwargs("factor=0.5,patience=1,min_lr=0.015"));
  DOCTEST_CHECK(scheduler.get_last_lr() == std::vector<double>{0.1, 0.02});
  scheduler.step(1.0);   // best
  scheduler.step(1.0);   // 1 bad
  DOCTEST_CHECK(scheduler.get_last_lr() == std::vector<double>{0.1, 0.02});
  scheduler.step(0.99995);  // not better by the relative threshold 1e-4: 2 bad > patience
  DOCTEST_CHECK(scheduler.get_last_lr() == std::vector<double>{0.05, 0.015});  // floored at min_lr
  scheduler.step(0.5);  // better: no change
  DOCTEST_CHECK(scheduler.get_last_lr() == std::vector<double>{0.05, 0.015});
}

DOCTEST_TEST_CASE("the learning_rate logged at each step is the schedule's value for that step") {
  torch::manual_seed(0);
  auto inputs = torch::randn({40, 3});
  torch::nn::Linear model(3, 2);
  tt::TrainingArguments args{.max_steps = 12, .learning_rate = 0.1, .lr_scheduler_type = tt::SchedulerType::cosine_with_restarts,
                             .lr_scheduler_kwargs = "num_cycles=2", .warmup_steps = 3, .logging_steps = 1};
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

  std::stringstream saved_optimizer, saved_scheduler, saved_model;
  torch::save(*optimizer, saved_optimizer);
  torch::serialize::OutputArchive archive;
  scheduler.save(archive);
  archive.save_to(saved_scheduler);
  torch::save(model, saved_model);
  std::vector<double> uninterrupted_rates;
  run(model, *optimizer, scheduler, 5, uninterrupted_rates);

  torch::nn::Linear resumed(3, 2);
  torch::load(resumed, saved_model);
  auto resumed_optimizer = make(resumed);
  // The Python Trainer's order: the scheduler takes its initial rates from the optimizer as
  // built, before loading brings back the scheduled rates of step 3.
  auto resumed_scheduler = tt::get_scheduler("cosine", *resumed_optimizer, 2, 8);
  torch::load(*resumed_optimizer, saved_optimizer);
  torch::serialize::InputArchive input;
  input.load_from(saved_scheduler);
  resumed_scheduler.load(input);
  DOCTEST_CHECK(resumed_scheduler.steps_taken() == 3);
  std::vector<double> resumed_rates;
  run(resumed, *resumed_optimizer, resumed_scheduler, 5, resumed_rates);

  DOCTEST_CHECK(resumed_rates == uninterrupted_rates);
  DOCTEST_CHECK(torch::equal(resumed->weight, model->weight));
  DOCTEST_CHECK(torch::equal(resumed->bias, model->bias));
}

}  // DOCTEST_TEST_SUITE

}  // namespace schedulers_tests
