// TrainingArguments: Python defaults, reflection, parse_args and validation.
#include "testing.hpp"

#include <array>
#include <string>
#include <vector>

namespace {

struct ModelArguments {
  std::string model_name = "mlp";
  int layers = 2;
  bool tie_weights = true;
};

struct MissingField {  // `b` is not listed in its adaptation below
  int a = 0;
  int b = 0;
};

template <std::size_t N>
auto parse(const std::array<const char*, N>& flags) {
  std::vector<const char*> argv{"program"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return tt::parse_args<tt::TrainingArguments, ModelArguments>(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

BOOST_HANA_ADAPT_STRUCT(ModelArguments, model_name, layers, tie_weights);
BOOST_HANA_ADAPT_STRUCT(MissingField, a);

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

DOCTEST_TEST_CASE("a wrong flag is an error that names it") {
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--learning_rat", "0.1"}),
                               "unknown flag --learning_rat (run with --help to list the flags)",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--max_steps", "ten"}),
                               "--max_steps expects int, got 'ten'", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--seed", "-1"}), "--seed expects int, got '-1'",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--eval_strategy", "sometimes"}),
                               "--eval_strategy expects {no|steps|epoch}, got 'sometimes'",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--output_dir"}), "--output_dir needs a value",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(parse(std::array{"--no_layers"}),
                               "--layers is not a boolean flag, so --no_layers means nothing",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_AS(parse(std::array{"learning_rate"}), tt::ArgumentError);
}

DOCTEST_TEST_CASE("validate rejects contradictions and impossible values, naming the flag") {
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate({.bf16 = true, .fp16 = true}),
                               "--bf16 and --fp16 are both set; choose one", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate({.per_device_train_batch_size = 0}),
                               "--per_device_train_batch_size must be at least 1, got 0",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::validate({.eval_strategy = tt::IntervalStrategy::steps, .eval_steps = 0.0}),
                               "--eval_steps must be positive with --eval_strategy steps, got 0",
                               tt::ArgumentError);
  DOCTEST_CHECK_NOTHROW(tt::validate({}));
}

DOCTEST_TEST_CASE("values are written as they are read back") {
  DOCTEST_CHECK(tt::detail::format_value(tt::IntervalStrategy::epoch) == "epoch");
  DOCTEST_CHECK(tt::detail::parse_value<tt::IntervalStrategy>("epoch") == tt::IntervalStrategy::epoch);
  DOCTEST_CHECK(tt::detail::format_value(std::optional<double>{}) == "None");
  DOCTEST_CHECK(tt::detail::parse_value<std::optional<double>>("None") == std::optional<std::optional<double>>{std::optional<double>{}});
  DOCTEST_CHECK(tt::detail::parse_value<double>(tt::detail::format_value(0.1)) == 0.1);
}

}  // DOCTEST_TEST_SUITE
