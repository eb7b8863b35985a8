// Loggers: several at once, JSON lines, CSV, TensorBoard event files read back by an
// independent decoder, the progress bar's text, and the SVG picture of a run.
#include "testing.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "support/tensorboard_event_reader.hpp"
#include "support/xml_reader.hpp"

namespace loggers_tests {

using test_support::contains;
using test_support::file_error_of;
using test_support::fresh_folder;
using test_support::stderr_of;
// The readers of what the loggers write, written from the formats' descriptions (tests/support/).
using test_support::bitwise_crc32c;
using test_support::decode_event_file;
using test_support::elements_of_class;
using test_support::little_endian;
using test_support::masked;
using test_support::parse_xml;
using test_support::XmlElement;

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), {}};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

tt::TrainerState at_step(int step, int max_steps = 40) {
  tt::TrainerState state;
  state.global_step = step;
  state.max_steps = max_steps;
  state.epoch = step / 40.0;
  return state;
}

// The logs the TensorBoard tests write (tensorboard_check.py expects the same): interval
// logs, an evaluation, a test prediction and the end-of-training summary.
struct KnownLog {
  int step;
  tt::Metrics logs;
};
std::vector<KnownLog> known_logs() {
  return {
      {10, {{"loss", 2.3026}, {"grad_norm", 1.5}, {"learning_rate", 4.5e-05}, {"epoch", 0.25}}},
      {20, {{"loss", 1.125}, {"grad_norm", 0.75}, {"learning_rate", 4e-05}, {"epoch", 0.5}}},
      {20,
       {{"eval_loss", 1.25},
        {"eval_accuracy", 0.875},
        {"eval_runtime", 0.5},
        {"eval_samples_per_second", 1000.0},
        {"eval_steps_per_second", 31.25},
        {"epoch", 0.5}}},
      {40, {{"test_loss", 1.3}, {"test_accuracy", 0.86}, {"epoch", 1.0}}},
      {40,
       {{"train_runtime", 12.5},
        {"train_samples_per_second", 102.4},
        {"train_steps_per_second", 3.2},
        {"train_loss", 1.5},
        {"epoch", 1.0}}},
  };
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The linear map from values to pixels that an axis's tick labels give: through the first
// and the last tick, checked against every tick between.
struct AxisMap {
  double value0, pixel0, value1, pixel1;
  double operator()(double value) const { return pixel0 + (value - value0) / (value1 - value0) * (pixel1 - pixel0); }
};

AxisMap axis_from_ticks(const std::vector<const XmlElement*>& ticks, const std::string& coordinate) {
  DOCTEST_REQUIRE(ticks.size() >= 2);
  auto value = [](const XmlElement* tick) { return std::stod(tick->text); };
  auto pixel = [&](const XmlElement* tick) { return std::stod(tick->attributes.at(coordinate)); };
  AxisMap map{value(ticks.front()), pixel(ticks.front()), value(ticks.back()), pixel(ticks.back())};
  // Positions are written to 0.01 px: each off by up to 0.005, the map by as much.
  for (const auto* tick : ticks) DOCTEST_CHECK(std::abs(map(value(tick)) - pixel(tick)) <= 0.011);
  return map;
}

std::vector<std::pair<double, double>> polyline_points(const XmlElement& polyline) {
  std::vector<std::pair<double, double>> points;
  std::istringstream stream(polyline.attributes.at("points"));
  for (std::string pair; stream >> pair;) {
    const auto comma = pair.find(',');
    points.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return points;
}

// A logger that records what reaches it, with the optional hooks or without them.
template <bool WithHooks>
struct Recorder {
  using torchtrain_category = tt::category::logger;
  std::vector<std::string>* calls;
  explicit Recorder(std::vector<std::string>* into = nullptr) : calls(into) {}
  void log(const tt::Metrics& logs, const tt::TrainerState& state) {
    calls->push_back(fmt::format("{} log {} at {}", WithHooks, logs.size(), state.global_step));
  }
  void log_metrics(std::string_view split, const tt::Metrics&) {
    calls->push_back(fmt::format("{} metrics {}", WithHooks, split));
  }
  void setup(const tt::TrainingArguments& args) requires WithHooks { calls->push_back("setup " + args.output_dir); }
  void on_train_begin(const tt::TrainerState&) requires WithHooks { calls->push_back("begin"); }
  void on_step_end(const tt::TrainerState& state) requires WithHooks {
    calls->push_back(fmt::format("step {}", state.global_step));
  }
  void on_train_end(const tt::TrainerState&) requires WithHooks { calls->push_back("end"); }
};

tt::data::TensorDataset tiny_regression() {
  auto inputs = torch::randn({32, 2});
  return {inputs, inputs.sum(1, /*keepdim=*/true)};
}

// The Trainer default-constructs its logger: this one records into `trainer_calls`.
std::vector<std::string> trainer_calls;
struct TrainerRecorder : Recorder<true> {
  TrainerRecorder() : Recorder<true>(&trainer_calls) {}
};

// A strategy whose process is not the main one (rank 1 of a distributed run).
struct NotMainProcess : tt::SingleDevice {
  int rank() const { return 1; }
  int local_rank() const { return 1; }  // the second process of rank 0's machine
  int world_size() const { return 2; }  // a rank is below the world size (the loop shards the data by both)
  bool is_main_process() const { return false; }
};

// Trains a Linear(2, 1) on tiny_regression (4 steps an epoch at batch 8) with the policies given.
template <class... Policies>
tt::TrainerState train_tiny(tt::TrainingArguments args) {
  torch::manual_seed(0);
  torch::nn::Linear model(2, 1);
  tt::Trainer<Policies...> trainer(model, std::move(args), tiny_regression(), tt::data::NoDataset{},
                                   tt::loss::mean_squared_error);
  trainer.train();
  return trainer.state();
}

// The steps of the interval logs (those with a training loss) in a log history.
std::vector<int> logged_steps(const tt::TrainerState& state) {
  std::vector<int> steps;
  for (const auto& entry : state.log_history)
    if (entry.contains("loss")) steps.push_back(static_cast<int>(entry.at("step")));
  return steps;
}

DOCTEST_TEST_SUITE("loggers") {

DOCTEST_TEST_CASE("CRC-32C gives the published check values, and TFRecord's mask") {
  DOCTEST_CHECK(tt::io::crc32c("123456789") == 0xe3069283u);
  DOCTEST_CHECK(tt::io::crc32c("") == 0u);
  DOCTEST_CHECK(tt::io::crc32c(std::string(32, '\0')) == 0x8a9136aau);  // RFC 3720, B.4
  DOCTEST_CHECK(tt::io::crc32c(std::string(32, '\xff')) == 0x62a8ab43u);
  DOCTEST_CHECK(tt::io::crc32c("56789", tt::io::crc32c("1234")) == 0xe3069283u);
  static_assert(tt::io::crc32c("123456789") == 0xe3069283u);  // usable at compile time
  DOCTEST_CHECK(tt::io::mask_crc32c(0) == 0xa282ead8u);
  DOCTEST_CHECK(tt::io::mask_crc32c(0xe3069283u) == masked(0xe3069283u));
  const std::string bytes = "the quick brown fox \x01\x80\xff";
  DOCTEST_CHECK(tt::io::crc32c(bytes) == bitwise_crc32c(bytes));
}

DOCTEST_TEST_CASE("an event file decodes: framing, every CRC, the version event, scalars") {
  const auto folder = fresh_folder("event_file") / "nested" / "run";
  const double before = unix_now();
  tt::io::EventFileWriter writer(folder);
  writer.add_scalar("train/loss", 0.25, 7);
  writer.add_scalar("train/big_step", -1.5, std::int64_t{1} << 40);
  writer.flush();
  const double after = unix_now();

  const auto events = decode_event_file(writer.path());
  DOCTEST_REQUIRE(events.size() == 3);
  DOCTEST_CHECK(events[0].file_version == "brain.Event:2");
  DOCTEST_CHECK(events[0].values.empty());
  for (const auto& event : events) {
    DOCTEST_CHECK(event.wall_time >= std::floor(before));
    DOCTEST_CHECK(event.wall_time <= after + 1);
  }
  DOCTEST_CHECK(events[1].step == 7);
  DOCTEST_REQUIRE(events[1].values.size() == 1);
  DOCTEST_CHECK(events[1].values[0].first == "train/loss");
  DOCTEST_CHECK(events[1].values[0].second == 0.25f);
  DOCTEST_CHECK(events[2].step == std::int64_t{1} << 40);
  DOCTEST_CHECK(events[2].values[0].second == -1.5f);

  // The name TensorBoard's own writer gives: seconds (10 digits), host, pid, a number.
  const std::string name = writer.path().filename().string();
  std::smatch match;
  DOCTEST_REQUIRE(std::regex_match(name, match, std::regex(R"(events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+))")));
  DOCTEST_CHECK(std::stod(match[1]) >= std::floor(before));
  DOCTEST_CHECK(match[2] == tt::detail::host_name());
  DOCTEST_CHECK(std::stol(match[3]) == ::getpid());

  // A second writer in the same folder and second gets a file of its own.
  tt::io::EventFileWriter second(folder);
  DOCTEST_CHECK(second.path() != writer.path());
}

DOCTEST_TEST_CASE("a record's framing, byte by byte") {
  const std::string record = tt::io::tfrecord("abc");
  DOCTEST_REQUIRE(record.size() == 8 + 4 + 3 + 4);
  DOCTEST_CHECK(record.substr(0, 8) == std::string("\x03\0\0\0\0\0\0\0", 8));
  DOCTEST_CHECK(little_endian(record.substr(8, 4)) == masked(bitwise_crc32c(record.substr(0, 8))));
  DOCTEST_CHECK(record.substr(12, 3) == "abc");
  DOCTEST_CHECK(little_endian(record.substr(15, 4)) == masked(bitwise_crc32c("abc")));
  // wall_time 1.0 (field 1, fixed64), step 0 left out, file_version (field 3).
  DOCTEST_CHECK(tt::io::file_version_event(1.0) ==
                std::string("\x09\0\0\0\0\0\0\xf0\x3f\x1a\x0d" "brain.Event:2", 24));
}

DOCTEST_TEST_CASE("TensorBoard tags follow the Python Trainer's rewrite_logs") {
  DOCTEST_CHECK(tt::tensorboard_tag("loss") == "train/loss");
  DOCTEST_CHECK(tt::tensorboard_tag("learning_rate") == "train/learning_rate");
  DOCTEST_CHECK(tt::tensorboard_tag("grad_norm") == "train/grad_norm");
  DOCTEST_CHECK(tt::tensorboard_tag("epoch") == "train/epoch");
  DOCTEST_CHECK(tt::tensorboard_tag("train_runtime") == "train/train_runtime");
  DOCTEST_CHECK(tt::tensorboard_tag("eval_loss") == "eval/loss");
  DOCTEST_CHECK(tt::tensorboard_tag("eval_accuracy") == "eval/accuracy");
  DOCTEST_CHECK(tt::tensorboard_tag("test_loss") == "test/loss");
  DOCTEST_CHECK(tt::tensorboard_tag("evaluation") == "train/evaluation");
}

DOCTEST_TEST_CASE("TensorBoardLogger: every tag, step and value read back (and a file for tensorboard_check.py)") {
  const char* given = std::getenv("TORCHTRAIN_TENSORBOARD_FOR_PYTHON");
  const fs::path folder = given ? fs::path(given) : fresh_folder("tensorboard") / "runs";
  fs::remove_all(folder);
  tt::TensorBoardLogger logger(folder);
  DOCTEST_CHECK(!logger.event_file());
  DOCTEST_CHECK(!fs::exists(folder));  // nothing before the first log
  for (const auto& [step, logs] : known_logs()) logger.log(logs, at_step(step));
  logger.log_metrics("eval", known_logs()[2].logs);  // writes nothing: logged already
  logger.flush();
  DOCTEST_REQUIRE(logger.event_file());
  DOCTEST_CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 1);

  const auto events = decode_event_file(*logger.event_file());
  std::size_t next = 1;  // after the version event
  for (const auto& [step, logs] : known_logs())
    for (const auto& [name, value] : logs) {
      DOCTEST_REQUIRE(next < events.size());
      const auto& event = events[next++];
      DOCTEST_CHECK(event.step == step);
      DOCTEST_REQUIRE(event.values.size() == 1);  // one scalar per event, as SummaryWriter.add_scalar
      DOCTEST_CHECK(event.values[0].first == tt::tensorboard_tag(name));
      DOCTEST_CHECK(event.values[0].second == static_cast<float>(value));
    }
  DOCTEST_CHECK(next == events.size());
  DOCTEST_CHECK(events[1].values[0].first == "train/loss");
  DOCTEST_CHECK(events[9].values[0].first == "eval/loss");
}

DOCTEST_TEST_CASE("JsonLinesLogger: the log_history entry of each log, one line each, continued across runs") {
  const auto folder = fresh_folder("json_lines");
  {
    tt::JsonLinesLogger logger(folder);
    DOCTEST_CHECK(logger.path() == folder / "log_history.jsonl");
    logger.log({{"loss", 0.4321}, {"grad_norm", 1.25}, {"learning_rate", 4.5e-05}, {"epoch", 0.5}}, at_step(50));
    logger.log({{"eval_loss", 0.5}, {"eval_accuracy", 1.0}, {"epoch", 0.5}}, at_step(50));
  }
  auto lines = lines_of(read_text(folder / "log_history.jsonl"));
  DOCTEST_REQUIRE(lines.size() == 2);
  DOCTEST_CHECK(lines[0] == R"({"epoch": 0.5, "grad_norm": 1.25, "learning_rate": 4.5e-05, "loss": 0.4321, "step": 50})");
  DOCTEST_CHECK(lines[1] == R"({"epoch": 0.5, "eval_accuracy": 1.0, "eval_loss": 0.5, "step": 50})");

  // Each line is the log_history entry as trainer_state.json writes it, for any values.
  const tt::Metrics tricky{{"loss", std::nan("")}, {"grad_norm", -std::numeric_limits<double>::infinity()},
                           {"eval_samples", 100}, {"test_samples", 100.5}, {"total_flos", 1e15},
                           {"\xc3\xbcnic\xc3\xb6" "de", 1}, {"a\"b", -0.0}, {"Alpha", 2}, {"zeta", 1e-7}, {"step", 3}};
  tt::Metrics entry = tricky;
  entry.set("step", 7);
  DOCTEST_CHECK(tt::json_line(tricky, 7) == tt::io::python_json_dumps(tt::metrics_to_json(entry)) + "\n");
  DOCTEST_CHECK(tt::json_line(tricky, 7) ==
                "{\"Alpha\": 2.0, \"a\\\"b\": -0.0, \"eval_samples\": 100, \"grad_norm\": -Infinity, \"loss\": NaN, "
                "\"step\": 7, \"test_samples\": 100.5, \"total_flos\": 1000000000000000.0, \"zeta\": 1e-07, "
                "\"\\u00fcnic\\u00f6de\": 1.0}\n");

  // A crash left half a line; the next run starts on a line of its own.
  { std::ofstream(folder / "log_history.jsonl", std::ios::app) << R"({"loss": 0.)"; }
  tt::JsonLinesLogger(folder).log({{"loss", std::nan("")}, {"epoch", 1e-05}}, at_step(100));
  lines = lines_of(read_text(folder / "log_history.jsonl"));
  DOCTEST_REQUIRE(lines.size() == 4);
  DOCTEST_CHECK(lines[2] == R"({"loss": 0.)");
  DOCTEST_CHECK(lines[3] == R"({"epoch": 1e-05, "loss": NaN, "step": 100})");
}

DOCTEST_TEST_CASE("CsvLogger: header from the first log, new columns to the right, empty cells") {
  const auto folder = fresh_folder("csv");
  const auto path = folder / "log_history.csv";
  {
    tt::CsvLogger logger(folder);
    DOCTEST_CHECK(!fs::exists(folder / "log_history.csv"));
    logger.log({{"loss", 0.5}, {"learning_rate", 5e-05}, {"epoch", 0.25}}, at_step(10));
    logger.flush();
    DOCTEST_CHECK(read_text(path) == "step,loss,learning_rate,epoch\n10,0.5,5e-05,0.25\n");
    logger.log({{"loss", 0.25}, {"learning_rate", 2.5e-05}, {"epoch", 0.5}}, at_step(20));
    logger.log({{"eval_loss", 0.75}, {"eval_accuracy", 0.875}, {"epoch", 0.5}}, at_step(20));
    logger.flush();
    DOCTEST_CHECK(read_text(path) ==
                  "step,loss,learning_rate,epoch,eval_loss,eval_accuracy\n"
                  "10,0.5,5e-05,0.25,,\n"
                  "20,0.25,2.5e-05,0.5,,\n"
                  "20,,,0.5,0.75,0.875\n");
    logger.log({{"loss", std::numeric_limits<double>::infinity()}, {"epoch", 1.0}}, at_step(40));
  }
  // Continued by a later run under the same header; a new name widens it again.
  tt::CsvLogger later(folder);
  later.log({{"epoch", 1.0}, {"odd, \"name\"", 1e16}}, at_step(41));
  later.flush();
  DOCTEST_CHECK(read_text(path) ==
                "step,loss,learning_rate,epoch,eval_loss,eval_accuracy,\"odd, \"\"name\"\"\"\n"
                "10,0.5,5e-05,0.25,,,\n"
                "20,0.25,2.5e-05,0.5,,,\n"
                "20,,,0.5,0.75,0.875,\n"
                "40,inf,,1.0,,,\n"
                "41,,,1.0,,,1e+16\n");
  tt::CsvLogger again(folder);  // the quoted name is read back as one column
  again.log({{"odd, \"name\"", 2.0}}, at_step(42));
  again.flush();
  DOCTEST_CHECK(lines_of(read_text(path)).back() == "42,,,,,,2.0");
  DOCTEST_CHECK(!fs::exists(folder / "log_history.csv.tmp"));

  const auto other = fresh_folder("csv_other");
  std::ofstream(other / "log_history.csv") << "name,value\nx,1\n";
  const auto message = file_error_of([&] { tt::CsvLogger(other).log({{"loss", 1}}, at_step(1)); });
  DOCTEST_CHECK(contains(message, "its first column is 'name', not 'step'"));
}

DOCTEST_TEST_CASE("a file logger that cannot write says which file and why") {
  tt::io::AppendFile full("/dev/full");
  const auto message = file_error_of([&] { full.append("x"); });
  DOCTEST_CHECK(contains(message, "cannot write '/dev/full': No space left on device"));
  const auto blocked = fresh_folder("blocked");
  std::ofstream(blocked / "file") << "a file where a folder should be";
  const auto no_folder = file_error_of([&] { tt::JsonLinesLogger(blocked / "file").log({{"loss", 1}}, at_step(1)); });
  DOCTEST_CHECK(contains(no_folder, "cannot create the folder '" + (blocked / "file").string() + "'"));
}

// A sink that records each batch it is given, and can be held inside write() until the
// test lets it go, or made to fail.
struct Batches {
  struct Shared {
    std::vector<std::vector<int>> batches;
    std::promise<void> entered;
    std::shared_future<void> release;
    bool hold_first = false;
    int fail_at = -1;  // the batch whose write throws
  };
  std::shared_ptr<Shared> shared;
  void write(const std::vector<int>& records) {
    if (static_cast<int>(shared->batches.size()) == shared->fail_at)
      throw tt::FileError("cannot write 'batches': No space left on device");
    shared->batches.push_back(records);
    if (shared->hold_first && shared->batches.size() == 1) {
      shared->entered.set_value();
      shared->release.wait();
    }
  }
};

DOCTEST_TEST_CASE("BackgroundWriter: push returns while the sink writes; every record, in order, once") {
  auto shared = std::make_shared<Batches::Shared>();
  std::promise<void> release;
  shared->release = release.get_future().share();
  shared->hold_first = true;
  {
    tt::io::BackgroundWriter<int, Batches> writer(Batches{shared});
    writer.push(1);
    shared->entered.get_future().wait();  // the thread is inside write(), held there
    for (int record = 2; record <= 100; ++record) writer.push(record);  // none of these waits for it
    release.set_value();
    writer.flush();
    DOCTEST_REQUIRE(shared->batches.size() == 2);  // what came while the sink wrote went as one batch
    DOCTEST_CHECK(shared->batches[0] == std::vector<int>{1});
    DOCTEST_CHECK(shared->batches[1].size() == 99);
    DOCTEST_CHECK(std::is_sorted(shared->batches[1].begin(), shared->batches[1].end()));
    DOCTEST_CHECK(shared->batches[1].front() == 2);
    writer.push(101);  // not flushed: the destructor writes it
  }
  DOCTEST_CHECK(shared->batches.back() == std::vector<int>{101});
}

DOCTEST_TEST_CASE("BackgroundWriter: past its capacity a push waits for the sink, so no more records wait") {
  auto shared = std::make_shared<Batches::Shared>();
  std::promise<void> release;
  shared->release = release.get_future().share();
  shared->hold_first = true;
  tt::io::BackgroundWriter<int, Batches> writer(Batches{shared}, std::chrono::milliseconds(100), /*capacity=*/2);
  writer.push(1);
  shared->entered.get_future().wait();  // the sink is held inside its first write
  writer.push(2);
  writer.push(3);  // the queue is full
  std::atomic<bool> pushing{false};
  std::thread fourth([&] {
    pushing = true;
    writer.push(4);  // waits until the sink has taken 2 and 3
  });
  while (!pushing) std::this_thread::yield();
  release.set_value();
  fourth.join();
  writer.flush();
  DOCTEST_CHECK(shared->batches == std::vector<std::vector<int>>{{1}, {2, 3}, {4}});
}

DOCTEST_TEST_CASE("BackgroundWriter: the sink's error reaches the caller at the next push or flush, and stderr") {
  auto shared = std::make_shared<Batches::Shared>();
  shared->fail_at = 1;
  tt::io::BackgroundWriter<int, Batches> writer(Batches{shared});
  writer.push(1);
  writer.flush();
  writer.push(2);
  DOCTEST_CHECK(contains(file_error_of([&] { writer.flush(); }), "cannot write 'batches': No space left on device"));
  DOCTEST_CHECK(contains(file_error_of([&] { writer.push(3); }), "No space left on device"));  // every time after
  DOCTEST_CHECK(shared->batches == std::vector<std::vector<int>>{{1}});                      // nothing after it

  // An error nobody was told of is printed when the writer ends.
  auto unseen = std::make_shared<Batches::Shared>();
  unseen->fail_at = 0;
  const auto printed = stderr_of([&] {
    tt::io::BackgroundWriter<int, Batches> dropped(Batches{unseen});
    dropped.push(1);
  });
  DOCTEST_CHECK(contains(printed, "torchtrain error: cannot write 'batches': No space left on device"));
}

DOCTEST_TEST_CASE("a file logger on a full disk says so at the next log or flush") {
  const auto folder = fresh_folder("full_disk");
  fs::create_symlink("/dev/full", folder / "log_history.jsonl");
  tt::JsonLinesLogger logger(folder);
  logger.log({{"loss", 1}}, at_step(1));  // the thread writes it
  const auto message = file_error_of([&] { logger.flush(); });
  DOCTEST_CHECK(contains(message, "cannot write '" + (folder / "log_history.jsonl").string() + "': No space left on device"));
  DOCTEST_CHECK(contains(file_error_of([&] { logger.log({{"loss", 2}}, at_step(2)); }), "No space left on device"));
}

DOCTEST_TEST_CASE("Loggers<...> hands each call to every logger, hooks only to those that have them") {
  static_assert(tt::LoggerPolicy<tt::Loggers<tt::ConsoleLogger, tt::TensorBoardLogger, tt::CsvLogger>>);
  static_assert(tt::LoggerPolicy<tt::Loggers<>>);
  static_assert(!tt::LoggerPolicy<tt::FP32>);
  static_assert(std::is_same_v<tt::Trainer<tt::Loggers<tt::JsonLinesLogger>>::policies::logger,
                               tt::Loggers<tt::JsonLinesLogger>>);

  std::vector<std::string> calls;
  tt::Loggers<Recorder<true>, Recorder<false>> loggers{Recorder<true>(&calls), Recorder<false>(&calls)};
  const auto state = at_step(3);
  loggers.on_train_begin(state);
  loggers.on_step_end(state);
  loggers.log({{"loss", 1}, {"epoch", 0.1}}, state);
  loggers.log_metrics("eval", {{"eval_loss", 1}});
  loggers.on_train_end(state);
  DOCTEST_CHECK(calls == std::vector<std::string>{"begin", "step 3", "true log 2 at 3", "false log 2 at 3",
                                                  "true metrics eval", "false metrics eval", "end"});

  // One folder for all the file loggers.
  const auto folder = fresh_folder("together");
  tt::Loggers<tt::JsonLinesLogger, tt::CsvLogger, tt::TensorBoardLogger> files(folder);
  files.log({{"loss", 1}}, state);
  DOCTEST_CHECK(files.get<0>().path() == folder / "log_history.jsonl");
  DOCTEST_CHECK(files.get<1>().path() == folder / "log_history.csv");
  DOCTEST_CHECK(files.get<2>().event_file()->parent_path() == folder);
}

DOCTEST_TEST_CASE("a Trainer with Loggers<...>: every file holds log_history") {
  const auto folder = fresh_folder("trainer");
  {
    torch::manual_seed(0);
    torch::nn::Linear model(2, 1);
    tt::Trainer<tt::Loggers<tt::JsonLinesLogger, tt::CsvLogger, tt::TensorBoardLogger>, tt::NoCheckpoint> trainer(
        model, {.output_dir = (folder / "out").string(), .max_steps = 6, .logging_steps = 2}, tiny_regression(),
        tt::data::NoDataset{}, tt::loss::mean_squared_error);
    trainer.train();
    const auto& history = trainer.state().log_history;
    DOCTEST_REQUIRE(history.size() == 4);  // three interval logs and the summary

    // The default --logging_dir: output_dir/runs/<date>_<host>.
    DOCTEST_CHECK(trainer.args().logging_dir == fs::directory_iterator(folder / "out" / "runs")->path().string());
    DOCTEST_REQUIRE(std::distance(fs::directory_iterator(folder / "out" / "runs"), fs::directory_iterator()) == 1);
    const fs::path logging_dir = fs::directory_iterator(folder / "out" / "runs")->path();
    DOCTEST_CHECK(std::regex_match(logging_dir.filename().string(),
                                   std::regex(R"([A-Z][a-z]{2}\d\d_\d\d-\d\d-\d\d_.+)")));
    const auto lines = lines_of(read_text(logging_dir / "log_history.jsonl"));
    DOCTEST_REQUIRE(lines.size() == history.size());
    for (std::size_t i = 0; i < lines.size(); ++i)
      DOCTEST_CHECK(lines[i] == tt::io::python_json_dumps(tt::metrics_to_json(history[i])));
    DOCTEST_CHECK(lines_of(read_text(logging_dir / "log_history.csv")).size() == history.size() + 1);

    std::vector<fs::path> event_files;
    for (const auto& entry : fs::directory_iterator(logging_dir))
      if (contains(entry.path().filename().string(), "tfevents")) event_files.push_back(entry.path());
    DOCTEST_REQUIRE(event_files.size() == 1);
    std::size_t scalars = 0;
    for (const auto& entry : history) scalars += entry.size() - 1;  // all but "step"
    const auto events = decode_event_file(event_files[0]);
    DOCTEST_CHECK(events.size() == scalars + 1);
    DOCTEST_CHECK(events[1].step == 2);
    DOCTEST_CHECK(events[1].values[0].first == "train/loss");
    DOCTEST_CHECK(events[1].values[0].second == static_cast<float>(history[0].at("loss")));
  }
}

DOCTEST_TEST_CASE("ReportTo, the default: --report_to chooses the file loggers, in --logging_dir") {
  static_assert(std::is_same_v<tt::Trainer<>::policies::logger, tt::ReportTo>);
  // Every name --report_to accepts is a logger ReportTo can make, and no other.
  DOCTEST_CHECK((std::set<std::string_view>(tt::reporting_integrations.begin(), tt::reporting_integrations.end()) ==
                 std::set<std::string_view>{tt::TensorBoardLogger::report_to_name, tt::JsonLinesLogger::report_to_name,
                                            tt::CsvLogger::report_to_name}));
  const auto folder = fresh_folder("report_to");
  const auto files_for = [&](std::vector<std::string> report_to) {
    const auto run = folder / fmt::format("{}", fmt::join(report_to, "_"));
    const auto state = train_tiny<tt::NoCheckpoint>({.output_dir = (run / "out").string(),
                                                     .max_steps = 4,
                                                     .logging_steps = 2,
                                                     .logging_dir = (run / "logs").string(),
                                                     .report_to = report_to});
    std::set<std::string> files;
    if (fs::exists(run / "logs"))
      for (const auto& entry : fs::directory_iterator(run / "logs"))
        files.insert(contains(entry.path().filename().string(), "tfevents") ? "tfevents"
                                                                              : entry.path().filename().string());
    if (files.contains("log_history.jsonl"))  // two interval logs and the summary
      DOCTEST_CHECK(lines_of(read_text(run / "logs" / "log_history.jsonl")).size() == state.log_history.size());
    return files;
  };
  DOCTEST_CHECK(files_for({"none"}).empty());
  DOCTEST_CHECK((files_for({"jsonl", "tensorboard"}) == std::set<std::string>{"log_history.jsonl", "tfevents"}));
  DOCTEST_CHECK((files_for({"all"}) == std::set<std::string>{"log_history.csv", "log_history.jsonl", "tfevents"}));

  // A logger policy fixed in the type and --report_to cannot both choose.
  torch::nn::Linear model(2, 1);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<tt::Loggers<tt::CsvLogger>>(model, {.report_to = {"tensorboard"}}, tiny_regression(),
                                              tt::data::NoDataset{}, tt::loss::mean_squared_error),
      doctest::Contains("--report_to tensorboard chooses loggers, but this Trainer's logger policy chooses them"),
      tt::ArgumentError);
}

DOCTEST_TEST_CASE("the Trainer calls the logger's hooks, on the main process only") {
  trainer_calls.clear();
  const auto folder = fresh_folder("hooks");
  train_tiny<TrainerRecorder, tt::NoCheckpoint>(
      {.output_dir = (folder / "main").string(), .max_steps = 4, .logging_steps = 2});
  DOCTEST_CHECK((trainer_calls == std::vector<std::string>{"setup " + (folder / "main").string(), "begin", "step 1",
                                                           "step 2", "true log 4 at 2", "step 3", "step 4",
                                                           "true log 4 at 4", "true log 6 at 4", "end"}));

  // Another rank: no logger call, no file, and its messages at --log_level_replica.
  trainer_calls.clear();
  const auto replica_output = folder / "replica";
  const auto state = train_tiny<TrainerRecorder, NotMainProcess>({.output_dir = replica_output.string(),
                                                                  .max_steps = 4,
                                                                  .logging_steps = 2,
                                                                  .log_level = tt::LogLevel::info,
                                                                  .log_level_replica = tt::LogLevel::error,
                                                                  .save_steps = 2});
  DOCTEST_CHECK(trainer_calls.empty());
  DOCTEST_CHECK(state.log_history.size() == 3);  // the state has the logs all the same
  DOCTEST_CHECK(!fs::exists(replica_output));
  DOCTEST_CHECK(tt::verbosity() == tt::LogLevel::error);
  tt::set_verbosity(tt::LogLevel::warning);
}

DOCTEST_TEST_CASE("log_level: torchtrain's messages, filtered as transformers' logging") {
  tt::set_verbosity(tt::LogLevel::warning);
  const auto printed = stderr_of([] {
    tt::message(tt::LogLevel::info, "an info {}", 1);
    tt::message(tt::LogLevel::warning, "a warning {}", 2);
    tt::set_verbosity(tt::LogLevel::passive);  // leaves the level as it is
    tt::message(tt::LogLevel::info, "another info");
    tt::set_verbosity(tt::LogLevel::error);
    tt::message(tt::LogLevel::warning, "another warning");
    tt::message(tt::LogLevel::critical, "a critical {}", "error");
  });
  DOCTEST_CHECK(printed == "torchtrain warning: a warning 2\ntorchtrain error: a critical error\n");

  // --log_level info shows the Python Trainer's banner; the default (passive) does not.
  const auto folder = fresh_folder("log_level");
  const auto banner = stderr_of([&] {
    train_tiny<tt::NoCheckpoint>({.output_dir = folder.string(), .max_steps = 4, .log_level = tt::LogLevel::info});
  });
  tt::set_verbosity(tt::LogLevel::warning);
  DOCTEST_CHECK(contains(banner, "***** Running training *****\n  Num examples = 32\n  Num Epochs = 1\n"));
  DOCTEST_CHECK(contains(banner, "  Total optimization steps = 4\n  Number of trainable parameters = 3\n"));
  const auto quiet = stderr_of([&] { train_tiny<tt::NoCheckpoint>({.output_dir = folder.string(), .max_steps = 4}); });
  DOCTEST_CHECK(!contains(quiet, "Running training"));
}

DOCTEST_TEST_CASE("logging intervals: steps, a share of the steps, the first step, epochs, none") {
  // 32 samples at batch 8 for 3 epochs: 12 steps.
  const auto steps_logged = [](tt::TrainingArguments args) {
    args.output_dir = fresh_folder("intervals").string();
    args.num_train_epochs = 3;
    return logged_steps(train_tiny<tt::NoCheckpoint>(args));
  };
  DOCTEST_CHECK((steps_logged({.logging_steps = 5}) == std::vector<int>{5, 10}));
  DOCTEST_CHECK((steps_logged({.logging_steps = 0.25}) == std::vector<int>{3, 6, 9, 12}));  // ceil(0.25 x 12)
  DOCTEST_CHECK((steps_logged({.logging_steps = 0.3}) == std::vector<int>{4, 8, 12}));      // ceil(3.6)
  DOCTEST_CHECK((steps_logged({.logging_steps = 5, .logging_first_step = true}) == std::vector<int>{1, 5, 10}));
  DOCTEST_CHECK((steps_logged({.logging_strategy = tt::IntervalStrategy::epoch}) == std::vector<int>{4, 8, 12}));
  DOCTEST_CHECK(steps_logged({.logging_strategy = tt::IntervalStrategy::no}).empty());
}

DOCTEST_TEST_CASE("logging_nan_inf_filter: a NaN or infinite loss counts as the mean since the last log") {
  // Python: tr_loss += tr_loss / (1 + global_step - last_logged) in place of a bad loss.
  tt::LossSum sum;
  sum.add(torch::tensor(1.0), 1.0);
  sum.add(torch::tensor(2.0), 2.0);
  sum.add(torch::tensor(NAN), 3.0);          // 3 + 3/3
  sum.add(torch::tensor(INFINITY), 4.0);     // 4 + 4/4
  sum.add(torch::tensor(0.5), 5.0);
  DOCTEST_CHECK(sum.sum().item<double>() == 5.5);
  tt::LossSum unfiltered;
  unfiltered.add(torch::tensor(1.0));
  unfiltered.add(torch::tensor(NAN));
  DOCTEST_CHECK(std::isnan(unfiltered.sum().item<double>()));

  // Across folds (every LossSum::fold_every losses) the sum is the same recurrence; on
  // the host it is the recurrence itself.
  tt::LossSum many, on_host(tt::LossSum::Where::host);
  double expected = 0;
  for (int k = 0; k < 600; ++k) {
    const bool bad = k % 97 == 3;
    const double loss = 0.25 + (k % 7) * 0.125, divisor = 1 + k / 2;
    many.add(torch::tensor(bad ? NAN : loss, torch::kFloat64), divisor);
    on_host.add(torch::tensor(bad ? NAN : loss, torch::kFloat64), divisor);
    expected += bad ? expected / divisor : loss;
  }
  DOCTEST_CHECK(many.sum().item<double>() == doctest::Approx(expected).epsilon(1e-12));
  DOCTEST_CHECK(on_host.sum().item<double>() == expected);

  // In the Trainer: the second step's loss is NaN (its gradient is not).
  const auto logged_loss = [](bool filter, double* first_loss) {
    auto calls = std::make_shared<int>(0);
    auto loss = [calls, first_loss](const torch::Tensor& outputs, const tt::data::Batch& batch) {
      auto value = tt::loss::mean_squared_error(outputs, batch);
      if (++*calls == 1) *first_loss = value.item<double>();
      return *calls == 2 ? value + torch::full({}, NAN) : value;  // NaN value, finite gradient
    };
    torch::manual_seed(0);
    torch::nn::Linear model(2, 1);
    tt::Trainer<tt::NoCheckpoint> trainer(model,
                                          {.output_dir = fresh_folder("nan_filter").string(),
                                           .max_steps = 2,
                                           .logging_steps = 2,
                                           .logging_nan_inf_filter = filter},
                                          tiny_regression(), tt::data::NoDataset{}, loss);
    trainer.train();
    const auto& history = trainer.state().log_history;
    return std::ranges::find_if(history, [](const tt::Metrics& entry) { return entry.contains("loss"); })->at("loss");
  };
  double first = 0;
  // The sum after step 2 is l1 + l1 / 2, averaged over the 2 steps.
  const double filtered = logged_loss(true, &first);
  DOCTEST_CHECK(filtered == doctest::Approx(0.75 * first).epsilon(1e-3));
  DOCTEST_CHECK(std::isnan(logged_loss(false, &first)));
}

DOCTEST_TEST_CASE("training_plot.svg beside trainer_state.json: in each checkpoint, at the end, with save_state") {
  const auto output_dir = fresh_folder("plots");
  torch::manual_seed(0);
  torch::nn::Linear model(2, 1);
  tt::Trainer<> trainer(model, {.output_dir = output_dir.string(), .max_steps = 6, .logging_steps = 1, .save_steps = 3},
                        tiny_regression(), tt::data::NoDataset{}, tt::loss::mean_squared_error);
  trainer.train();
  // Each picture holds the training loss logged up to its moment: a point per log.
  const auto points_in = [](const fs::path& svg) {
    const std::string text = read_text(svg);
    DOCTEST_CHECK(text.starts_with("<?xml"));
    std::smatch match;
    DOCTEST_REQUIRE(std::regex_search(text, match, std::regex(R"re(class="train-loss"[^>]*points="([^"]*)")re")));
    const std::string points = match[1];
    return std::count(points.begin(), points.end(), ',');
  };
  DOCTEST_CHECK(points_in(output_dir / "checkpoint-3" / "training_plot.svg") == 3);
  DOCTEST_CHECK(points_in(output_dir / "checkpoint-6" / "training_plot.svg") == 6);
  DOCTEST_CHECK(points_in(output_dir / "training_plot.svg") == 6);
  fs::remove(output_dir / "training_plot.svg");
  trainer.save_state();
  DOCTEST_CHECK(fs::exists(output_dir / "trainer_state.json"));
  DOCTEST_CHECK(points_in(output_dir / "training_plot.svg") == 6);
}

DOCTEST_TEST_CASE("--disable_tqdm turns the progress bar off") {
  const auto folder = fresh_folder("disable_tqdm");
  std::FILE* file = std::fopen((folder / "out.txt").c_str(), "w");
  tt::ConsoleLogger console(file, tt::ProgressBar::always);
  console.setup({});
  DOCTEST_CHECK(console.draws_bar());
  console.setup({.disable_tqdm = true});
  DOCTEST_CHECK(!console.draws_bar());
  std::fclose(file);
}

DOCTEST_TEST_CASE("the progress bar's text, from the numbers it shows") {
  DOCTEST_CHECK(tt::format_duration(0) == "00:00");
  DOCTEST_CHECK(tt::format_duration(75.9) == "01:15");
  DOCTEST_CHECK(tt::format_duration(3600 + 62) == "1:01:02");
  DOCTEST_CHECK(tt::format_duration(-1) == "?");
  DOCTEST_CHECK(tt::format_duration(std::numeric_limits<double>::infinity()) == "?");
  DOCTEST_CHECK(tt::format_rate(0, 0) == "?it/s");
  DOCTEST_CHECK(tt::format_rate(100, 4) == "25.00it/s");
  DOCTEST_CHECK(tt::format_rate(2, 5) == "2.50s/it");

  const tt::Progress progress{.step = 459, .max_steps = 1020, .epoch = 1.35, .steps_timed = 459, .seconds = 12.3,
                              .loss = 0.43214};
  DOCTEST_CHECK(tt::format_progress_bar(progress, 80) ==
                " 45%|██████▊        | 459/1020 [00:12<00:15, 37.32it/s, epoch=1.35, loss=0.4321]");
  // A resumed run times only its own steps; no loss logged yet; a narrow terminal drops the bar.
  const tt::Progress resumed{.step = 600, .max_steps = 1000, .epoch = 2, .steps_timed = 100, .seconds = 4};
  DOCTEST_CHECK(tt::format_progress_bar(resumed, 70) ==
                " 60%|██████████▊       | 600/1000 [00:04<00:16, 25.00it/s, epoch=2.00]");
  DOCTEST_CHECK(tt::format_progress_bar(resumed, 52) == " 60% 600/1000 [00:04<00:16, 25.00it/s, epoch=2.00]");
  const tt::Progress start{.step = 0, .max_steps = 10};
  DOCTEST_CHECK(tt::format_progress_bar(start, 50) == "  0%|          | 0/10 [00:00<?, ?it/s, epoch=0.00]");
  const tt::Progress done{.step = 10, .max_steps = 10, .epoch = 3, .steps_timed = 10, .seconds = 2};
  DOCTEST_CHECK(tt::format_progress_bar(done, 58) == "100%|██████████| 10/10 [00:02<00:00, 5.00it/s, epoch=3.00]");
  DOCTEST_CHECK(tt::format_progress_bar(done, 20) == "100% 10/10 [00:02<00");  // cut, never wrapped
}

DOCTEST_TEST_CASE("ConsoleLogger: plain lines off a terminal, a bar redrawn in place when asked") {
  const auto folder = fresh_folder("console");
  const auto logs = tt::Metrics{{"loss", 0.5}, {"epoch", 0.5}};
  {
    std::FILE* file = std::fopen((folder / "plain.txt").c_str(), "w");
    tt::ConsoleLogger plain(file);  // a file is no terminal: lines as before
    DOCTEST_CHECK(!plain.draws_bar());
    plain.on_train_begin(at_step(0, 10));
    plain.on_step_end(at_step(5, 10));
    plain.log(logs, at_step(5, 10));
    plain.on_train_end(at_step(10, 10));
    std::fclose(file);
  }
  DOCTEST_CHECK(read_text(folder / "plain.txt") == "[ 5/10] {'loss': 0.5, 'epoch': 0.5}\n");
  {
    std::FILE* file = std::fopen((folder / "bar.txt").c_str(), "w");
    tt::ConsoleLogger bar(file, tt::ProgressBar::always);
    DOCTEST_CHECK(bar.draws_bar());
    bar.on_train_begin(at_step(0, 10));
    bar.log(logs, at_step(5, 10));
    bar.on_step_end(at_step(10, 10));  // the last step is always drawn
    bar.on_train_end(at_step(10, 10));
    bar.log_metrics("train", {{"train_loss", 0.5}});
    std::fclose(file);
  }
  const std::string out = read_text(folder / "bar.txt");
  // Each draw goes back to the line's start and clears what is left of the old one.
  const auto draws = lines_of(out);
  DOCTEST_REQUIRE(draws.size() == 4);
  DOCTEST_CHECK(draws[0].starts_with("\r  0%|"));
  DOCTEST_CHECK(draws[0].ends_with("\r\x1b[K[ 5/10] {'loss': 0.5, 'epoch': 0.5}"));  // the log where the bar was
  DOCTEST_CHECK(draws[1].starts_with("\r100%|"));  // the bar back below it at the next redraw, with the loss
  DOCTEST_CHECK(contains(draws[1], " 10/10 ["));
  DOCTEST_CHECK(draws[1].ends_with("epoch=0.25, loss=0.5]\x1b[K"));
  DOCTEST_CHECK(draws[2] == "***** train metrics *****");
  DOCTEST_CHECK(draws[3] == "  train_loss = 0.5");
}

DOCTEST_TEST_CASE("the SVG picture: well-formed, and its lines hold the logged values") {
  tt::TrainerState state = at_step(100, 120);
  state.epoch = 2.5;
  for (int step = 10; step <= 100; step += 10) {
    tt::Metrics log{{"loss", 2.0 / step * 10}, {"grad_norm", 1.0}, {"learning_rate", 5e-5 * (120 - step) / 120},
                    {"epoch", step / 40.0}, {"step", step}};
    state.log_history.push_back(log);
    if (step % 50 == 0)
      state.log_history.push_back({{"eval_loss", 1.5 - step / 100.0}, {"epoch", step / 40.0}, {"step", step}});
  }
  state.log_history.push_back({{"loss", std::nan("")}, {"learning_rate", 0.0}, {"step", 110}});  // NaN left out

  const auto folder = fresh_folder("plot");
  tt::io::write_training_plot(state, folder / "training_plot.svg");
  const std::string svg = read_text(folder / "training_plot.svg");
  DOCTEST_CHECK(svg == tt::io::training_plot_svg(state));
  const auto root = parse_xml(svg);
  DOCTEST_CHECK(root.name == "svg");
  DOCTEST_CHECK(root.attributes.at("xmlns") == "http://www.w3.org/2000/svg");
  DOCTEST_CHECK(contains(svg, "step 100 of 120, epoch 2.50, loss 0.2, eval_loss 0.5"));

  const auto x_ticks = elements_of_class(root, "tick x");
  const auto x = axis_from_ticks(x_ticks, "x");
  DOCTEST_CHECK(x_ticks.front()->text == "0");
  auto check_series = [&](const std::string& panel, const std::string& series, const std::string& name,
                          std::size_t count) {
    DOCTEST_INFO(series);
    const auto groups = elements_of_class(root, panel);
    DOCTEST_REQUIRE(groups.size() == 1);
    const auto y = axis_from_ticks(elements_of_class(*groups[0], "tick y"), "y");
    const auto lines = elements_of_class(*groups[0], series);
    DOCTEST_REQUIRE(lines.size() == 1);
    const auto points = polyline_points(*lines[0]);
    std::vector<std::pair<double, double>> logged;
    for (const auto& entry : state.log_history)
      if (entry.contains(name) && std::isfinite(entry.at(name))) logged.emplace_back(entry.at("step"), entry.at(name));
    DOCTEST_REQUIRE(points.size() == count);
    DOCTEST_REQUIRE(logged.size() == count);
    for (std::size_t i = 0; i < count; ++i) {
      DOCTEST_CHECK(std::abs(points[i].first - x(logged[i].first)) <= 0.011);
      DOCTEST_CHECK(std::abs(points[i].second - y(logged[i].second)) <= 0.011);
    }
  };
  check_series("loss-panel", "train-loss", "loss", 10);
  check_series("loss-panel", "eval-loss", "eval_loss", 2);
  check_series("learning-rate-panel", "learning-rate", "learning_rate", 11);

  // Before any log: still a picture, that says so.
  const auto empty = tt::io::training_plot_svg(at_step(0, 10));
  DOCTEST_CHECK(parse_xml(empty).name == "svg");
  DOCTEST_CHECK(contains(empty, "no loss logged yet"));
  DOCTEST_CHECK(contains(empty, "no learning rate logged yet"));
}

}  // DOCTEST_TEST_SUITE("loggers")

}  // namespace loggers_tests
