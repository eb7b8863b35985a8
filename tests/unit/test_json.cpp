// JSON files: training_args.json round trips, trainer_state.json and the results files equal
// what Python writes (json_reference.py), and bad files fail with sentences naming file and key.
#include "testing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <boost/hana/accessors.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <unistd.h>

namespace json_tests {

namespace hana = boost::hana;

// The expected texts written by json_reference.py through CTest, by file or case name.
std::string reference(const std::string& name) {
  const char* path = std::getenv("TORCHTRAIN_JSON_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(path != nullptr, "run through CTest, which writes the reference with Python first");
  auto all = tt::io::python_json_loads(tt::io::read_file(path), path);
  DOCTEST_REQUIRE(all.contains(name));
  return all[name].get<std::string>();
}

using test_support::fresh_folder;

// Every field differs from its default (checked below), so a field that the JSON forgot
// or mixed up with another breaks the round trip.
tt::TrainingArguments changed_arguments() {
  tt::TrainingArguments args;
  args.output_dir = "runs/über \"quoted\"";
  args.num_train_epochs = 0.1;
  args.max_steps = 1234;
  args.per_device_train_batch_size = 3;
  args.per_device_eval_batch_size = 5;
  args.gradient_accumulation_steps = 4;
  args.max_grad_norm = 0.3;
  args.label_smoothing_factor = 0.1;
  args.neftune_noise_alpha = 5.0;
  args.gradient_checkpointing = true;
  args.optim = tt::OptimizerNames::adafactor;
  args.optim_args = "momentum=0.9,nesterov=true";
  args.learning_rate = 1e-7;
  args.weight_decay = 0.01;
  args.adam_beta1 = 0.8;
  args.adam_beta2 = 0.95;
  args.adam_epsilon = 1e-12;
  args.lr_scheduler_type = tt::SchedulerType::cosine_with_min_lr;
  args.lr_scheduler_kwargs = "min_lr=1e-6";
  args.warmup_steps = 0.05;
  args.warmup_ratio = 0.1;
  args.logging_strategy = tt::IntervalStrategy::epoch;
  args.logging_steps = 0.2;
  args.logging_first_step = true;
  args.logging_nan_inf_filter = false;
  args.logging_dir = "runs/logs";
  args.report_to = {"tensorboard", "jsonl"};
  args.run_name = "first run";
  args.log_level = tt::LogLevel::debug;
  args.log_level_replica = tt::LogLevel::critical;
  args.disable_tqdm = true;
  args.eval_strategy = tt::IntervalStrategy::steps;
  args.eval_steps = 1.0 / 3;
  args.eval_delay = 2;
  args.eval_on_start = true;
  args.eval_accumulation_steps = 3;
  args.prediction_loss_only = true;
  args.include_for_metrics = {"inputs", "loss"};
  args.batch_eval_metrics = true;
  args.save_strategy = tt::SaveStrategy::best;
  args.save_steps = 250;
  args.save_total_limit = 2;
  args.save_only_model = true;
  args.load_best_model_at_end = true;
  args.metric_for_best_model = "accuracy";
  args.greater_is_better = false;
  args.resume_from_checkpoint = "true";
  args.ignore_data_skip = true;
  args.restore_callback_states_from_checkpoint = true;
  args.seed = std::numeric_limits<std::uint64_t>::max();
  args.data_seed = 7;
  args.full_determinism = true;
  args.dataloader_drop_last = true;
  args.dataloader_num_workers = 4;
  args.dataloader_prefetch_factor = 2;
  args.dataloader_pin_memory = false;
  args.train_sampling_strategy = tt::TrainSamplingStrategy::group_by_length;
  args.label_names = std::vector<std::string>{"labels", "mask"};
  args.use_cpu = true;
  args.ddp_backend = "gloo";
  args.ddp_timeout = 60;
  args.ddp_bucket_cap_mb = 50;
  args.ddp_broadcast_buffers = false;
  args.ddp_find_unused_parameters = true;
  args.bf16 = true;
  args.fp16 = true;
  args.tf32 = false;
  args.gradient_checkpointing_kwargs = R"({"use_reentrant": false})";
  args.average_tokens_across_devices = false;
  args.torch_empty_cache_steps = 10;
  args.log_on_each_node = false;
  args.include_num_input_tokens_seen = "non_padding";
  args.skip_memory_metrics = false;
  args.eval_do_concat_batches = false;
  args.bf16_full_eval = true;
  args.fp16_full_eval = true;
  args.save_on_each_node = true;
  args.dataloader_persistent_workers = true;
  args.do_train = true;
  args.do_eval = true;
  args.do_predict = true;
  args.optim_target_modules = std::vector<std::string>{"attn", "mlp"};
  args.activation_checkpointing = true;
  args.activation_checkpointing_kwargs = "{}";
  args.torch_compile = true;
  args.torch_compile_backend = "inductor";
  args.torch_compile_mode = "max-autotune";
  args.use_liger_kernel = true;
  args.liger_kernel_config = R"({"rope": true})";
  args.use_cache = true;
  args.auto_find_batch_size = true;
  args.project = "mine";
  args.trackio_space_id = "space";
  args.trackio_bucket_id = "bucket";
  args.trackio_static_space_id = "false";
  args.eval_use_gather_object = true;
  args.enable_jit_checkpoint = true;
  args.push_to_hub = true;
  args.hub_token = "<HUB_TOKEN>";
  args.hub_private_repo = true;
  args.hub_model_id = "me/model";
  args.hub_strategy = "end";
  args.hub_always_push = true;
  args.hub_revision = "main";
  args.accelerator_config = R"({"split_batches": true})";
  args.parallelism_config = "{}";
  args.dataloader_multiprocessing_context = "spawn";
  args.dataloader_in_order = false;
  args.remove_unused_columns = false;
  args.length_column_name = "lengths";
  args.ddp_static_graph = true;
  args.fsdp = "full_shard";
  args.fsdp_config = "{}";
  args.deepspeed = "ds.json";
  args.debug = {"underflow_overflow"};
  args.local_rank = 3;
  return args;
}

tt::TrainingArguments args_from(std::string_view text) {
  return tt::training_arguments_from_json(text, "training_args.json");
}

// The state json_reference.py writes with Python.
tt::TrainerState reference_state() {
  tt::TrainerState state;
  state.epoch = 1.5;
  state.global_step = 30;
  state.max_steps = 40;
  state.logging_steps = 10;
  state.eval_steps = 20;
  state.save_steps = 20;
  state.train_batch_size = 8;
  state.num_train_epochs = 2;
  state.num_input_tokens_seen = 0;
  state.total_flos = 1234567890123456.0;
  state.log_history = {{{"loss", 0.6931}, {"grad_norm", 1.25}, {"learning_rate", 1e-07}, {"epoch", 0.5}, {"step", 10}},
                       {{"eval_loss", 0.5}, {"eval_accuracy", 0.875}, {"eval_runtime", 0.1234},
                        {"eval_samples_per_second", 1000.0}, {"eval_steps_per_second", 10.0}, {"epoch", 1.0},
                        {"step", 20}}};
  state.best_metric = 0.5;
  state.best_global_step = 20;
  state.best_model_checkpoint = "runs/über/checkpoint-20";
  state.stateful_callbacks["TrainerControl"] =
      R"({"args": {}, "attributes": {"should_epoch_stop": false, "should_evaluate": false, "should_log": false, )"
      R"("should_save": true, "should_training_stop": false}})";
  return state;
}

tt::TrainerState state_from(std::string_view text) { return tt::trainer_state_from_json(text, "trainer_state.json"); }

DOCTEST_TEST_SUITE("json") {

DOCTEST_TEST_CASE("Python's float repr, strings and NaN, byte for byte") {
  for (const char* name : {"floats", "strings"}) {
    auto expected = reference(name);
    auto value = tt::io::python_json_loads(expected, name);
    DOCTEST_CHECK(tt::io::python_json_dumps(value, expected.starts_with("{\n") ? std::optional(2) : std::nullopt) ==
                  expected);
  }
  // nlohmann's own dump differs here: "1e+15" and null.
  DOCTEST_CHECK(tt::io::python_json_dumps(1e15) == "1000000000000000.0");
  DOCTEST_CHECK(tt::io::python_json_dumps(std::nan("")) == "NaN");
  auto parsed = tt::io::python_json_loads(R"({"a": "NaN", "b": NaN, "c": [-Infinity, "x\"NaN"]})", "test");
  DOCTEST_CHECK(parsed["a"] == "NaN");
  DOCTEST_CHECK(std::isnan(parsed["b"].get<double>()));
  DOCTEST_CHECK(parsed["c"][0].get<double>() == -std::numeric_limits<double>::infinity());
  DOCTEST_CHECK(parsed["c"][1] == "x\"NaN");
}

DOCTEST_TEST_CASE("training_args.json round-trips every field exactly") {
  const tt::TrainingArguments defaults;
  const auto changed = changed_arguments();
  hana::for_each(hana::accessors<tt::TrainingArguments>(), [&](auto field) {
    const auto get = hana::second(field);
    DOCTEST_CHECK_MESSAGE(!(get(changed) == get(defaults)),
                          "changed_arguments() leaves " << std::string(hana::to<const char*>(hana::first(field))) << " at its default");
  });
  auto text = tt::training_arguments_json(changed);
  auto back = args_from(text);
  DOCTEST_CHECK(back == changed);
  DOCTEST_CHECK(back.learning_rate == 1e-7);
  DOCTEST_CHECK(*back.eval_steps == 1.0 / 3);
  DOCTEST_CHECK(text.find("\"learning_rate\": 1e-07,") != std::string::npos);
  DOCTEST_CHECK(text.find("\"seed\": 18446744073709551615,") != std::string::npos);
  DOCTEST_CHECK(text.find(R"("output_dir": "runs/\u00fcber \"quoted\"")") != std::string::npos);
  DOCTEST_CHECK(text.find("\n  \"report_to\": [\n    \"tensorboard\",\n    \"jsonl\"\n  ],\n") != std::string::npos);

  auto folder = fresh_folder("arguments");
  std::filesystem::create_directories(folder);
  tt::save_training_arguments(changed, folder / "training_args.json");
  DOCTEST_CHECK(tt::load_training_arguments(folder / "training_args.json") == changed);
  std::filesystem::remove_all(folder);
}

DOCTEST_TEST_CASE("training_args.json: sorted keys, indent 2, enums by name, null for empty optionals") {
  auto text = tt::training_arguments_json({});
  DOCTEST_CHECK(text.starts_with("{\n  \"accelerator_config\": null,\n  \"activation_checkpointing\": false,\n"));
  DOCTEST_CHECK(text.ends_with("\n  \"weight_decay\": 0.0\n}\n"));
  DOCTEST_CHECK(text.find("\n  \"eval_steps\": null,\n") != std::string::npos);
  DOCTEST_CHECK(text.find("\n  \"lr_scheduler_type\": \"linear\",\n") != std::string::npos);
  DOCTEST_CHECK(text.find("\n  \"num_train_epochs\": 3.0,\n") != std::string::npos);
  DOCTEST_CHECK(text.find("\n  \"max_steps\": -1,\n") != std::string::npos);
  std::vector<std::string> keys;
  std::string_view rest = text;
  for (auto start = rest.find("\n  \""); start != std::string_view::npos; start = rest.find("\n  \"", start + 1))
    keys.emplace_back(rest.substr(start + 4, rest.find('"', start + 4) - start - 4));
  DOCTEST_CHECK(keys.size() == tt::detail::aggregate_field_count<tt::TrainingArguments>());
  DOCTEST_CHECK(std::is_sorted(keys.begin(), keys.end()));
}

DOCTEST_TEST_CASE("training_args.json: missing keys keep defaults, integers fill floats") {
  auto args = args_from(R"({"learning_rate": 0.1, "num_train_epochs": 2, "eval_steps": null})");
  tt::TrainingArguments expected;
  expected.learning_rate = 0.1;
  expected.num_train_epochs = 2.0;
  DOCTEST_CHECK(args == expected);
}

DOCTEST_TEST_CASE("training_args.json: bad content is a sentence naming the file and the key") {
  using tt::FileError;
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"learning_rate": "abc"})"),
                               R"(training_args.json: 'learning_rate' must be a number, got "abc")", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"learning_rat": 0.1})"),
                               "training_args.json: unknown key 'learning_rat' (did you mean 'learning_rate'?)",
                               FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"colour": 1})"), "training_args.json: unknown key 'colour'", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"max_steps": 1.5})"),
                               "training_args.json: 'max_steps' must be an integer, got 1.5", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      args_from(R"({"max_steps": 3000000000})"),
      "training_args.json: 'max_steps' must be an integer from -2147483648 to 2147483647, got 3000000000", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      args_from(R"({"seed": -1})"),
      "training_args.json: 'seed' must be an integer from 0 to 18446744073709551615, got -1", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"eval_steps": "x"})"),
                               R"(training_args.json: 'eval_steps' must be a number or null, got "x")", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"bf16": 1})"), "training_args.json: 'bf16' must be true or false, got 1",
                               FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      args_from(R"({"report_to": ["jsonl", 1]})"),
      R"(training_args.json: 'report_to' must be a list, each item a string (item 1 is not), got ["jsonl", 1])",
      FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      args_from(R"({"label_names": "labels"})"),
      R"(training_args.json: 'label_names' must be null or a list, each item a string, got "labels")", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      args_from(R"({"optim": "adam"})"),
      R"(training_args.json: 'optim' must be one of "adamw_torch", "adamw_torch_fused", "sgd", "adagrad", "rmsprop", "adafactor", "galore_adamw", "galore_adafactor", "galore_adamw_layerwise", "galore_adafactor_layerwise", )"
      R"("apollo_adamw", "apollo_adamw_layerwise", "lomo", "adalomo", "schedule_free_adamw", "schedule_free_sgd", "lion_32bit", "ademamix", "adamw_8bit", got "adam")",
      FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from("[1, 2]"), "training_args.json: must hold a JSON object, got [1, 2]",
                               FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(args_from(R"({"seed": 4)"),
                               doctest::Contains("training_args.json: not valid JSON: parse error at line 1, column 11"),
                               FileError);
  auto missing = fresh_folder("missing") / "training_args.json";
  auto cannot_open = fmt::format("cannot open '{}': No such file or directory", missing.string());
  DOCTEST_CHECK_THROWS_WITH_AS(tt::load_training_arguments(missing), doctest::Contains(cannot_open.c_str()), FileError);
}

DOCTEST_TEST_CASE("trainer_state.json is what Python's json.dumps(asdict(state), indent=2, sort_keys=True) writes") {
  const auto state = reference_state();
  const auto text = tt::trainer_state_json(state);
  DOCTEST_CHECK(text == reference("trainer_state.json"));
  DOCTEST_CHECK(state_from(text) == state);
  DOCTEST_CHECK(state_from(reference("trainer_state.json")) == state);
}

DOCTEST_TEST_CASE("trainer_state.json keeps NaN and Infinity, as Python does") {
  tt::TrainerState state;
  state.log_history = {{{"loss", std::numeric_limits<double>::infinity()}, {"grad_norm", std::nan("")}, {"step", 3}}};
  auto text = tt::trainer_state_json(state);
  DOCTEST_CHECK(text.find("\n      \"grad_norm\": NaN,\n      \"loss\": Infinity,\n      \"step\": 3\n") !=
                std::string::npos);
  auto back = state_from(text).log_history.at(0);
  DOCTEST_CHECK(std::isnan(back.at("grad_norm")));
  DOCTEST_CHECK(back.at("loss") == std::numeric_limits<double>::infinity());
}

DOCTEST_TEST_CASE("trainer_state.json: unknown keys are ignored, wrong types name the key") {
  auto state = state_from(R"({"global_step": 5, "trial_params": {"lr": 0.1}, "a_future_key": [1]})");
  DOCTEST_CHECK(state.global_step == 5);
  DOCTEST_CHECK(state.logging_steps == 500);
  using tt::FileError;
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(R"({"global_step": "5"})"),
                               R"(trainer_state.json: 'global_step' must be an integer, got "5")", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(R"({"log_history": [{"loss": 0.5, "step": 1}, {"loss": "x"}]})"),
                               R"(trainer_state.json: 'log_history[1].loss' must be a number, got "x")", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(R"({"log_history": {}})"),
                               "trainer_state.json: 'log_history' must be a list, got {}", FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(R"({"stateful_callbacks": []})"),
                               "trainer_state.json: 'stateful_callbacks' must be an object, got []", FileError);
  // Checked for meaning: a state no run reaches.
  DOCTEST_CHECK_THROWS_WITH_AS(state_from("{}"), doctest::Contains("'trainer_state.json' has no global_step"),
                               tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(R"({"global_step": -5})"),
                               doctest::Contains("'trainer_state.json': its 'global_step' is -5, which no run reaches"),
                               tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(R"({"global_step": 5, "epoch": NaN})"),
                               doctest::Contains("its 'epoch' is nan, which no run reaches"), tt::FileError);
  tt::TrainerState bad;
  bad.stateful_callbacks["EarlyStoppingCallback"] = "{not json";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::trainer_state_json(bad),
                               doctest::Contains("the state of callback 'EarlyStoppingCallback': not valid JSON"),
                               FileError);
}

DOCTEST_TEST_CASE("save_metrics writes <split>_results.json and merges all_results.json as Python does") {
  auto folder = fresh_folder("results") / "not" / "yet";
  tt::save_metrics(folder, "train",
                   {{"train_runtime", 12.5}, {"train_samples_per_second", 256.0}, {"train_steps_per_second", 3.2},
                    {"total_flos", 1234567890123456.0}, {"train_loss", 0.6}, {"epoch", 2.0}, {"train_samples", 100}});
  tt::save_metrics(folder, "eval",
                   {{"eval_loss", 0.5}, {"eval_accuracy", 0.875}, {"eval_runtime", 0.25},
                    {"eval_samples_per_second", 200.0}, {"eval_steps_per_second", 28.0}, {"epoch", 2.0},
                    {"eval_samples", 50}});
  for (const char* file : {"train_results.json", "eval_results.json", "all_results.json"}) {
    DOCTEST_INFO(file);
    DOCTEST_CHECK(tt::io::read_file(folder / file) == reference(file));
  }

  using tt::FileError;
  auto all_results = (folder / "all_results.json").string();
  tt::io::replace_file(folder / "all_results.json", "{\"eval_loss\": ");
  auto not_json = all_results + ": not valid JSON: parse error";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::save_metrics(folder, "test", {{"test_loss", 1}}),
                               doctest::Contains(not_json.c_str()), FileError);
  tt::io::replace_file(folder / "all_results.json", "[]");
  auto not_an_object = all_results + ": must hold a JSON object, got []";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::save_metrics(folder, "test", {{"test_loss", 1}}), not_an_object.c_str(), FileError);
  auto under_a_file = folder / "train_results.json" / "out";
  auto cannot_create = fmt::format("cannot create the folder '{}'", under_a_file.string());
  DOCTEST_CHECK_THROWS_WITH_AS(tt::save_metrics(under_a_file, "test", {{"test_loss", 1}}),
                               doctest::Contains(cannot_create.c_str()), FileError);
  std::filesystem::remove_all(folder.parent_path().parent_path());
}

DOCTEST_TEST_CASE("every JSON reader refuses nesting deeper than 100 and numbers beyond a double, with its own error type") {
  // 80 KB of brackets: enough to overflow the stack of a reader that recursed without bound.
  const std::string deep = std::string(40'000, '[') + std::string(40'000, ']');
  const std::string overflowing = R"({"global_step": 1e400})";
  const auto message_of = [](auto&& read) -> std::string {
    try {
      read();
    } catch (const std::exception& error) {
      return error.what();
    }
    return "no error";
  };
  // Configs, trainer_state.json, all_results.json and callback states: python_json_loads, FileError.
  DOCTEST_CHECK_THROWS_WITH_AS(tt::io::python_json_loads(deep, "config.json"),
                               doctest::Contains("config.json: arrays and objects nest more than 100 levels deep"),
                               tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(state_from(overflowing),
                               doctest::Contains("trainer_state.json: number overflow parsing '1e400', beyond the "
                                                 "range of a double"),
                               tt::FileError);
  DOCTEST_CHECK_THROWS_AS(state_from(deep), tt::FileError);
  // Nesting up to the limit still reads (Python's own files nest a few levels).
  DOCTEST_CHECK(tt::io::python_json_loads(std::string(99, '[') + std::string(99, ']'), "x").is_array());
  // A JSON line: DataError naming file:line.
  const auto folder = test_support::fresh_folder("hostile_json");
  const auto lines = folder / "deep.jsonl";
  std::ofstream(lines) << "{\"x\": 1, \"y\": 2}\n{\"x\": " << deep << ", \"y\": 2}\n";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::JsonLinesDataset(lines, {.inputs = "x", .labels = "y"}),
                               doctest::Contains((lines.string() + ":2: arrays and objects nest more than 100").c_str()),
                               tt::data::DataError);
  std::ofstream(folder / "big.jsonl") << "{\"x\": 1e400, \"y\": 2}\n";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::JsonLinesDataset(folder / "big.jsonl", {.inputs = "x", .labels = "y"}),
                               doctest::Contains("big.jsonl:1: number overflow parsing '1e400'"), tt::data::DataError);
  std::ofstream(folder / "float.jsonl") << "{\"x\": [1.5, 1e39], \"y\": 2}\n";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::JsonLinesDataset(folder / "float.jsonl", {.inputs = "x", .labels = "y"}),
                               doctest::Contains("float.jsonl:1: field 'x' holds 1e+39, beyond the range of a float"),
                               tt::data::DataError);
  // Flags that hold JSON: ArgumentError naming the flag.
  DOCTEST_CHECK(test_support::contains(
      message_of([&] { tt::detail::split_name_values("{\"a\": " + deep + "}", "lr_scheduler_kwargs"); }),
      "--lr_scheduler_kwargs: arrays and objects nest more than 100 levels deep"));
  tt::TrainingArguments args;
  args.fsdp_config = "{\"min_num_params\": 1e400}";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::distributed::sharding_options(args),
                               doctest::Contains("--fsdp_config: number overflow parsing '1e400'"), tt::ArgumentError);
  // A checkpoint's manifest: FileError naming it.
  std::filesystem::create_directories(folder / "checkpoint-1");
  std::ofstream(folder / "checkpoint-1" / tt::Checkpoint::manifest_file) << deep;
  DOCTEST_CHECK_THROWS_WITH_AS(tt::read_checkpoint(folder / "checkpoint-1"),
                               doctest::Contains("checkpoint_manifest.json: arrays and objects nest more than 100"),
                               tt::FileError);
}

}  // DOCTEST_TEST_SUITE

}  // namespace json_tests
