// The real Python Trainer as the oracle: each scenario of tests/unit/python_trainer_run.py,
// which the Python Trainer ran first (test unit.python_trainer.reference), run again here
// from the same arguments file, data and initial weights, then compared: every callback
// event with its step, epoch and flags, every log_history entry key for key and value for
// value, the final weights, the checkpoint folders, their files and trainer_state.json.
#include "testing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpt/model.hpp"
#include "support/recording_callback.hpp"

namespace python_trainer_tests {

namespace fs = std::filesystem;
using nlohmann::json;

// The bound the issue sets; the differences reached are printed and kept in
// docs/python-equivalence.md.
constexpr double tolerance = 1e-6;

// Python's MLP: the layers of a Sequential, so that the parameter names are the same.
struct MlpImpl : torch::nn::Module {
  torch::nn::Sequential layers{torch::nn::Linear(8, 16), torch::nn::Functional(torch::relu), torch::nn::Linear(16, 3)};
  MlpImpl() { register_module("layers", layers); }
  torch::Tensor forward(const torch::Tensor& inputs) { return layers->forward(inputs); }
};
TORCH_MODULE(Mlp);

// examples/gpt's model, taking token batches (input_ids, attention_mask, labels) as Python's.
struct TokenGptImpl : gpt::GptImpl {
  using GptImpl::GptImpl;
  using GptImpl::forward;
  torch::Tensor forward(const tt::data::TokenBatch& batch) { return GptImpl::forward(batch.input_ids); }
};
TORCH_MODULE(TokenGpt);

struct TokenDataset {
  torch::Tensor input_ids, labels;
  std::int64_t size() const { return input_ids.size(0); }
  tt::data::TokenBatch get_batch(const torch::Tensor& indices) const {
    auto ids = input_ids.index_select(0, indices);
    return {ids, (ids != 0).to(torch::kLong), labels.index_select(0, indices)};
  }
};

// python_trainer_run.py's metrics: the share of counted labels that the argmax gets right (for the
// GPT, of each position's next token).
struct Accuracy {
  bool shift = false;
  tt::Metrics operator()(const tt::EvalPrediction& prediction) const {
    auto labels = prediction.label_ids;
    if (shift) labels = torch::constant_pad_nd(labels.slice(1, 1), {0, 1}, tt::loss::ignore_index);
    const auto counted = labels != tt::loss::ignore_index;
    const auto right = (prediction.predictions.argmax(-1) == labels).logical_and(counted);
    return {{"accuracy", right.sum().item<double>() / counted.sum().item<double>()}};
  }
};

// Each event as python_trainer_run.py's Recorder writes it.
struct Recorder : test_support::RecordingCallback<Recorder> {
  std::vector<json>* events;
  void record(const char* name, const tt::TrainerState& state, const tt::TrainerControl& control,
              const auto& /*objects*/) {
    events->push_back({{"event", name},
                       {"global_step", state.global_step},
                       {"epoch", state.epoch},
                       {"should_training_stop", control.should_training_stop},
                       {"should_epoch_stop", control.should_epoch_stop},
                       {"should_save", control.should_save},
                       {"should_evaluate", control.should_evaluate},
                       {"should_log", control.should_log}});
  }
};

tt::io::NamedTensors load(const fs::path& file) { return tt::io::load_safetensors(file); }
torch::Tensor tensor(const tt::io::NamedTensors& tensors, const std::string& name) {
  for (const auto& [key, value] : tensors)
    if (key == name) return value;
  throw std::runtime_error("no tensor " + name);
}
json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

// What a run left: its events, its log_history, its weights and its output_dir.
struct Run {
  std::vector<json> events;
  std::vector<tt::Metrics> log_history;
  tt::io::NamedTensors weights;
};

// The scenario's arguments as Python wrote them, with flags after the file as a script
// would give them: the file is read as Python wrote it, the flags win.
tt::TrainingArguments arguments(const fs::path& scenario, const fs::path& output_dir) {
  const std::string file = (scenario / "training_args.json").string(), out = output_dir.string();
  const char* argv[] = {"python_trainer", file.c_str(), "--output_dir", out.c_str()};
  return std::get<0>(tt::parse_args<tt::TrainingArguments>(4, argv));
}

template <class Model, class TrainData, class EvalData, class Loss>
Run train(Model model, const fs::path& scenario, const fs::path& output_dir, TrainData train_data, EvalData eval_data,
          Loss loss, Accuracy accuracy, const tt::ResumeFrom& resume_from_checkpoint) {
  tt::load_state_dict(*model, load(scenario / "initial.safetensors"), "initial.safetensors");
  Run run;
  auto train_with = [&](auto callbacks) {
    tt::Trainer<> trainer(model, arguments(scenario, output_dir), train_data, eval_data, loss, accuracy,
                          std::move(callbacks));
    trainer.train(resume_from_checkpoint);
    run.log_history = trainer.state().log_history;
  };
  if (scenario.filename() == "early_stopping")
    train_with(tt::callbacks(Recorder{{}, &run.events}, tt::EarlyStopping{.patience = 1}));
  else
    train_with(tt::callbacks(Recorder{{}, &run.events}));
  run.weights = tt::state_dict(*model);
  return run;
}

Run run_scenario(const fs::path& scenario, const fs::path& output_dir, const tt::ResumeFrom& resume_from_checkpoint = {}) {
  const auto data = load(scenario / "data.safetensors");
  const auto name = scenario.filename().string();
  if (name.starts_with("gpt")) {
    TokenGpt model(gpt::GptConfig{.vocab_size = 50, .context = 16, .layers = 2, .heads = 2, .hidden = 16});
    return train(model, scenario, output_dir,
                 TokenDataset{tensor(data, "train_inputs"), tensor(data, "train_labels")},
                 TokenDataset{tensor(data, "eval_inputs"), tensor(data, "eval_labels")},
                 tt::loss::causal_lm_cross_entropy, Accuracy{.shift = true}, resume_from_checkpoint);
  }
  return train(Mlp(), scenario, output_dir,
               tt::data::TensorDataset(tensor(data, "train_inputs"), tensor(data, "train_labels")),
               tt::data::TensorDataset(tensor(data, "eval_inputs"), tensor(data, "eval_labels")),
               tt::loss::cross_entropy, Accuracy{}, resume_from_checkpoint);
}

// Keys whose values are measured (timings, memory), which only have to be there.
bool is_measured(const std::string& key) {
  return key.ends_with("_runtime") || key.ends_with("_per_second") || key.find("_mem_") != std::string::npos;
}

double relative_difference(double ours, double theirs) {
  if (ours == theirs) return 0;
  return std::abs(ours - theirs) / std::max(std::abs(theirs), 1e-30);
}

// The largest relative difference of the numbers, after checking that the keys are the same.
double compare_logs(const std::vector<tt::Metrics>& ours, const json& theirs, const std::string& where) {
  DOCTEST_REQUIRE_MESSAGE(ours.size() == theirs.size(), where, ": ", ours.size(), " log entries, Python has ",
                          theirs.size());
  double largest = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    std::vector<std::string> our_keys, their_keys;
    for (const auto& [key, value] : ours[i]) our_keys.push_back(key);
    for (const auto& [key, value] : theirs[i].items()) their_keys.push_back(key);
    std::ranges::sort(our_keys);
    std::ranges::sort(their_keys);
    DOCTEST_CHECK_MESSAGE(our_keys == their_keys, where, " entry ", i, ": keys ", json(our_keys).dump(),
                          ", Python's ", json(their_keys).dump());
    for (const auto& [key, value] : ours[i]) {
      if (is_measured(key) || !theirs[i].contains(key)) continue;
      const double difference = relative_difference(value, theirs[i][key].get<double>());
      DOCTEST_CHECK_MESSAGE(difference <= tolerance, where, " entry ", i, " ", key, ": ", value, ", Python's ",
                            theirs[i][key].get<double>());
      largest = std::max(largest, difference);
    }
  }
  return largest;
}

// The largest difference of a weight, relative to the largest magnitude of its tensor.
double compare_weights(const tt::io::NamedTensors& ours, const tt::io::NamedTensors& theirs, const std::string& where) {
  DOCTEST_REQUIRE(ours.size() == theirs.size());
  double largest = 0;
  for (const auto& [name, value] : ours) {
    const auto expected = tensor(theirs, name);
    const double scale = expected.abs().max().item<double>();
    const double difference = (value - expected).abs().max().item<double>() / std::max(scale, 1e-30);
    DOCTEST_CHECK_MESSAGE(difference <= tolerance, where, " weight ", name, " differs by ", difference);
    largest = std::max(largest, difference);
  }
  return largest;
}

void compare_events(const std::vector<json>& ours, const fs::path& file, const std::string& where) {
  std::vector<json> theirs;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) theirs.push_back(json::parse(line));
  const std::size_t common = std::min(ours.size(), theirs.size());
  for (std::size_t i = 0; i < common; ++i) {
    json mine = ours[i], python = theirs[i];
    // The epoch is compared as a number (Python writes 0 for 0.0).
    const double epoch = mine["epoch"].get<double>(), python_epoch = python["epoch"].get<double>();
    mine.erase("epoch");
    python.erase("epoch");
    DOCTEST_REQUIRE_MESSAGE(mine == python, where, " event ", i, ": ours ", mine.dump(), ", Python's ", python.dump());
    DOCTEST_REQUIRE_MESSAGE(std::abs(epoch - python_epoch) <= 1e-12, where, " event ", i, " epoch ", epoch,
                            ", Python's ", python_epoch);
  }
  DOCTEST_CHECK_MESSAGE(ours.size() == theirs.size(), where, ": ", ours.size(), " events, Python's ", theirs.size());
}

// The JSON type of each key, with int and float as one (Python writes 0 for a float 0.0).
std::string kind_of(const json& value) {
  return value.is_number() ? "number" : value.type_name();
}

void compare_checkpoints(const fs::path& output_dir, const json& theirs, const std::string& where) {
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(output_dir))
    if (entry.path().filename().string().starts_with("checkpoint-")) folders.push_back(entry.path().filename().string());
  std::ranges::sort(folders, {}, [](const std::string& name) { return std::stoi(name.substr(11)); });
  DOCTEST_CHECK_MESSAGE(json(folders) == theirs["folders"], where, ": checkpoints ", json(folders).dump(),
                        ", Python's ", theirs["folders"].dump());
  const auto last = output_dir / folders.back();
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(last)) files.insert(entry.path().filename().string());
  // Every file name of Python's checkpoint but its pickled TrainingArguments (see docs/files.md).
  for (const auto& file : theirs["files"])
    if (file != "training_args.bin")
      DOCTEST_CHECK_MESSAGE(files.contains(file.get<std::string>()), where, ": the checkpoint lacks ", file);
  const json state = read_json(last / "trainer_state.json"), python = theirs["trainer_state"];
  for (const auto& [key, value] : python.items()) {
    DOCTEST_REQUIRE_MESSAGE(state.contains(key), where, ": trainer_state.json lacks ", key);
    // A null best_* is null in both; a set one is set in both.
    DOCTEST_CHECK_MESSAGE(kind_of(state[key]) == kind_of(value), where, ": trainer_state.json ", key, " is ",
                          kind_of(state[key]), ", Python's ", kind_of(value));
  }
  DOCTEST_CHECK(state.size() == python.size());
  if (python["best_model_checkpoint"].is_string())
    DOCTEST_CHECK(fs::path(state["best_model_checkpoint"].get<std::string>()).filename() ==
                  fs::path(python["best_model_checkpoint"].get<std::string>()).filename());
  for (const auto* key : {"global_step", "max_steps", "num_train_epochs", "logging_steps", "eval_steps", "save_steps",
                          "train_batch_size", "num_input_tokens_seen", "best_global_step"})
    DOCTEST_CHECK_MESSAGE(state[key] == python[key], where, ": trainer_state.json ", key, " is ", state[key].dump(),
                          ", Python's ", python[key].dump());
  DOCTEST_CHECK(relative_difference(state["total_flos"].get<double>(), python["total_flos"].get<double>()) == 0);
  DOCTEST_CHECK(state["stateful_callbacks"] == python["stateful_callbacks"]);
  std::vector<tt::Metrics> logs;
  for (const auto& entry : state["log_history"]) {
    tt::Metrics metrics;
    for (const auto& [key, value] : entry.items()) metrics.set(key, value.get<double>());
    logs.push_back(metrics);
  }
  compare_logs(logs, python["log_history"], where + " trainer_state.json");
}

DOCTEST_TEST_SUITE("python_trainer") {
  DOCTEST_TEST_CASE("every scenario run by the Python Trainer gives the same events, logs, weights and files here") {
    const char* reference = std::getenv("TORCHTRAIN_PYTHON_TRAINER_RUNS");
    DOCTEST_REQUIRE_MESSAGE(reference != nullptr, "TORCHTRAIN_PYTHON_TRAINER_RUNS names python_trainer_run.py's output");
    std::vector<fs::path> scenarios;
    for (const auto& entry : fs::directory_iterator(reference))
      if (entry.is_directory()) scenarios.push_back(entry.path());
    std::ranges::sort(scenarios);
    DOCTEST_REQUIRE(scenarios.size() >= 7);
    json report = json::object();
    for (const auto& scenario : scenarios) {
      const auto name = scenario.filename().string();
      DOCTEST_INFO("scenario ", name);
      const auto output_dir = test_support::fresh_folder("python_trainer_" + name);
      const Run run = run_scenario(scenario, output_dir);
      compare_events(run.events, scenario / "events.jsonl", name);
      const double logs = compare_logs(run.log_history, read_json(scenario / "log_history.json"), name);
      const double weights = compare_weights(run.weights, load(scenario / "final.safetensors"), name);
      compare_checkpoints(output_dir, read_json(scenario / "checkpoints.json"), name);
      report[name] = {{"log_history", logs}, {"final_weights", weights}};
      DOCTEST_MESSAGE(name, ": largest relative difference of a logged value ", logs, ", of a final weight ", weights);
    }
    std::ofstream(fs::path(reference) / "differences.json") << report.dump(1) << "\n";
  }

  // The other direction (the Python Trainer resuming from ours) is python_trainer_check.py's.
  DOCTEST_TEST_CASE("a run resumed here from the Python Trainer's checkpoint ends as the uninterrupted Python run") {
    const char* reference = std::getenv("TORCHTRAIN_PYTHON_TRAINER_RUNS");
    DOCTEST_REQUIRE(reference != nullptr);
    // Mid-epoch, with sequential and with random data order (the latter with a token loss).
    for (const std::string name : {"mlp_sequential", "gpt_random"}) {
      DOCTEST_INFO("scenario ", name);
      const auto scenario = fs::path(reference) / name;
      const auto output_dir = test_support::fresh_folder("python_resume_" + name);
      fs::copy(scenario / "python_output" / "checkpoint-3", output_dir / "checkpoint-3", fs::copy_options::recursive);
      DOCTEST_REQUIRE(tt::is_python_checkpoint(output_dir / "checkpoint-3"));
      const Run run = run_scenario(scenario, output_dir, true);  // the latest checkpoint: Python's
      const double weights = compare_weights(run.weights, load(scenario / "final.safetensors"), name + " resumed");
      // The logs after the resumed step; the run's summary (train_loss over the whole run)
      // is left out: the Python Trainer too sums the loss afresh from a resumed step.
      std::vector<tt::Metrics> ours;
      json theirs = json::array();
      for (const auto& entry : run.log_history)
        if (entry.at("step") > 3 && !entry.contains("train_loss")) ours.push_back(entry);
      for (const auto& entry : read_json(scenario / "log_history.json"))
        if (entry["step"].get<int>() > 3 && !entry.contains("train_loss")) theirs.push_back(entry);
      DOCTEST_CHECK(!ours.empty());
      const double logs = compare_logs(ours, theirs, name + " resumed");
      DOCTEST_MESSAGE(name, " resumed from Python's checkpoint-3: largest relative difference of a logged value ",
                      logs, ", of a final weight ", weights);
    }
  }
}

}  // namespace python_trainer_tests
