// TrainingArguments: Python defaults, reflection with help texts, parse_args (flags, lists,
// JSON files, --help), errors that name the flag, validation, and the generated docs table.
#include "testing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace arguments_tests {

struct ModelArguments {
  std::string model_name = "mlp";
  int layers = 2;
  bool tie_weights = true;
  std::vector<int> widths = {64, 32};
};

struct MissingField {  // `b` is not listed in its adaptation below
  int a = 0;
  int b = 0;
};

struct Clashing {  // its field has the name of a TrainingArguments field
  int seed = 0;
};

struct Reserved {  // its field has the name of the parser's own --config
  std::string config;
};

template <std::size_t N>
auto parse(const std::array<const char*, N>& flags) {
  std::vector<const char*> argv{"program"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return tt::parse_args<tt::TrainingArguments, ModelArguments>(static_cast<int>(argv.size()), argv.data());
}

// A JSON file of this process, under the system's temporary folder, removed on destruction.
struct JsonFile {
  explicit JsonFile(const std::string& text, const std::string& name = "arguments")
      : path(std::filesystem::temp_directory_path() / fmt::format("torchtrain_{}_{}.json", name, getpid())) {
    std::ofstream(path) << text;
  }
  ~JsonFile() { std::filesystem::remove(path); }
  std::filesystem::path path;
};

}  // namespace arguments_tests

TORCHTRAIN_REFLECT(arguments_tests::ModelArguments, (model_name, "which model to build"), layers, tie_weights,
                   (widths, "hidden layer widths"));
BOOST_HANA_ADAPT_STRUCT(arguments_tests::MissingField, a);
BOOST_HANA_ADAPT_STRUCT(arguments_tests::Clashing, seed);
BOOST_HANA_ADAPT_STRUCT(arguments_tests::Reserved, config);

namespace arguments_tests {

DOCTEST_TEST_SUITE("arguments") {

DOCTEST_TEST_CASE("defaults are the Python TrainingArguments defaults") {
  tt::TrainingArguments args;
  DOCTEST_CHECK(args.output_dir == "trainer_output");
  DOCTEST_CHECK(args.num_train_epochs == 3.0);
  DOCTEST_CHECK(args.max_steps == -1);
  DOCTEST_CHECK(args.per_device_train_batch_size == 8);
  DOCTEST_CHECK(args.per_device_eval_batch_size == 8);
  DOCTEST_CHECK(args.gradient_accumulation_steps == 1);
  DOCTEST_CHECK(args.learning_rate == 5e-5);
  DOCTEST_CHECK(args.weight_decay == 0.0);
  DOCTEST_CHECK(args.adam_beta1 == 0.9);
  DOCTEST_CHECK(args.adam_beta2 == 0.999);
  DOCTEST_CHECK(args.adam_epsilon == 1e-8);
  DOCTEST_CHECK(args.max_grad_norm == 1.0);
  DOCTEST_CHECK(args.warmup_steps == 0);
  DOCTEST_CHECK(args.warmup_ratio == 0.0);
  DOCTEST_CHECK(args.lr_scheduler_type == tt::SchedulerType::linear);
  DOCTEST_CHECK(args.logging_strategy == tt::IntervalStrategy::steps);
  DOCTEST_CHECK(args.logging_steps == 500);
  DOCTEST_CHECK(args.logging_first_step == false);
  DOCTEST_CHECK(args.eval_strategy == tt::IntervalStrategy::no);
  DOCTEST_CHECK(!args.eval_steps.has_value());
  DOCTEST_CHECK(args.seed == 42);
  DOCTEST_CHECK(args.dataloader_drop_last == false);
  DOCTEST_CHECK(args.bf16 == false);
  DOCTEST_CHECK(args.fp16 == false);
  DOCTEST_CHECK(!args.run_name);
  DOCTEST_CHECK(!args.logging_dir);
  DOCTEST_CHECK(args.report_to == std::vector<std::string>{"none"});
  DOCTEST_CHECK(args.log_level == tt::LogLevel::passive);
  DOCTEST_CHECK(args.log_level_replica == tt::LogLevel::warning);
  DOCTEST_CHECK(!args.disable_tqdm);
  DOCTEST_CHECK(args.label_smoothing_factor == 0.0);
  DOCTEST_CHECK(args.logging_nan_inf_filter == true);
  DOCTEST_CHECK(args.eval_on_start == false);
  DOCTEST_CHECK(!args.eval_accumulation_steps);
  DOCTEST_CHECK(args.prediction_loss_only == false);
  DOCTEST_CHECK(args.include_for_metrics.empty());
  DOCTEST_CHECK(args.batch_eval_metrics == false);
  DOCTEST_CHECK(!args.label_names);
  DOCTEST_CHECK(args.dataloader_num_workers == 0);
  DOCTEST_CHECK(!args.dataloader_prefetch_factor);
  DOCTEST_CHECK(args.dataloader_pin_memory == true);
  DOCTEST_CHECK(args.train_sampling_strategy == tt::TrainSamplingStrategy::random);
  DOCTEST_CHECK(!args.ddp_backend);
  DOCTEST_CHECK(args.ddp_timeout == 1800);
  DOCTEST_CHECK(args.restore_callback_states_from_checkpoint == false);
  DOCTEST_CHECK(!args.tf32);
  DOCTEST_CHECK(args.full_determinism == false);
}

DOCTEST_TEST_CASE("reflection covers every field, and notices a field left out") {
  static_assert(tt::detail::reflects_every_field<tt::TrainingArguments>());
  static_assert(tt::detail::reflects_every_field<ModelArguments>());
  static_assert(!tt::detail::reflects_every_field<MissingField>());
  std::vector<std::string> names;
  tt::TrainingArguments args;
  tt::detail::for_each_field(args, [&](std::string_view name, auto&) { names.emplace_back(name); });
  DOCTEST_CHECK(names.size() == tt::detail::aggregate_field_count<tt::TrainingArguments>());
  DOCTEST_CHECK(names.front() == "output_dir");
}

DOCTEST_TEST_CASE("every TrainingArguments field has a help text; a struct without them still works") {
  tt::TrainingArguments args;
  tt::detail::for_each_field(args, [&](std::string_view name, auto&) {
    DOCTEST_CHECK_MESSAGE(!tt::field_help<tt::TrainingArguments>(name).empty(), "no help text for ", name);
  });
  DOCTEST_CHECK(tt::field_help<ModelArguments>("widths") == "hidden layer widths");
  DOCTEST_CHECK(tt::field_help<ModelArguments>("layers").empty());
  DOCTEST_CHECK(tt::field_help<MissingField>("a").empty());
}

DOCTEST_TEST_CASE("parse_args fills TrainingArguments and the user's struct from flags") {
  auto [args, model] = parse(std::array{
      "--learning_rate", "0.1", "--max_steps=7", "--bf16", "--dataloader_drop_last", "false",
      "--eval_strategy", "steps", "--eval_steps", "0.25", "--output_dir", "runs/a b",
      "--layers", "4", "--no_tie_weights", "--data_seed", "3", "--model_name=gpt"});
  DOCTEST_CHECK(args.learning_rate == 0.1);
  DOCTEST_CHECK(args.max_steps == 7);
  DOCTEST_CHECK(args.bf16);
  DOCTEST_CHECK(!args.dataloader_drop_last);
  DOCTEST_CHECK(args.eval_strategy == tt::IntervalStrategy::steps);
  DOCTEST_CHECK(args.eval_steps == 0.25);
  DOCTEST_CHECK(args.output_dir == "runs/a b");
  DOCTEST_CHECK(args.data_seed == 3u);
  DOCTEST_CHECK(args.num_train_epochs == 3.0);  // untouched fields keep their defaults
  DOCTEST_CHECK(model.layers == 4);
  DOCTEST_CHECK(!model.tie_weights);
  DOCTEST_CHECK(model.model_name == "gpt");
}

DOCTEST_TEST_CASE("parse_args starts from the defaults it is given") {
  std::array argv{"program", "--seed", "7"};
  auto [args] = tt::parse_args(3, argv.data(), tt::TrainingArguments{.max_steps = 9});
  DOCTEST_CHECK(args.max_steps == 9);
  DOCTEST_CHECK(args.seed == 7u);
}

DOCTEST_TEST_CASE("lists take several words up to the next flag, or commas") {
  auto [args, model] = parse(std::array{"--report_to", "tensorboard", "jsonl", "--widths", "8", "4,2", "--seed", "1",
                                        "--include_for_metrics=inputs,loss", "--label_names", "labels"});
  DOCTEST_CHECK(args.report_to == std::vector<std::string>{"tensorboard", "jsonl"});
  DOCTEST_CHECK(model.widths == std::vector<int>{8, 4, 2});
  DOCTEST_CHECK(args.seed == 1u);
  DOCTEST_CHECK(args.include_for_metrics == std::vector<std::string>{"inputs", "loss"});
  DOCTEST_CHECK(args.label_names == std::vector<std::string>{"labels"});

  auto [cleared, same] = parse(std::array{"--report_to=", "--label_names", "None", "--widths=1"});
  DOCTEST_CHECK(cleared.report_to.empty());
  DOCTEST_CHECK(!cleared.label_names);
  DOCTEST_CHECK(same.widths == std::vector<int>{1});
}

DOCTEST_TEST_CASE("optional booleans are flags too") {
  auto [on, m1] = parse(std::array{"--tf32", "--disable_tqdm", "false"});
  DOCTEST_CHECK(on.tf32 == true);
  DOCTEST_CHECK(on.disable_tqdm == false);
  auto [off, m2] = parse(std::array{"--no_tf32", "--disable_tqdm=None"});
  DOCTEST_CHECK(off.tf32 == false);
  DOCTEST_CHECK(!off.disable_tqdm);
}

DOCTEST_TEST_CASE("--help lists every flag with its type, default and help text") {
  const auto help = tt::arguments_help("train", tt::TrainingArguments{}, ModelArguments{});
  DOCTEST_CHECK(help.starts_with("usage: train [config.json] [--config file.json] [--field_name value ...]\n"));
  tt::TrainingArguments args;
  tt::detail::for_each_field(args, [&](std::string_view name, auto&) {
    const auto flag = fmt::format("\n  --{} ", name);
    DOCTEST_CHECK_MESSAGE(help.find(flag) != std::string::npos, "--help lacks ", name);
  });
  DOCTEST_CHECK(help.find("\n  --learning_rate float (default: 5e-05)\n      initial learning rate\n") !=
                std::string::npos);
  DOCTEST_CHECK(help.find("\n  --eval_strategy {no|steps|epoch} (default: 'no')\n") != std::string::npos);
  DOCTEST_CHECK(help.find("\n  --report_to list[str] (default: ['none'])\n") != std::string::npos);
  DOCTEST_CHECK(help.find("\n  --eval_steps float or None (default: None)\n") != std::string::npos);
  // A field without a help text has the flag line alone.
  DOCTEST_CHECK(help.find("\n  --layers int (default: 2)\n  --tie_weights bool (default: True)\n") != std::string::npos);
  DOCTEST_CHECK(help.find("\n  --widths list[int] (default: [64, 32])\n      hidden layer widths\n") != std::string::npos);
}

DOCTEST_TEST_CASE("a JSON file fills the fields of every struct, and flags win over it in any order") {
  JsonFile file(R"({"learning_rate": 0.1, "max_steps": 5, "report_to": "tensorboard", "layers": 6,
                    "label_names": ["y"], "eval_steps": null, "eval_strategy": "epoch"})");
  const auto path = file.path.string();
  for (auto argv : {std::array{path.c_str(), "--max_steps", "9", "--no_tie_weights"},
                    std::array{"--max_steps", "9", path.c_str(), "--no_tie_weights"},
                    std::array{"--max_steps=9", "--no_tie_weights", "--config", path.c_str()}}) {
    auto [args, model] = parse(argv);
    DOCTEST_CHECK(args.learning_rate == 0.1);
    DOCTEST_CHECK(args.max_steps == 9);  // the flag, whatever its place
    DOCTEST_CHECK(args.report_to == std::vector<std::string>{"tensorboard"});  // one value for a list
    DOCTEST_CHECK(args.label_names == std::vector<std::string>{"y"});
    DOCTEST_CHECK(args.eval_strategy == tt::IntervalStrategy::epoch);
    DOCTEST_CHECK(model.layers == 6);
    DOCTEST_CHECK(!model.tie_weights);
    DOCTEST_CHECK(args.num_train_epochs == 3.0);  // not in the file: the default
  }
  const auto inline_config = "--config=" + path;
  auto [args, model] = parse(std::array{inline_config.c_str()});
  DOCTEST_CHECK(args.max_steps == 5);
}

DOCTEST_TEST_CASE("a bad JSON file is an error naming the file and the key") {
  JsonFile misspelt(R"({"learning_rat": 0.1})", "misspelt");
  DOCTEST_CHECK_THROWS_WITH_AS(
      parse(std::array{misspelt.path.c_str()}),
      fmt::format("{}: unknown key 'learning_rat' (did you mean 'learning_rate'?)", misspelt.path.string()).c_str(),
      tt::ArgumentError);
  JsonFile unknown(R"({"colour": "red"})", "unknown");
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--config", unknown.path.c_str()}),
                               fmt::format("{}: unknown key 'colour'", unknown.path.string()).c_str(),
                               tt::ArgumentError);
  JsonFile wrong(R"({"widths": [1, "two"]})", "wrong");
  DOCTEST_CHECK_THROWS_WITH_AS(
      parse(std::array{wrong.path.c_str()}),
      fmt::format(R"({}: 'widths' must be a list, each item an integer (item 1 is not), got [1, "two"])",
                  wrong.path.string()).c_str(),
      tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--config", "/no/such/arguments.json"}),
                               doctest::Contains("cannot open '/no/such/arguments.json'"), tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--config"}), "--config needs a JSON file", tt::ArgumentError);
}

DOCTEST_TEST_CASE("a wrong flag is an error that names it") {
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--learning_rat", "0.1"}),
                               "unknown flag --learning_rat; did you mean --learning_rate?", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--no_tie_weight"}),
                               "unknown flag --no_tie_weight; did you mean --no_tie_weights?", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--colour", "red"}),
                               "unknown flag --colour (run with --help to list the flags)", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--max_steps", "ten"}),
                               "--max_steps expects int, got 'ten'", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--seed", "-1"}),
                               "--seed expects int (a whole number from 0 to 18446744073709551615, never negative), "
                               "got '-1'",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--eval_steps", "often"}),
                               "--eval_steps expects float or None, got 'often'", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--widths", "8", "wide"}),
                               "--widths expects list[int], got 'wide'", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--eval_strategy", "sometimes"}),
                               "--eval_strategy expects {no|steps|epoch}, got 'sometimes'",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--output_dir"}), "--output_dir needs a value",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--output_dir", "--max_steps", "3"}), "--output_dir needs a value",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--report_to", "--bf16"}), "--report_to needs at least one value",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--no_layers"}),
                               "--layers is not a boolean flag, so --no_layers means nothing",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"learning_rate"}),
                               "unexpected argument 'learning_rate': flags are written --field_name value (see --help)",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("structs whose fields would make a flag ambiguous are refused") {
  std::array argv{"program"};
  DOCTEST_CHECK_THROWS_WITH_AS((tt::parse_args<tt::TrainingArguments, Clashing>(1, argv.data())),
                               "parse_args: two of the structs have a field 'seed', so --seed would be ambiguous; "
                               "rename one",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::parse_args<Reserved>(1, argv.data()),
                               "parse_args: a field named 'config' clashes with the parser's own --config; rename it",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("validate rejects contradictions and impossible values, naming the flag") {
  const auto rejects = [](const tt::TrainingArguments& args, const char* message) {
    DOCTEST_CHECK_THROWS_WITH_AS(tt::validate(args), message, tt::ArgumentError);
  };
  rejects({.bf16 = true, .fp16 = true}, "--bf16 and --fp16 are both set; choose one");
  rejects({.per_device_train_batch_size = 0}, "--per_device_train_batch_size must be at least 1, got 0");
  rejects({.eval_strategy = tt::IntervalStrategy::steps, .eval_steps = 0.0},
          "--eval_steps must be positive with --eval_strategy steps, got 0");
  // Above 1 a step interval counts steps, so it must be whole (the Python rule).
  rejects({.logging_steps = 2.5}, "--logging_steps must be a whole number when above 1 (below 1 it is a ratio), got 2.5");
  rejects({.eval_strategy = tt::IntervalStrategy::steps, .eval_steps = 10.5},
          "--eval_steps must be a whole number when above 1 (below 1 it is a ratio), got 10.5");
  rejects({.logging_strategy = tt::IntervalStrategy::no, .logging_steps = 7.5, .eval_strategy = tt::IntervalStrategy::steps},
          "--logging_steps must be a whole number when above 1 (below 1 it is a ratio), got 7.5");
  rejects({.save_steps = 100.5}, "--save_steps must be a whole number when above 1 (below 1 it is a ratio), got 100.5");
  DOCTEST_CHECK_NOTHROW(tt::validate({.logging_steps = 0.25, .save_steps = 0.5}));
  DOCTEST_CHECK_NOTHROW(tt::validate({.save_strategy = tt::SaveStrategy::no, .save_steps = 100.5}));

  rejects({.label_smoothing_factor = 1.0}, "--label_smoothing_factor must be in [0, 1), got 1");
  rejects({.label_smoothing_factor = -0.1}, "--label_smoothing_factor must be in [0, 1), got -0.1");
  rejects({.eval_accumulation_steps = 0}, "--eval_accumulation_steps must be at least 1 (or None), got 0");
  rejects({.include_for_metrics = {"inputs", "labels"}}, "--include_for_metrics labels is not one of inputs, loss");
  rejects({.dataloader_num_workers = -1}, "--dataloader_num_workers must not be negative, got -1");
  rejects({.dataloader_prefetch_factor = 2},
          "--dataloader_prefetch_factor can only be set when batches are loaded by workers, i.e. when "
          "--dataloader_num_workers > 0");
  rejects({.dataloader_num_workers = 2, .dataloader_prefetch_factor = 0},
          "--dataloader_prefetch_factor must be at least 1 (or None), got 0");
  DOCTEST_CHECK_NOTHROW(tt::validate({.dataloader_num_workers = 2, .dataloader_prefetch_factor = 4}));
  rejects({.ddp_backend = "mpi"}, "--ddp_backend mpi is not one torchtrain runs on; choose from nccl, gloo");
  rejects({.ddp_timeout = 0}, "--ddp_timeout must be at least 1 second, got 0");
  DOCTEST_CHECK_NOTHROW(tt::validate({}));
}

DOCTEST_TEST_CASE("Python's fields that ask for what torchtrain does not do are errors only when they ask") {
  const auto refused = [](tt::TrainingArguments args) {
    try {
      tt::derive_defaults(args);
      tt::validate(args);
    } catch (const tt::ArgumentError& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  // Their defaults and values that ask for nothing pass, as Python's to_json_string() writes them.
  DOCTEST_CHECK(refused({}) == "accepted");
  tt::TrainingArguments quiet;
  quiet.hub_token = "<HUB_TOKEN>";
  quiet.hub_model_id = "me/model";
  quiet.fsdp = "[]";
  quiet.debug = {};
  quiet.accelerator_config = R"({"split_batches": false, "dispatch_batches": null, "even_batches": true, )"
                             R"("use_seedable_sampler": true, "non_blocking": true, "gradient_accumulation_kwargs": null})";
  quiet.gradient_checkpointing_kwargs = R"({"use_reentrant": false})";
  quiet.trackio_static_space_id = "false";
  DOCTEST_CHECK(refused(quiet) == "accepted");
  // Asking is an error that names the flag and says what to do instead.
  tt::TrainingArguments hub;
  hub.push_to_hub = true;
  DOCTEST_CHECK(refused(hub) == "--push_to_hub is not something torchtrain does: save with save_model() and upload "
                                "the folder with `huggingface-cli upload`");
  tt::TrainingArguments deepspeed;
  deepspeed.deepspeed = "ds_config.json";
  DOCTEST_CHECK(refused(deepspeed) == "--deepspeed is not something torchtrain does: use Trainer<FSDP> (ZeRO stages 1 "
                                      "to 3: --fsdp shard_optimizer_state, shard_grad_op or full_shard) under torchrun");
  // --fsdp is Trainer<FSDP>'s: the arguments alone accept it (a Trainer of another strategy refuses it).
  tt::TrainingArguments fsdp;
  fsdp.fsdp = "full_shard offload";
  fsdp.fsdp_config = R"({"reshard_after_forward": true})";
  DOCTEST_CHECK(refused(fsdp) == "accepted");
  tt::TrainingArguments compile;
  compile.torch_compile = true;
  DOCTEST_CHECK(refused(compile) == "--torch_compile is not something torchtrain does: LibTorch has no torch.compile; "
                                    "drop it");
  tt::TrainingArguments split;
  split.accelerator_config = R"({"split_batches": true})";
  DOCTEST_CHECK(test_support::contains(refused(split), "--accelerator_config split_batches=true is not something"));
  tt::TrainingArguments reentrant;
  reentrant.gradient_checkpointing_kwargs = R"({"preserve_rng_state": false})";
  DOCTEST_CHECK(test_support::contains(refused(reentrant), "--gradient_checkpointing_kwargs preserve_rng_state"));
  tt::TrainingArguments tokens;
  tokens.include_num_input_tokens_seen = "some";
  DOCTEST_CHECK(refused(tokens) == "--include_num_input_tokens_seen must be no, all or non_padding (or true, false), "
                                   "got 'some'");
  // Python's bool form, as its __post_init__ reads it.
  tokens.include_num_input_tokens_seen = "true";
  tt::derive_defaults(tokens);
  DOCTEST_CHECK(tokens.include_num_input_tokens_seen == "all");
}

DOCTEST_TEST_CASE("a Python script's command lines give here the TrainingArguments that HfArgumentParser gives") {
  const char* reference = std::getenv("TORCHTRAIN_ARGUMENTS_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(reference != nullptr, "TORCHTRAIN_ARGUMENTS_REFERENCE names arguments_reference.py's output");
  std::ifstream file(reference);
  const auto runs = nlohmann::json::parse(file);
  DOCTEST_REQUIRE(runs.size() >= 3);
  for (const auto& run : runs) {
    std::vector<std::string> words{"script"};
    for (const auto& word : run["argv"]) words.push_back(word.get<std::string>());
    DOCTEST_INFO("command line: ", run["argv"].dump());
    std::vector<const char*> argv;
    for (const auto& word : words) argv.push_back(word.c_str());
    auto [args] = tt::parse_args<tt::TrainingArguments>(static_cast<int>(argv.size()), argv.data());
    tt::derive_defaults(args);  // as the Trainer completes them, and Python's __post_init__
    const auto ours = nlohmann::json::parse(tt::training_arguments_json(args));
    for (const auto& [key, value] : run["python"].items()) {
      if (key == "logging_dir") continue;  // its default holds the time
      DOCTEST_CHECK_MESSAGE((ours.contains(key) && ours[key] == value), key, ": ours ",
                            ours.contains(key) ? ours[key].dump() : "missing", ", Python's ", value.dump());
    }
  }
}

DOCTEST_TEST_CASE("dict-valued Python fields take a JSON object, as a flag or in a JSON file") {
  const auto folder = test_support::fresh_folder("python_dicts");
  std::ofstream(folder / "args.json") << R"({"lr_scheduler_kwargs": {"num_cycles": 2}, "accelerator_config": )"
                                         R"({"even_batches": true}, "include_num_input_tokens_seen": true})";
  const std::string file = (folder / "args.json").string();
  const char* argv[] = {"script", file.c_str(), "--optim_args", "momentum=0.9,nesterov=True"};
  const auto [args] = tt::parse_args<tt::TrainingArguments>(4, argv);
  DOCTEST_CHECK(args.lr_scheduler_kwargs == R"({"num_cycles":2})");
  DOCTEST_CHECK(args.accelerator_config == R"({"even_batches":true})");
  DOCTEST_CHECK(args.include_num_input_tokens_seen == "true");
  DOCTEST_CHECK(*tt::parse_scheduler_kwargs(args.lr_scheduler_kwargs).num_cycles == 2);
  const char* flags[] = {"script", "--lr_scheduler_kwargs", R"({"num_cycles": 1.5, "power": null})"};
  const auto [from_flags] = tt::parse_args<tt::TrainingArguments>(3, flags);
  const auto options = tt::parse_scheduler_kwargs(from_flags.lr_scheduler_kwargs);
  DOCTEST_CHECK(*options.num_cycles == 1.5);
  DOCTEST_CHECK(options.power == 1.0);  // null keeps the default, as Python's None
}

DOCTEST_TEST_CASE("report_to takes logger names, or all or none alone") {
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate({.report_to = {"wandb"}}),
                               "--report_to wandb is not a logger torchtrain has; choose from tensorboard, jsonl, "
                               "csv, all, none",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate({.report_to = {"jsonl", "none"}}),
                               "--report_to none cannot be given beside other names, got jsonl none",
                               tt::ArgumentError);
  for (const auto& names : std::vector<std::vector<std::string>>{{"all"}, {"none"}, {}, {"tensorboard", "jsonl", "csv"}})
    DOCTEST_CHECK_NOTHROW(tt::validate({.report_to = names}));
}

DOCTEST_TEST_CASE("derive_defaults: report_to all and none, pinned memory on the CPU, logging_dir, disable_tqdm, as in Python") {
  tt::TrainingArguments args{.output_dir = "out", .report_to = {"all"}, .log_level = tt::LogLevel::error, .use_cpu = true};
  tt::derive_defaults(args);
  DOCTEST_CHECK(args.report_to == std::vector<std::string>{"tensorboard", "jsonl", "csv"});
  DOCTEST_CHECK(!args.dataloader_pin_memory);
  DOCTEST_CHECK(args.disable_tqdm == true);  // only errors are shown: no bar
  DOCTEST_REQUIRE(args.logging_dir);
  const std::filesystem::path logging_dir = *args.logging_dir;
  DOCTEST_CHECK(logging_dir.parent_path() == std::filesystem::path("out/runs"));
  DOCTEST_CHECK(logging_dir.filename().string().ends_with("_" + tt::detail::host_name()));
  tt::TrainingArguments none{.logging_dir = "mine"};
  tt::derive_defaults(none);
  DOCTEST_CHECK(none.report_to.empty());
  DOCTEST_CHECK(none.dataloader_pin_memory);
  DOCTEST_CHECK(none.logging_dir == "mine");
  DOCTEST_CHECK(none.disable_tqdm == false);
  auto again = none;
  tt::derive_defaults(again);
  DOCTEST_CHECK(again == none);
}

DOCTEST_TEST_CASE("flags that contradict the Trainer's policies stop it at construction, naming both") {
  torch::nn::Linear model(2, 1);
  auto inputs = torch::randn({8, 2});
  tt::data::TensorDataset data(inputs, inputs.sum(1, /*keepdim=*/true));
  auto [accumulation, m1] = parse(std::array{"--gradient_accumulation_steps", "2"});
  DOCTEST_CHECK_THROWS_WITH_AS((tt::Trainer<tt::Accum<4>>(model, accumulation, data)),
                               "--gradient_accumulation_steps 2 contradicts the Trainer's policy Accum<4>; drop the "
                               "flag or make them equal",
                               tt::ArgumentError);
  auto [fp16, m2] = parse(std::array{"--fp16"});
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<tt::BF16>(model, fp16, data),
                               "--fp16 is set, but the Trainer's precision policy is BF16; use Trainer<FP16> or drop "
                               "--fp16",
                               tt::ArgumentError);
  auto [bf16, m3] = parse(std::array{"--bf16"});
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, bf16, data),
                               "--bf16 is set, but the Trainer's precision policy is FP32; use Trainer<BF16> or drop "
                               "--bf16",
                               tt::ArgumentError);
  auto [both, m4] = parse(std::array{"--bf16", "--fp16"});
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<tt::BF16>(model, both, data), "--bf16 and --fp16 are both set; choose one",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("the Markdown table has one row per field: name, type, default, help") {
  const auto table = tt::arguments_markdown_table<tt::TrainingArguments>();
  DOCTEST_CHECK(table.starts_with("| name | type | default | meaning |\n| --- | --- | --- | --- |\n"));
  DOCTEST_CHECK(static_cast<std::size_t>(std::count(table.begin(), table.end(), '\n')) ==
                2 + tt::detail::aggregate_field_count<tt::TrainingArguments>());
  DOCTEST_CHECK(table.find("\n| `output_dir` | `str` | `'trainer_output'` | where checkpoints and results are "
                           "written |\n") != std::string::npos);
  // A pipe inside a cell is escaped, or it would end the cell.
  DOCTEST_CHECK(table.find("\n| `eval_strategy` | `{no\\|steps\\|epoch}` | `'no'` | when to evaluate during "
                           "training |\n") != std::string::npos);
  DOCTEST_CHECK(tt::arguments_markdown_table<ModelArguments>().ends_with(
      "| `tie_weights` | `bool` | `True` |  |\n| `widths` | `list[int]` | `[64, 32]` | hidden layer widths |\n"));
}

DOCTEST_TEST_CASE("values are written as they are read back") {
  DOCTEST_CHECK(tt::detail::format_value(tt::IntervalStrategy::epoch) == "epoch");
  DOCTEST_CHECK(tt::detail::parse_value<tt::IntervalStrategy>("epoch") == tt::IntervalStrategy::epoch);
  DOCTEST_CHECK(tt::detail::format_value(std::optional<double>{}) == "None");
  DOCTEST_CHECK(tt::detail::parse_value<std::optional<double>>("None") == std::optional<std::optional<double>>{std::optional<double>{}});
  DOCTEST_CHECK(tt::detail::parse_value<double>(tt::detail::format_value(0.1)) == 0.1);
  const std::vector<std::string> names{"a", "b"};
  DOCTEST_CHECK(tt::detail::format_value(names) == "a,b");
  DOCTEST_CHECK(tt::detail::parse_value<std::vector<std::string>>("a,,b,") == names);
  DOCTEST_CHECK(tt::detail::parse_value<std::vector<int>>("1,x") == std::nullopt);
  DOCTEST_CHECK(tt::detail::python_repr(names) == "['a', 'b']");
  DOCTEST_CHECK(tt::detail::python_repr(std::string("it's")) == R"('it\'s')");
  DOCTEST_CHECK(tt::detail::python_repr(std::optional<bool>{}) == "None");
  DOCTEST_CHECK(tt::detail::python_repr(1e-8) == "1e-08");
}

DOCTEST_TEST_CASE("--neftune_noise_alpha: uniform noise on the NEFTuneEmbedding's output, while train() runs") {
  torch::manual_seed(0);
  tt::nn::NEFTuneEmbedding embedding(50, 8);
  const auto ids = torch::randint(50, {4, 6});
  const auto clean = embedding->weight.index_select(0, ids.flatten()).view({4, 6, 8});
  embedding->noise_alpha = 5;
  const auto noisy = embedding(ids).detach();
  const double magnitude = 5 / std::sqrt(6.0 * 8.0);
  const auto noise = (noisy - clean).abs();
  DOCTEST_CHECK(noise.max().item<double>() <= magnitude + 1e-6);
  DOCTEST_CHECK(noise.max().item<double>() > 0.9 * magnitude);  // 192 draws reach the edge
  embedding->eval();
  DOCTEST_CHECK(torch::equal(embedding(ids), clean));  // no noise in evaluation

  // In the Trainer: on for train() only; a model without the module is an error.
  struct Model : torch::nn::Module {
    tt::nn::NEFTuneEmbedding embed = register_module("embed", tt::nn::NEFTuneEmbedding(10, 4));
    torch::nn::Linear head = register_module("head", torch::nn::Linear(4, 1));
    torch::Tensor forward(const torch::Tensor& ids) { return head(embed(ids).mean(1)); }
  };
  struct SeesNoise {
    std::shared_ptr<Model> model;
    std::shared_ptr<std::vector<double>> seen;
    void on_step_begin(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) {
      seen->push_back(model->embed->noise_alpha);
    }
  };
  auto model = std::make_shared<Model>();
  auto seen = std::make_shared<std::vector<double>>();
  tt::data::TensorDataset data(torch::randint(10, {16, 5}), torch::randn({16, 1}));
  tt::Trainer<tt::NoCheckpoint> trainer(model,
                                        {.output_dir = test_support::fresh_folder("neftune").string(),
                                         .max_steps = 2,
                                         .neftune_noise_alpha = 5.0},
                                        data, tt::data::NoDataset{}, tt::loss::mean_squared_error, tt::NoMetrics{},
                                        tt::callbacks(SeesNoise{model, seen}));
  DOCTEST_CHECK(model->embed->noise_alpha == 0);
  trainer.train();
  DOCTEST_CHECK((*seen == std::vector<double>{5.0, 5.0}));
  DOCTEST_CHECK(model->embed->noise_alpha == 0);

  torch::nn::Linear plain(5, 1);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(plain, {.neftune_noise_alpha = 5.0}, tt::data::TensorDataset(torch::randn({16, 5}), torch::randn({16, 1})),
                    tt::data::NoDataset{}, tt::loss::mean_squared_error),
      doctest::Contains("the model has no tt::nn::NEFTuneEmbedding"), tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate({.neftune_noise_alpha = 0.0}),
                               "--neftune_noise_alpha must be above 0 (leave it out for no noise), got 0",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("--label_smoothing_factor smooths tt::loss::CrossEntropy, and nothing else") {
  torch::manual_seed(0);
  tt::data::TensorDataset data(torch::randn({16, 4}), torch::randint(3, {16}));
  const auto eval_loss = [&](double factor) {
    torch::manual_seed(0);
    torch::nn::Linear model(4, 3);
    tt::Trainer<tt::NoCheckpoint> trainer(model, {.output_dir = "label_smoothing", .label_smoothing_factor = factor},
                                          data, data, tt::loss::cross_entropy);
    return trainer.evaluate().at("eval_loss");
  };
  // The Python LabelSmoother's value: (1 - e) * nll + e * mean over classes of -log p.
  torch::manual_seed(0);
  torch::nn::Linear model(4, 3);
  const auto log_probs = torch::log_softmax(model(data.inputs()), 1);
  const auto nll = -log_probs.gather(1, data.labels().unsqueeze(1)).mean();
  const auto smooth = -log_probs.mean(1).mean();
  const double expected = (0.9 * nll + 0.1 * smooth).item<double>();
  DOCTEST_CHECK(eval_loss(0.1) == doctest::Approx(expected).epsilon(1e-5));
  DOCTEST_CHECK(eval_loss(0.0) == doctest::Approx(nll.item<double>()).epsilon(1e-5));

  torch::nn::Linear other(4, 3);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(other, {.label_smoothing_factor = 0.1}, data, tt::data::NoDataset{}, tt::loss::mean_squared_error),
      doctest::Contains("--label_smoothing_factor smooths tt::loss::CrossEntropy"), tt::ArgumentError);
}

}  // DOCTEST_TEST_SUITE

}  // namespace arguments_tests
