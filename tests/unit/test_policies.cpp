// Policies: found by category in any order, defaults for the missing, checks at construction.
#include "testing.hpp"

#include <filesystem>
#include <type_traits>
#include <vector>

namespace policies_tests {

// A logger policy of the user's, given to the Trainer as a value: the loop is open to new
// policies of a category.
struct RecordingLogger {
  using torchtrain_category = tt::category::logger;
  std::vector<tt::Metrics>* logs = nullptr;
  void log(const tt::Metrics& metrics, const tt::TrainerState&) { logs->push_back(metrics); }
  void log_metrics(std::string_view, const tt::Metrics&) {}
};

tt::data::TensorDataset tiny_regression() {
  auto inputs = torch::randn({32, 2});
  return {inputs, inputs.sum(1, /*keepdim=*/true)};
}

DOCTEST_TEST_SUITE("policies") {

DOCTEST_TEST_CASE("Trainer<> takes the default of every category") {
  using P = tt::Trainer<>::policies;
  static_assert(std::is_same_v<P::precision, tt::FP32>);
  static_assert(std::is_same_v<P::accumulation, tt::AccumFromArguments>);
  static_assert(std::is_same_v<P::strategy, tt::SingleDevice>);
  static_assert(std::is_same_v<P::checkpointer, tt::SyncCheckpoint>);
  static_assert(std::is_same_v<P::logger, tt::ReportTo>);
  DOCTEST_CHECK(tt::Policy<tt::FP32>);
  DOCTEST_CHECK(!tt::Policy<int>);
}

DOCTEST_TEST_CASE("policies are found by category in any order") {
  using A = tt::Trainer<tt::Accum<4>, tt::FP32, RecordingLogger>::policies;
  using B = tt::Trainer<RecordingLogger, tt::Accum<4>>::policies;
  static_assert(std::is_same_v<A::accumulation, tt::Accum<4>>);
  static_assert(std::is_same_v<B::accumulation, tt::Accum<4>>);
  static_assert(std::is_same_v<A::logger, RecordingLogger>);
  static_assert(std::is_same_v<B::logger, RecordingLogger>);
  static_assert(std::is_same_v<A::precision, B::precision>);
  static_assert(std::is_same_v<B::strategy, tt::SingleDevice>);
  DOCTEST_CHECK(tt::PolicyOf<tt::Accum<4>, tt::category::accumulation>);
}

DOCTEST_TEST_CASE("a user's policy takes the place of the default") {
  std::vector<tt::Metrics> logs;
  torch::nn::Linear model(2, 1);
  tt::Trainer<RecordingLogger> trainer(tt::with_policies(RecordingLogger{&logs}), model, {.max_steps = 6, .logging_steps = 2}, tiny_regression(),
                                       tt::data::NoDataset{}, tt::loss::mean_squared_error);
  trainer.train();
  // Three interval logs and the end-of-training summary, all through the user's logger.
  DOCTEST_REQUIRE(logs.size() == 4);
  DOCTEST_CHECK(logs[0].contains("loss"));
  DOCTEST_CHECK(logs[3].contains("train_runtime"));
  DOCTEST_CHECK(trainer.state().log_history.size() == 4);
}

DOCTEST_TEST_CASE("every built-in policy satisfies its category's concept") {
  static_assert(tt::PrecisionPolicy<tt::FP32> && tt::PrecisionPolicy<tt::BF16> && tt::PrecisionPolicy<tt::FP16>);
  static_assert(tt::AccumulationPolicy<tt::AccumFromArguments> && tt::AccumulationPolicy<tt::Accum<4>>);
  static_assert(tt::StrategyPolicy<tt::SingleDevice> && tt::StrategyPolicy<tt::DDP>);
  static_assert(tt::CheckpointerPolicy<tt::SyncCheckpoint> && tt::CheckpointerPolicy<tt::AsyncCheckpoint> &&
                tt::CheckpointerPolicy<tt::NoCheckpoint>);
  static_assert(tt::LoggerPolicy<tt::ReportTo> && tt::LoggerPolicy<tt::ConsoleLogger> &&
                tt::LoggerPolicy<tt::Loggers<tt::CsvLogger, tt::JsonLinesLogger>>);
  DOCTEST_CHECK(!tt::PrecisionPolicy<RecordingLogger>);  // a policy of another category
  DOCTEST_CHECK(tt::LoggerPolicy<RecordingLogger>);
}

DOCTEST_TEST_CASE("configured policies given as values: a logger with its folder, a checkpointer with its folder") {
  namespace fs = std::filesystem;
  const fs::path root = "policies_as_values";
  fs::remove_all(root);
  torch::nn::Linear model(2, 1);
  using Trainer = tt::Trainer<tt::CsvLogger, tt::SyncCheckpoint>;
  Trainer trainer(tt::with_policies(tt::CsvLogger(root / "csv"), tt::SyncCheckpoint(root / "checkpoints")), model,
                  {.output_dir = (root / "output").string(), .max_steps = 4, .logging_steps = 2, .save_steps = 2},
                  tiny_regression(), tt::data::NoDataset{}, tt::loss::mean_squared_error);
  trainer.train();
  // The logger wrote in its own folder, not in --logging_dir; the checkpoints went to the
  // checkpointer's folder, not to output_dir.
  DOCTEST_CHECK(fs::exists(root / "csv"));
  DOCTEST_CHECK(fs::exists(root / "checkpoints" / "checkpoint-2"));
  DOCTEST_CHECK(fs::exists(root / "checkpoints" / "checkpoint-4"));
  DOCTEST_CHECK(!fs::exists(root / "output" / "checkpoint-4"));
  // resume_from_checkpoint=true finds the newest there: the resumed run has nothing left to do.
  Trainer resumed(tt::with_policies(tt::CsvLogger(root / "csv2"), tt::SyncCheckpoint(root / "checkpoints")), model,
                  {.output_dir = (root / "output").string(), .max_steps = 4, .logging_steps = 2, .save_steps = 2},
                  tiny_regression(), tt::data::NoDataset{}, tt::loss::mean_squared_error);
  DOCTEST_CHECK(resumed.train(true).global_step == 4);
  // The checkpoint's two interval logs, then the summary: as the first run's history.
  DOCTEST_CHECK(resumed.state().log_history.size() == trainer.state().log_history.size());
}

DOCTEST_TEST_CASE("a precision policy sets its own flag: Trainer<BF16> needs no --bf16") {
  torch::nn::Linear model(2, 1);
  tt::Trainer<tt::BF16> trainer(model, {.max_steps = 1}, tiny_regression(), tt::data::NoDataset{},
                                tt::loss::mean_squared_error);
  DOCTEST_CHECK(trainer.args().bf16);
  DOCTEST_CHECK(!trainer.args().fp16);
}

DOCTEST_TEST_CASE("arguments that contradict the policies fail at construction, naming both") {
  torch::nn::Linear model(2, 1);
  DOCTEST_CHECK_THROWS_WITH_AS(
      (tt::Trainer<tt::Accum<4>>(model, {.gradient_accumulation_steps = 2}, tiny_regression())),
      "--gradient_accumulation_steps 2 contradicts the Trainer's policy Accum<4>; drop the flag or "
      "make them equal",
      tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(model, {.bf16 = true}, tiny_regression()),
      "--bf16 is set, but the Trainer's precision policy is FP32; use Trainer<BF16> or drop --bf16",
      tt::ArgumentError);
  DOCTEST_CHECK_NOTHROW(tt::Trainer<tt::Accum<4>>(model, {.gradient_accumulation_steps = 4}, tiny_regression()));
}

}  // DOCTEST_TEST_SUITE

}  // namespace policies_tests
