// ddp_worker: one rank of the distributed tests (the `distributed` suite starts it, mostly through torchtrain-launch).
//
//   ddp_worker --trainer single|ddp|ddp_accum2|bf16_single|bf16_ddp_accum4|fsdp|fsdp_accum2 --out DIR [TrainingArguments flags]
//              [--die_at_step S --die_rank R --die_how exit|stop --die_attempt A] [--wait_for_signal true]
//              [--stream true] [--batch_norm true] [--hidden N] [--rank_draws true] [--blocks N]
//
// Trains a small classifier on a fixed synthetic set, then evaluates; writes this rank's
// final parameters to DIR/weights-rank<R>.pt, its buffers (BatchNorm's, with --batch_norm)
// to DIR/buffers-rank<R>.pt and its eval metrics to DIR/metrics-rank<R>.json (all ranks, so
// the suite can check that they agree). With --stream the training set is read in order
// as a stream (which needs --max_steps). The other flags make a rank fail on purpose: exit
// at a step (a dead rank; under torchrun, in one restart attempt only if asked) or stop
// itself with SIGSTOP (a rank that no longer answers), or wait for a signal forwarded by
// the launcher.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

namespace tt = torchtrain;

namespace ddp_worker {

struct WorkerArguments {
  std::string trainer = "ddp";  // which Trainer type runs
  std::string out = "ddp_worker_out";  // where weights and metrics go
  int die_at_step = -1;          // the rank die_rank fails at the end of this step
  int die_rank = 1;
  std::string die_how = "exit";  // exit: _exit(3); stop: SIGSTOP itself
  int die_attempt = -1;          // under torchrun, fail only in this restart attempt (-1: in any)
  bool wait_for_signal = false;  // only wait for SIGINT or SIGTERM, report it and exit
  bool rank_output_dir = false;  // output_dir/rank-<RANK>, to see which rank wrote what
  bool stream = false;           // train on the training set read in order as a stream
  bool batch_norm = false;       // BatchNorm (with running statistics, buffers) instead of LayerNorm
  int hidden = 32;               // the hidden layer's width (32768: 1.9 MB of parameters)
  bool rank_draws = false;       // after each step, draw rank + 1 random numbers (the ranks' states differ)
  bool ignored_labels = false;   // about a third of the training labels -100, as a token loss's padding
  bool custom_step = false;      // train with a training_step of the user's (TwoForwardsStep)
  int blocks = 0;                // residual blocks (each a tt::nn::ShardedBlock) between the first layer and the norm
};

// A residual block with a norm of its own (its weights are not decayed): FSDP's unit.
struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(int hidden)
      : norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})))),
        fc(register_module("fc", torch::nn::Linear(hidden, hidden))) {}
  torch::Tensor forward(const torch::Tensor& x) { return x + torch::relu(fc(norm(x))); }
  torch::nn::LayerNorm norm;
  torch::nn::Linear fc;
};
TORCH_MODULE(Block);

// No dropout: the equivalence tests compare one batch of 32 with two of 16, and a
// dropout mask would differ between the two; nor BatchNorm, whose statistics would, except
// in the buffer test.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(bool use_batch_norm = false, int hidden = 32, int num_blocks = 0)
      : first(register_module("first", torch::nn::Linear(8, hidden))) {
    for (int b = 0; b < num_blocks; ++b)
      blocks.push_back(register_module(fmt::format("block{}", b), tt::nn::ShardedBlock<Block>(Block(hidden))));
    if (use_batch_norm)
      batch_norm = register_module("norm", torch::nn::BatchNorm1d(hidden));
    else
      layer_norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    last = register_module("last", torch::nn::Linear(hidden, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto hidden = torch::relu(first(x));
    for (auto& block : blocks) hidden = block(hidden);
    return last(batch_norm ? batch_norm(hidden) : layer_norm(hidden));
  }
  torch::nn::Linear first;
  std::vector<tt::nn::ShardedBlock<Block>> blocks;
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::BatchNorm1d batch_norm{nullptr};
  torch::nn::Linear last{nullptr};
};
TORCH_MODULE(Net);

// 256 training samples (8 global batches of 32) and 45 evaluation samples (odd, so
// that the evaluation shards of 2 ranks are uneven).
inline std::pair<tt::data::TensorDataset, tt::data::TensorDataset> data() {
  torch::manual_seed(1);
  auto inputs = torch::randn({301, 8});
  auto labels = (inputs.slice(1, 0, 3).argmax(1) + (inputs.select(1, 4) > 1).to(torch::kLong)) % 3;
  return {tt::data::TensorDataset{inputs.slice(0, 0, 256), labels.slice(0, 0, 256)},
          tt::data::TensorDataset{inputs.slice(0, 256), labels.slice(0, 256)}};
}

// A dataset read in order, as a stream (an IterableDataset).
struct InOrder {
  tt::data::TensorDataset data;
  std::int64_t next_sample = 0;
  void restart(std::int64_t /*epoch*/) { next_sample = 0; }
  std::optional<torch::data::Example<>> next() {
    if (next_sample == data.size()) return std::nullopt;
    ++next_sample;
    return torch::data::Example<>{data.inputs()[next_sample - 1], data.labels()[next_sample - 1]};
  }
};

// Accuracy on the whole set, or, with --batch_eval_metrics, counted batch by batch (the
// Python pattern); notes the size of each batch it is given.
struct Accuracy {
  std::vector<std::int64_t>* batch_sizes;
  double correct = 0, total = 0;
  tt::Metrics operator()(const tt::EvalPrediction& prediction) const { return tt::metrics::accuracy(prediction); }
  tt::Metrics operator()(const tt::EvalPrediction& batches, bool compute_result) {
    const auto prediction = tt::concatenated(batches);  // also with --eval_do_concat_batches false
    batch_sizes->push_back(prediction.label_ids.size(0));
    correct += (prediction.predictions.argmax(-1) == prediction.label_ids).sum().item<double>();
    total += static_cast<double>(prediction.label_ids.size(0));
    if (!compute_result) return {};
    tt::Metrics metrics{{"accuracy", correct / total}};
    correct = total = 0;
    return metrics;
  }
};

// A training step of the user's: two forwards (no dropout, so the same logits) and a token
// loss summed over the micro-batch and divided by the labels of the whole window on every
// rank, handed to backward as such. Under DDP it must still run without gradient
// synchronization inside a window, and equal one process.
struct TwoForwardsStep {
  template <class Step>
  void training_step(Step& step, const tt::data::Batch& batch) const {
    const auto summed = [&](const torch::Tensor& logits) {
      return torch::nn::functional::cross_entropy(
          logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
    };
    auto loss = step.autocast([&] {
      auto first = step.forward(batch);
      auto second = step.forward(batch);
      return (summed(first) + summed(second)) / 2 / step.num_items_in_batch();
    });
    step.backward(loss, tt::LossScale::divided_by_num_items);
  }
  torch::Tensor operator()(const torch::Tensor& logits, const tt::data::Batch& batch) const {  // evaluation's
    return tt::loss::cross_entropy(logits, batch);
  }
};

// Makes each rank's random state its own: rank r draws r + 1 numbers after each step.
struct DrawByRank {
  bool enabled;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) const {
    if (enabled) torch::rand({tt::distributed::read_environment().rank + 1});
  }
};

struct FailOnPurpose {
  int step, rank;
  std::string how;
  int attempt;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&) const {
    const auto env = tt::distributed::read_environment();
    if (state.global_step != step || env.rank != rank || (attempt >= 0 && env.restart_count != attempt)) return;
    std::fprintf(stderr, "ddp_worker: rank %d fails on purpose at step %d (%s)\n", rank, step, how.c_str());
    if (how == "stop") std::raise(SIGSTOP);
    std::_Exit(3);
  }
};

// DDP that remembers its gradient buckets, so that the worker can report how many
// all-reduces backward issued (the accumulation test counts them).
struct CountingDDP : tt::DDP {
  static inline CountingDDP* last = nullptr;
  template <class Model>
  void setup(Model& model, const tt::TrainingArguments& args) {
    tt::DDP::setup(model, args);
    last = this;
  }
};

// What this rank holds, in elements, for the memory checks of the sharded runs: the
// model's parameters that have memory and the gradients (the optimizer's and the
// model's, each tensor once), just before the optimizer steps; and the optimizer's state
// when training ends.
struct MemoryProbe {
  static inline std::int64_t parameters_at_step = 0, gradients_at_step = 0, optimizer_state = 0;
  template <class Objects>
  void on_pre_optimizer_step(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&,
                             Objects& objects) const {
    parameters_at_step = gradients_at_step = 0;
    std::set<const void*> counted;
    const auto count_gradient = [&](const torch::Tensor& tensor) {
      if (tensor.grad().defined() && counted.insert(tensor.unsafeGetTensorImpl()).second)
        gradients_at_step += tensor.grad().numel();
    };
    for (const auto& parameter : objects.model->parameters()) {
      if (parameter.storage().nbytes() > 0) parameters_at_step += parameter.numel();
      count_gradient(parameter);
    }
    for (const auto& group : objects.optimizer->param_groups())
      for (const auto& parameter : group.params()) count_gradient(parameter);
  }
  template <class Objects>
  void on_train_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&, Objects& objects) const {
    optimizer_state = 0;
    const auto state_dict = tt::optim::python_state_dict(*objects.optimizer);
    for (const auto& entry : state_dict->toGenericDict().at("state").toGenericDict())
      for (const auto& item : entry.value().toGenericDict())
        if (item.value().isTensor() && item.value().toTensor().dim() > 0) optimizer_state += item.value().toTensor().numel();
  }
};

// Set before the handlers are installed: a handler may only write and exit.
std::string signal_message;

extern "C" void on_signal(int signal) {
  const std::string& text = signal_message;
  [[maybe_unused]] auto written = ::write(STDOUT_FILENO, text.data(), text.size());
  ::_exit(128 + signal);
}

// Waits for SIGINT or SIGTERM. Handlers, not sigwait: LibTorch's threads do not block the
// signals, and a process-directed signal may go to any thread that does not.
int wait_for_signal(const std::filesystem::path& out) {
  const auto rank = tt::distributed::read_environment().rank;
  signal_message = fmt::format("ddp_worker: rank {} got a signal to stop\n", rank);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::filesystem::create_directories(out);
  std::ofstream(out / fmt::format("ready-rank{}", rank)) << getpid();
  for (;;) ::pause();
}

template <class... Policies, class TrainSet, class Loss>
void train(tt::TrainingArguments args, const WorkerArguments& worker, TrainSet train_set,
           const tt::data::TensorDataset& eval_set, Loss loss) {
  const auto env = tt::distributed::read_environment();
  if (worker.rank_output_dir) args.output_dir += fmt::format("/rank-{}", env.rank);
  torch::manual_seed(7);  // the same initial weights wherever the model is made
  Net model(worker.batch_norm, worker.hidden, worker.blocks);
  std::vector<std::int64_t> metric_batch_sizes;
  tt::Trainer<Policies...> trainer(model, args, std::move(train_set), eval_set, loss,
                                   Accuracy{&metric_batch_sizes},
                                   tt::callbacks(FailOnPurpose{worker.die_at_step, worker.die_rank, worker.die_how,
                                                               worker.die_attempt},
                                                 DrawByRank{worker.rank_draws}, MemoryProbe{}));
  const auto result = trainer.train(args.resume_from_checkpoint);
  const auto metrics = trainer.evaluate();
  const std::filesystem::path out = worker.out;
  std::filesystem::create_directories(out);
  // Every rank calls it (a sharded strategy gathers the weights); each names its own folder, since
  // with --save_on_each_node two machines sharing this disk would both write.
  trainer.save_model(out / fmt::format("final_model-rank{}", env.rank));
  // In full_shard the model's parameters hold no memory between passes: only the saved model has them.
  const bool whole = !worker.trainer.starts_with("fsdp");
  if (whole) torch::save(model->parameters(), (out / fmt::format("weights-rank{}.pt", env.rank)).string());
  if (!model->buffers().empty()) torch::save(model->buffers(), (out / fmt::format("buffers-rank{}.pt", env.rank)).string());
  nlohmann::json json;
  for (const auto& [name, value] : metrics) json[name] = value;
  json["train_loss"] = result.training_loss;
  json["world_size"] = env.world_size;
  json["launcher"] = env.launcher;
  json["restart_count"] = env.restart_count;
  json["global_step"] = result.global_step;
  json["metric_batch_sizes"] = metric_batch_sizes;  // of the last evaluation, with --batch_eval_metrics
  json["random_draw"] = torch::rand({1}).item<double>();  // where this rank's random state ended
  json["parameters_at_step"] = MemoryProbe::parameters_at_step;
  json["gradients_at_step"] = MemoryProbe::gradients_at_step;
  json["optimizer_state"] = MemoryProbe::optimizer_state;
  if (CountingDDP::last && CountingDDP::last->gradient_buckets()) {
    json["gradient_allreduces"] = CountingDDP::last->gradient_buckets()->num_allreduces();
    json["gradient_buckets"] = CountingDDP::last->gradient_buckets()->num_buckets();
  }
  std::ofstream(out / fmt::format("metrics-rank{}.json", env.rank)) << json.dump(2);
  // A fingerprint of the weights, for comparing ranks that do not share a file system.
  double weights_sum = 0;
  if (whole)
    for (const auto& parameter : model->parameters()) weights_sum += parameter.to(torch::kDouble).sum().item<double>();
  fmt::print("rank {} of {}: eval_loss {:.6f} eval_accuracy {:.4f} weights_sum {:.17g}\n", env.rank, env.world_size,
             metrics.at("eval_loss"), metrics.at("eval_accuracy"), weights_sum);
}

template <class... Policies>
void train(const tt::TrainingArguments& args, const WorkerArguments& worker) {
  auto [train_set, eval_set] = data();
  if (worker.ignored_labels)  // not evenly spread: the ranks' shares of a batch count differently
    train_set = tt::data::TensorDataset{train_set.inputs(),
                                        train_set.labels().masked_fill(train_set.inputs().select(1, 5) > 0.5, -100)};
  if (worker.custom_step)
    train<Policies...>(args, worker, train_set, eval_set, TwoForwardsStep{});
  else if (worker.stream)
    train<Policies...>(args, worker, InOrder{train_set}, eval_set, tt::loss::cross_entropy);
  else
    train<Policies...>(args, worker, train_set, eval_set, tt::loss::cross_entropy);
}

}  // namespace ddp_worker

TORCHTRAIN_REFLECT(ddp_worker::WorkerArguments, (trainer, "which Trainer type runs"),
                   (out, "where weights and metrics go"), (die_at_step, "fail at the end of this step"),
                   (die_rank, "the rank that fails"), (die_how, "exit or stop"),
                   (die_attempt, "under torchrun, fail only in this restart attempt"),
                   (wait_for_signal, "only wait for SIGINT or SIGTERM"),
                   (rank_output_dir, "output_dir/rank-<RANK>"),
                   (stream, "train on the training set read in order as a stream"),
                   (batch_norm, "BatchNorm instead of LayerNorm"), (hidden, "the hidden layer's width"),
                   (rank_draws, "draw rank + 1 random numbers after each step"),
                   (ignored_labels, "about a third of the training labels -100"),
                   (custom_step, "train with a training_step of the user's"),
                   (blocks, "residual blocks, each a tt::nn::ShardedBlock"));

int main(int argc, char** argv) try {
  using namespace ddp_worker;
  const tt::TrainingArguments defaults{.output_dir = "ddp_worker_output",
                                       .num_train_epochs = 2,
                                       .per_device_train_batch_size = 16,
                                       .per_device_eval_batch_size = 8,
                                       .learning_rate = 1e-2,
                                       .logging_steps = 4,
                                       .save_strategy = tt::SaveStrategy::no,
                                       // Gloo on the CPU, also on a GPU machine, whose one GPU
                                       // cannot take two NCCL ranks.
                                       .use_cpu = true};
  auto [args, worker] = tt::parse_args(argc, argv, defaults, WorkerArguments{});
  if (worker.wait_for_signal) return wait_for_signal(worker.out);
  if (worker.trainer == "single")
    train<>(args, worker);
  else if (worker.trainer == "ddp")
    train<CountingDDP>(args, worker);
  else if (worker.trainer == "ddp_accum2")
    train<CountingDDP, tt::Accum<2>>(args, worker);
  else if (worker.trainer == "bf16_single")
    train<tt::BF16>(args, worker);
  else if (worker.trainer == "bf16_ddp_accum4")
    train<tt::BF16, tt::DDP, tt::Accum<4>>(args, worker);  // the headline type, as written
  else if (worker.trainer == "fsdp")
    train<tt::FSDP>(args, worker);
  else if (worker.trainer == "fsdp_accum2")
    train<tt::FSDP, tt::Accum<2>>(args, worker);
  else
    throw tt::ArgumentError(fmt::format("--trainer {}: single, ddp, ddp_accum2, bf16_single, bf16_ddp_accum4, fsdp or "
                                        "fsdp_accum2",
                                        worker.trainer));
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "ddp_worker: {}\n", error.what());
  tt::distributed::record_error(error.what());
  return 1;
}
