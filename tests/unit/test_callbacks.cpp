// Callbacks: the Python event sequence, what hooks receive, each control flag, EarlyStopping, run-time callbacks.
#include "testing.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/hana/at.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/recording_callback.hpp"

namespace fs = std::filesystem;

namespace callbacks_tests {

tt::data::TensorDataset regression_data(int samples) {
  torch::manual_seed(3);
  auto inputs = torch::randn({samples, 4});
  return {inputs, inputs.sum(1, true)};
}

using test_support::fresh_folder;

// Records every event by name (RecordingCallback's hooks, and its own below), and checks what
// the hooks receive.
struct Recorder : test_support::RecordingCallback<Recorder> {
  std::vector<std::string>* events;
  const torch::nn::Module* expected_model;

  void record(const char* hook, const tt::TrainerState&, const tt::TrainerControl&, auto& objects) {
    DOCTEST_CHECK(&*objects.model == expected_model);
    events->push_back(hook);
  }
  // During training the optimizer and the schedule are there, and are the run's.
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&, auto& objects) {
    DOCTEST_REQUIRE(objects.optimizer != nullptr);
    DOCTEST_REQUIRE(objects.lr_scheduler != nullptr);
    DOCTEST_CHECK(objects.lr_scheduler->last_lr() == objects.optimizer->param_groups().front().options().get_lr());
    DOCTEST_CHECK(state.global_step >= 1);
    events->push_back("on_step_end");
  }
  void on_log(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&, const tt::Metrics& logs) {
    DOCTEST_CHECK(logs.contains("epoch"));
    events->push_back("on_log");
  }
  void on_evaluate(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&,
                   const tt::Metrics& metrics) {
    DOCTEST_CHECK(metrics.contains("eval_loss"));
    events->push_back("on_evaluate");
  }
};

std::vector<std::string> read_lines(const char* path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// A small run whose flow a callback steers: 8 samples in batches of 2, 4 steps per epoch.
struct Steered {
  torch::nn::Linear model{4, 1};
  std::vector<tt::Metrics> logs;
  int global_step = 0;
  std::vector<double> epochs_at_step_end;
};

template <class Callback>
Steered run_steered(tt::TrainingArguments args, Callback callback) {
  const auto data = regression_data(8);
  Steered run;
  args.per_device_train_batch_size = 2;
  args.per_device_eval_batch_size = 4;
  struct Epochs {
    std::vector<double>* epochs;
    void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&) {
      epochs->push_back(state.epoch);
    }
  };
  tt::Trainer<> trainer(run.model, args, data, data, tt::loss::mean_squared_error, tt::NoMetrics{},
                        tt::callbacks(callback, Epochs{&run.epochs_at_step_end}));
  run.global_step = trainer.train().global_step;
  run.logs = trainer.state().log_history;
  return run;
}

// A metric that takes given values, one per evaluation, to steer EarlyStopping.
struct ScriptedScore {
  std::vector<double> values;
  std::shared_ptr<std::size_t> next = std::make_shared<std::size_t>(0);
  tt::Metrics operator()(const tt::EvalPrediction&) const { return {{"score", values.at((*next)++)}}; }
};

// Runs the model in eval mode without autograd every `every` steps, as a sampling callback does.
struct Probe {
  int every = 2;
  std::vector<int>* sampled_at;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&, auto& objects) {
    if (state.global_step % every != 0) return;
    auto& model = objects.model;
    DOCTEST_CHECK(model->is_training());
    model->eval();
    {
      torch::NoGradGuard no_grad;
      auto output = model->forward(torch::randn({1, 4}));
      DOCTEST_CHECK_FALSE(output.requires_grad());
    }
    model->train();
    sampled_at->push_back(state.global_step);
  }
};

DOCTEST_TEST_SUITE("callbacks") {

DOCTEST_TEST_CASE("events come in the Python Trainer's order, with accumulation, evaluation and saving") {
  const char* reference = std::getenv("TORCHTRAIN_CALLBACK_EVENTS_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(reference, "set TORCHTRAIN_CALLBACK_EVENTS_REFERENCE (tests/unit/callback_events_reference.py)");
  // The settings of the Python run in callback_events_reference.py.
  const auto data = regression_data(8);
  const auto eval_data = regression_data(4);
  tt::TrainingArguments args{.output_dir = fresh_folder("events").string(),
                             .num_train_epochs = 2,
                             .per_device_train_batch_size = 2,
                             .per_device_eval_batch_size = 2,
                             .gradient_accumulation_steps = 2,
                             .logging_steps = 2,
                             .eval_strategy = tt::IntervalStrategy::steps,
                             .eval_steps = 2,
                             .save_steps = 4};
  std::vector<std::string> events;
  torch::nn::Linear model(4, 1);
  tt::Trainer<> trainer(model, args, data, eval_data, tt::loss::mean_squared_error, tt::NoMetrics{},
                        tt::callbacks(Recorder{{}, &events, &*model}));
  trainer.train();
  DOCTEST_CHECK(events == read_lines(reference));
}

DOCTEST_TEST_CASE("each control flag set by a callback changes the loop as in Python") {
  const auto output_dir = fresh_folder("flags");
  tt::TrainingArguments quiet{.output_dir = output_dir.string(),
                              .num_train_epochs = 3,
                              .logging_strategy = tt::IntervalStrategy::no,
                              .save_strategy = tt::SaveStrategy::no};
  // The loop clears each flag once it has acted, so a callback sets it at one step.
  struct SetAt {
    bool tt::TrainerControl::*flag;
    int step;
    void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl& control) const {
      if (state.global_step == step) control.*flag = true;
    }
  };

  DOCTEST_SUBCASE("should_training_stop ends the run after that step") {
    const auto run = run_steered(quiet, SetAt{&tt::TrainerControl::should_training_stop, 3});
    DOCTEST_CHECK(run.global_step == 3);
  }
  DOCTEST_SUBCASE("should_epoch_stop ends the epoch, and the next one starts") {
    struct StopEachEpoch {
      void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl& control) const {
        if (state.epoch - std::floor(state.epoch) == 0.5) control.should_epoch_stop = true;  // 2 of 4 steps
      }
    };
    const auto run = run_steered(quiet, StopEachEpoch{});
    DOCTEST_CHECK(run.global_step == 6);
    DOCTEST_CHECK(run.epochs_at_step_end == std::vector<double>{0.25, 0.5, 1.25, 1.5, 2.25, 2.5});
  }
  DOCTEST_SUBCASE("should_log logs at that step only") {
    const auto run = run_steered(quiet, SetAt{&tt::TrainerControl::should_log, 5});
    DOCTEST_REQUIRE(run.logs.size() == 2);  // that log, and the end of training's
    DOCTEST_CHECK(run.logs[0].at("step") == 5);
    DOCTEST_CHECK(run.logs[0].contains("loss"));
  }
  DOCTEST_SUBCASE("should_evaluate evaluates at that step only") {
    const auto run = run_steered(quiet, SetAt{&tt::TrainerControl::should_evaluate, 7});
    int evaluations = 0;
    for (const auto& entry : run.logs)
      if (entry.contains("eval_loss")) {
        ++evaluations;
        DOCTEST_CHECK(entry.at("step") == 7);
      }
    DOCTEST_CHECK(evaluations == 1);
  }
  DOCTEST_SUBCASE("should_save saves a checkpoint at that step only") {
    run_steered(quiet, SetAt{&tt::TrainerControl::should_save, 4});
    std::set<std::string> saved;
    for (const auto& entry : fs::directory_iterator(output_dir)) saved.insert(entry.path().filename().string());
    DOCTEST_CHECK(saved == std::set<std::string>{"checkpoint-4", "training_plot.svg"});
  }
}

DOCTEST_TEST_CASE("EarlyStopping stops after patience evaluations without improvement, and resumes as Python does") {
  const char* reference_file = std::getenv("TORCHTRAIN_EARLY_STOPPING_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(reference_file,
                          "set TORCHTRAIN_EARLY_STOPPING_REFERENCE (tests/unit/early_stopping_reference.py)");
  std::ifstream reference_text(reference_file);
  const auto python = nlohmann::json::parse(reference_text);
  // The settings of the Python runs in early_stopping_reference.py.
  tt::TrainingArguments args{.output_dir = fresh_folder("early_stopping").string(),
                             .num_train_epochs = 20,
                             .logging_strategy = tt::IntervalStrategy::no,
                             .eval_strategy = tt::IntervalStrategy::steps,
                             .eval_steps = 2,
                             .save_steps = 2,
                             .metric_for_best_model = "score"};
  const auto data = regression_data(8);
  // Scores 0.5, 0.6 improve; 0.55 and 0.58 do not: with patience 2, training stops at the
  // fourth evaluation, step 8, of 20 (Python's too).
  const std::vector<double> scores{0.5, 0.6, 0.55, 0.58, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
  const auto train = [&](std::size_t first_score, int patience, const tt::ResumeFrom& resume) {
    torch::nn::Linear model(4, 1);
    ScriptedScore score{scores};
    *score.next = first_score;
    tt::Trainer<> trainer(model, args, data, data, tt::loss::mean_squared_error, score,
                          tt::callbacks(tt::EarlyStopping{.patience = patience}));
    return trainer.train(resume).global_step;
  };
  const auto saved_state = [&](int step) {
    std::ifstream state_file(tt::checkpoint_folder(args.output_dir, step) / "trainer_state.json");
    return nlohmann::json::parse(state_file)["stateful_callbacks"]["EarlyStoppingCallback"];
  };
  DOCTEST_CHECK(train(0, 2, {}) == python.at("uninterrupted").get<int>());
  // From checkpoint-6 (after the third evaluation) the count is 1.
  const auto checkpoint = tt::checkpoint_folder(args.output_dir, 6);
  DOCTEST_CHECK(saved_state(6)["attributes"]["early_stopping_patience_counter"] == 1);
  // Resumed with patience 5. Without restore_callback_states_from_checkpoint (the Python
  // default) the count starts at 0 again and patience 5 holds: 0.58 counts 1, 0.9 at step
  // 10 resets it, and the 0.9s after it reach 5 at step 20, the last (Python's too).
  DOCTEST_CHECK(train(3, 5, checkpoint) == python.at("resumed").get<int>());
  // With it, the count 1 and the saved patience 2 come back (Python rebuilds the callback
  // from its saved arguments), so the next evaluation without improvement stops training,
  // as in the uninterrupted run.
  args.restore_callback_states_from_checkpoint = true;
  DOCTEST_CHECK(train(3, 5, checkpoint) == python.at("resumed_restoring").get<int>());
  DOCTEST_CHECK(saved_state(8) == python.at("restored_state"));

  // Two EarlyStoppings, of patience 2 and 3: their states are saved as a list, in order.
  // transformers 5.x appends the states to that list at every save (its list in checkpoint-6
  // holds those of the saves at steps 2, 4 and 6, and those of the start), so ours is the end of
  // Python's, and both read the end of a list.
  args.output_dir = fresh_folder("early_stopping_two").string();
  args.restore_callback_states_from_checkpoint = false;
  {
    torch::nn::Linear model(4, 1);
    ScriptedScore score{scores};
    tt::Trainer<> trainer(model, args, data, data, tt::loss::mean_squared_error, score,
                          tt::callbacks(tt::EarlyStopping{.patience = 2}, tt::EarlyStopping{.patience = 3}));
    trainer.train();
  }
  const auto& python_list = python.at("two_states");
  DOCTEST_REQUIRE(python_list.size() > 2);
  DOCTEST_CHECK(saved_state(6) == nlohmann::json(python_list.end() - 2, python_list.end()));
  auto two = tt::callbacks(tt::EarlyStopping{.patience = 7}, tt::EarlyStopping{.patience = 7});
  tt::TrainerState from_python;
  from_python.stateful_callbacks["EarlyStoppingCallback"] = python_list.dump();
  tt::restore_callback_states(two, from_python, "trainer_state.json");
  DOCTEST_CHECK(boost::hana::at_c<0>(two).patience == 2);
  DOCTEST_CHECK(boost::hana::at_c<1>(two).patience == 3);
  DOCTEST_CHECK(boost::hana::at_c<0>(two).patience_counter == 1);
  DOCTEST_CHECK(boost::hana::at_c<1>(two).patience_counter == 1);
  // More callbacks of the type than saved states: the others start afresh, as in Python.
  auto three = tt::callbacks(tt::EarlyStopping{.patience = 7}, tt::EarlyStopping{.patience = 7},
                             tt::EarlyStopping{.patience = 7});
  tt::TrainerState ours;
  ours.stateful_callbacks["EarlyStoppingCallback"] = saved_state(6).dump();
  tt::restore_callback_states(three, ours, "trainer_state.json");
  DOCTEST_CHECK(boost::hana::at_c<0>(three).patience == 2);
  DOCTEST_CHECK(boost::hana::at_c<1>(three).patience == 3);
  DOCTEST_CHECK(boost::hana::at_c<2>(three).patience == 7);
  ours.stateful_callbacks["EarlyStoppingCallback"] = saved_state(6)[1].dump();  // one state, not a list
  auto fresh_two = tt::callbacks(tt::EarlyStopping{.patience = 7}, tt::EarlyStopping{.patience = 7});
  tt::restore_callback_states(fresh_two, ours, "trainer_state.json");
  DOCTEST_CHECK(boost::hana::at_c<0>(fresh_two).patience == 3);
  DOCTEST_CHECK(boost::hana::at_c<1>(fresh_two).patience == 7);

  // A threshold: an improvement must be larger than it.
  tt::EarlyStopping strict{.patience = 1, .threshold = 0.2};
  tt::TrainerState best;
  best.best_metric = 0.5;
  tt::TrainerControl control;
  args.greater_is_better = true;
  strict.on_evaluate(args, best, control, tt::Metrics{{"eval_score", 0.6}});
  DOCTEST_CHECK(control.should_training_stop);

  // What it needs is checked before training.
  torch::nn::Linear model(4, 1);
  args.metric_for_best_model.reset();
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, data, data, tt::loss::mean_squared_error, tt::NoMetrics{},
                                             tt::callbacks(tt::EarlyStopping{})),
                               doctest::Contains("EarlyStopping needs --metric_for_best_model"), tt::ArgumentError);
  args.metric_for_best_model = "loss";
  args.eval_strategy = tt::IntervalStrategy::no;
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, args, data, data, tt::loss::mean_squared_error, tt::NoMetrics{},
                                             tt::callbacks(tt::EarlyStopping{})),
                               doctest::Contains("EarlyStopping needs evaluations"), tt::ArgumentError);
}

DOCTEST_TEST_CASE("a saved EarlyStopping state that no run reaches is refused, naming the file, and the callback "
                  "keeps its state") {
  const std::string file = "checkpoint-6/trainer_state.json";
  const auto restore = [&](const std::string& saved) {
    auto callbacks = tt::callbacks(tt::EarlyStopping{.patience = 3, .threshold = 0.1, .patience_counter = 1});
    tt::TrainerState state;
    state.stateful_callbacks["EarlyStoppingCallback"] = saved;
    state.stateful_callbacks["TrainerControl"] = R"({"args": {}, "attributes": {}})";
    auto& stopping = boost::hana::at_c<0>(callbacks);
    try {
      tt::restore_callback_states(callbacks, state, file);
    } catch (...) {
      DOCTEST_CHECK(stopping.patience == 3);
      DOCTEST_CHECK(stopping.threshold == 0.1);
      DOCTEST_CHECK(stopping.patience_counter == 1);
      throw;
    }
    return stopping;
  };
  const auto saved = [](std::string_view patience, std::string_view threshold, std::string_view counter) {
    return fmt::format(R"({{"args": {{"early_stopping_patience": {}, "early_stopping_threshold": {}}}, )"
                       R"("attributes": {{"early_stopping_patience_counter": {}}}}})",
                       patience, threshold, counter);
  };
  tt::EarlyStopping restored;
  DOCTEST_CHECK(test_support::stderr_of([&] { restored = restore(saved("2", "0.0", "1")); }).empty());
  DOCTEST_CHECK(restored.patience == 2);
  DOCTEST_CHECK(restored.threshold == 0.0);
  DOCTEST_CHECK(restored.patience_counter == 1);

  const std::string prefix = "'" + file + "': the saved state of EarlyStoppingCallback: ";
  for (const char* counter : {"-1", "1.5", "1099511627776"})
    DOCTEST_CHECK_THROWS_WITH_AS(restore(saved("2", "0.0", counter)),
                                 (prefix + "its 'early_stopping_patience_counter' is " + counter +
                                  ", which no run reaches: the file was edited or is damaged; resume from another "
                                  "checkpoint")
                                     .c_str(),
                                 tt::FileError);
  for (const char* patience : {"2.5", "\"2\""})
    DOCTEST_CHECK_THROWS_WITH_AS(
        restore(saved(patience, "0.0", "1")),
        doctest::Contains((prefix + "its 'early_stopping_patience' is " + patience + ", which no run reaches").c_str()),
        tt::FileError);
  // A threshold that is not a number, or no arguments: nlohmann's words, with the file and
  // the callback.
  const std::string does_not_fit = "'" + file + "': the saved state of EarlyStoppingCallback does not fit it";
  for (const auto& state : {saved("2", "null", "1"),
                            std::string(R"({"attributes": {"early_stopping_patience_counter": 1}})")})
    DOCTEST_CHECK_THROWS_WITH_AS(restore(state), doctest::Contains(does_not_fit.c_str()), tt::FileError);
}

DOCTEST_TEST_CASE("saved states of callbacks the run does not have are left, with a warning that names them") {
  auto callbacks = tt::callbacks(tt::EarlyStopping{.patience = 3});
  tt::TrainerState state;
  state.stateful_callbacks["TrainerControl"] = R"({"args": {}, "attributes": {}})";
  state.stateful_callbacks["MyCounter"] = R"({"args": {}, "attributes": {"count": 4}})";
  state.stateful_callbacks["MyTimer"] = "{}";
  const auto warnings =
      test_support::stderr_of([&] { tt::restore_callback_states(callbacks, state, "trainer_state.json"); });
  DOCTEST_CHECK(warnings ==
                "torchtrain warning: 'trainer_state.json' holds the saved state of MyCounter, MyTimer, which this run "
                "does not have among its callbacks; ignoring it\n");
  DOCTEST_CHECK(boost::hana::at_c<0>(callbacks).patience == 3);
}

DOCTEST_TEST_CASE("RuntimeCallbacks: callbacks added, popped and removed while the program runs") {
  struct Counter : tt::TrainerCallback {
    int steps = 0;
    void on_step_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&,
                     tt::ModuleObjects& objects) override {
      DOCTEST_CHECK(objects.optimizer != nullptr);
      ++steps;
    }
  };
  // Removes itself at step 2: the list may change during an event.
  struct LeaveAtStep2 : tt::TrainerCallback {
    tt::RuntimeCallbacks list;
    int steps = 0;
    void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&,
                     tt::ModuleObjects&) override {
      ++steps;
      if (state.global_step == 2) list.remove(*this);
    }
  };
  tt::RuntimeCallbacks runtime;
  const auto data = regression_data(8);
  torch::nn::Linear model(4, 1);
  tt::Trainer<> trainer(model, {.max_steps = 5, .save_strategy = tt::SaveStrategy::no}, data, tt::data::NoDataset{},
                        tt::loss::mean_squared_error, tt::NoMetrics{}, tt::callbacks(runtime));
  auto counter = std::make_shared<Counter>();
  runtime.add(counter);
  auto leaving = std::make_shared<LeaveAtStep2>();
  leaving->list = runtime;
  runtime.add(leaving);
  trainer.train();
  DOCTEST_CHECK(counter->steps == 5);
  DOCTEST_CHECK(leaving->steps == 2);
  DOCTEST_CHECK(runtime.list().size() == 1);
  DOCTEST_CHECK(runtime.pop<Counter>() == counter);
  DOCTEST_CHECK(runtime.list().empty());
  DOCTEST_CHECK(runtime.pop<Counter>() == nullptr);
  trainer.train();
  DOCTEST_CHECK(counter->steps == 5);  // popped: no longer called
}

DOCTEST_TEST_CASE("a hook can run the model in eval mode without autograd and hand it back in train mode") {
  const auto data = regression_data(8);
  torch::nn::Linear model(4, 1);
  std::vector<int> sampled_at;
  tt::Trainer<> trainer(model, {.max_steps = 6, .save_strategy = tt::SaveStrategy::no}, data, tt::data::NoDataset{},
                        tt::loss::mean_squared_error, tt::NoMetrics{}, tt::callbacks(Probe{2, &sampled_at}));
  trainer.train();
  DOCTEST_CHECK(sampled_at == std::vector<int>{2, 4, 6});
  DOCTEST_CHECK(model->is_training());
}

}  // DOCTEST_TEST_SUITE

}  // namespace callbacks_tests
