// Memory per rank and step time of Trainer<FSDP>'s stages beside Trainer<DDP>, training a
// GPT-style model whose blocks are tt::nn::ShardedBlocks.
//
//   torchtrain-launch --nproc_per_node 2 build/benchmarks/bench_fsdp
//       --strategy ddp|shard_optimizer_state|shard_grad_op|full_shard [--layers 8] [--hidden 384]
//       [--vocab_size 4096] [--sequence_length 128] [--batch_size 4] [--steps 6] [--warmup_steps 2]
//
// benchmarks/fsdp.sh runs every strategy at world size 2 and 4 and prints the table. Each
// rank measures, in bytes held by LibTorch's CPU allocator: its parameters (whole ones and
// shards) between steps and at most while a block's forward runs, its gradients when the
// optimizer steps, its optimizer state, and the peak of everything during a step; rank 0
// prints the largest figure of any rank, one markdown row, and the median step time.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "gpt/model.hpp"
#include "peak_memory.hpp"
#include "support.hpp"

namespace tt = torchtrain;
using Clock = std::chrono::steady_clock;

struct FsdpArguments {
  std::string strategy = "full_shard";
  int layers = 8;
  int hidden = 384;
  int heads = 6;
  int vocab_size = 4096;
  int sequence_length = 128;
  int batch_size = 4;
  int steps = 6;
  int warmup_steps = 2;
  int threads = 1;
};
TORCHTRAIN_REFLECT(FsdpArguments, (strategy, "ddp, or an --fsdp word: shard_optimizer_state, shard_grad_op, full_shard"),
                   layers, hidden, heads, vocab_size, sequence_length, (batch_size, "sequences per rank and step"),
                   (steps, "timed optimizer steps"), warmup_steps, (threads, "intra-op threads per rank"));

namespace {

// Bytes of the distinct storages behind `tensors` (views of one flat shard count once).
std::int64_t storage_bytes(const std::vector<torch::Tensor>& tensors) {
  std::set<const void*> seen;
  std::int64_t bytes = 0;
  for (const auto& tensor : tensors)
    if (tensor.defined() && seen.insert(tensor.storage().unsafeGetStorageImpl()).second)
      bytes += static_cast<std::int64_t>(tensor.storage().nbytes());
  return bytes;
}

// What a rank holds as parameters: the model's (empty storages where full_shard freed them)
// and the optimizer's (FSDP's shards; DDP's are the model's own).
struct ParameterProbe {
  static inline std::vector<torch::Tensor> parameters;
  static inline std::int64_t most_in_forward = 0;
  static std::int64_t held() { return storage_bytes(parameters); }
};

// A GPT block that, as its forward starts (its ShardedBlock has gathered it), records the
// parameter bytes its rank holds: full_shard's peak of parameters is one of these moments.
struct ProbedBlockImpl : torch::nn::Module {
  explicit ProbedBlockImpl(const gpt::GptConfig& config) : block(register_module("block", gpt::Block(config))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    ParameterProbe::most_in_forward = std::max(ParameterProbe::most_in_forward, ParameterProbe::held());
    return block(x);
  }
  gpt::Block block;
};
TORCH_MODULE(ProbedBlock);

// gpt::Gpt's layout with tied embeddings, each block a ShardedBlock (FSDP's unit); the
// embeddings and the final norm form the root unit.
struct ShardedGptImpl : torch::nn::Module {
  explicit ShardedGptImpl(const gpt::GptConfig& config)
      : token_embedding(register_module("token_embedding", torch::nn::Embedding(config.vocab_size, config.hidden))),
        position_embedding(register_module("position_embedding", torch::nn::Embedding(config.context, config.hidden))),
        final_norm(register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden})))) {
    for (std::int64_t i = 0; i < config.layers; ++i)
      blocks.push_back(register_module(fmt::format("block{}", i), tt::nn::ShardedBlock<ProbedBlock>(ProbedBlock(config))));
  }
  torch::Tensor forward(const tt::data::Batch& batch) {
    auto x = token_embedding(batch.inputs) + position_embedding(torch::arange(batch.inputs.size(1), batch.inputs.options()));
    for (auto& block : blocks) x = block(x);
    return torch::nn::functional::linear(final_norm(x), token_embedding->weight);
  }
  torch::nn::Embedding token_embedding, position_embedding;
  torch::nn::LayerNorm final_norm;
  std::vector<tt::nn::ShardedBlock<ProbedBlock>> blocks;
};
TORCH_MODULE(ShardedGpt);

struct Figures {
  std::int64_t parameters = 0, gradients = 0, optimizer_state = 0, peak = 0;
  std::vector<double> step_seconds;
};

// Measures every step after the warm-up ones.
struct MemoryAndTime {
  bench::PeakMemory* memory;
  Figures* figures;
  int warmup_steps;
  mutable Clock::time_point step_start;

  template <class Objects>
  void on_step_begin(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&, Objects& objects) const {
    ParameterProbe::parameters = objects.model->parameters();
    for (const auto& group : objects.optimizer->param_groups())
      for (const auto& parameter : group.params()) ParameterProbe::parameters.push_back(parameter);
    memory->reset();
    step_start = Clock::now();
  }
  template <class Objects>
  void on_pre_optimizer_step(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&,
                             Objects&) const {
    std::vector<torch::Tensor> gradients;
    for (const auto& parameter : ParameterProbe::parameters) gradients.push_back(parameter.grad());
    figures->gradients = std::max(figures->gradients, storage_bytes(gradients));
  }
  template <class Objects>
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState& state, tt::TrainerControl&,
                   Objects& objects) const {
    if (state.global_step <= warmup_steps) return;
    figures->step_seconds.push_back(std::chrono::duration<double>(Clock::now() - step_start).count());
    figures->peak = std::max(figures->peak, static_cast<std::int64_t>(memory->peak_bytes()));
    figures->parameters = std::max(figures->parameters, ParameterProbe::held());
    std::vector<torch::Tensor> state_tensors;
    const auto state_dict = tt::optim::python_state_dict(*objects.optimizer);
    for (const auto& entry : state_dict->toGenericDict().at("state").toGenericDict())
      for (const auto& item : entry.value().toGenericDict())
        if (item.value().isTensor()) state_tensors.push_back(item.value().toTensor());
    figures->optimizer_state = std::max(figures->optimizer_state, storage_bytes(state_tensors));
  }
};

double mebibytes(std::int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

int main(int argc, char** argv) try {
  // First, so every tensor of the run comes from it; never destroyed, since Gloo's threads
  // and static objects free tensors after main returns.
  auto& memory = *new bench::PeakMemory;
  auto [shape] = tt::parse_args<FsdpArguments>(argc, argv);
  torch::set_num_threads(shape.threads);
  const gpt::GptConfig config{.vocab_size = shape.vocab_size, .context = shape.sequence_length,
                              .layers = shape.layers, .heads = shape.heads, .hidden = shape.hidden,
                              .tied_embeddings = true};
  tt::set_seed(42);
  ShardedGpt model(config);
  std::int64_t model_bytes = 0, largest_block_bytes = 0;
  for (const auto& parameter : model->parameters()) model_bytes += parameter.nbytes();
  for (auto& block : model->blocks) {
    std::int64_t bytes = 0;
    for (const auto& parameter : block->parameters()) bytes += parameter.nbytes();
    largest_block_bytes = std::max(largest_block_bytes, bytes);
  }
  const std::int64_t root_bytes = model_bytes - largest_block_bytes * shape.layers;

  const auto env = tt::distributed::read_environment();
  const auto tokens = torch::randint(shape.vocab_size,
                                     {static_cast<std::int64_t>(shape.batch_size) * env.world_size *
                                          (shape.warmup_steps + shape.steps),
                                      shape.sequence_length});
  tt::TrainingArguments args{.output_dir = (std::filesystem::temp_directory_path() / "torchtrain_bench_fsdp").string(),
                             .max_steps = shape.warmup_steps + shape.steps,
                             .per_device_train_batch_size = shape.batch_size,
                             .optim = tt::OptimizerNames::adamw_torch,
                             .logging_strategy = tt::IntervalStrategy::no,
                             .save_strategy = tt::SaveStrategy::no,
                             .dataloader_drop_last = true};
  Figures figures;
  const auto train = [&]<class Strategy>() {
    tt::Trainer<Strategy, bench::SilentLogger, tt::NoCheckpoint> trainer(
        model, args, tt::data::TensorDataset(tokens, tokens), tt::data::NoDataset{}, tt::loss::causal_lm_cross_entropy,
        tt::NoMetrics{}, tt::callbacks(MemoryAndTime{&memory, &figures, shape.warmup_steps}));
    trainer.train();
  };
  if (shape.strategy == "ddp") {
    train.operator()<tt::DDP>();
  } else {
    args.fsdp = shape.strategy;
    train.operator()<tt::FSDP>();
  }
  if (ParameterProbe::most_in_forward == 0) ParameterProbe::most_in_forward = figures.parameters;

  // Every rank's figures to rank 0, which prints the largest of each.
  const auto group = tt::distributed::default_process_group({.backend = "gloo", .timeout = std::chrono::seconds(args.ddp_timeout)});
  const auto mine = torch::tensor({static_cast<double>(figures.parameters),
                                   static_cast<double>(ParameterProbe::most_in_forward),
                                   static_cast<double>(figures.gradients), static_cast<double>(figures.optimizer_state),
                                   static_cast<double>(figures.peak), bench::median(figures.step_seconds)},
                                  torch::kDouble);
  auto most = mine.clone();
  for (const auto& theirs : group->all_gather(mine, "gathering the figures")) most = torch::maximum(most, theirs);
  if (env.rank != 0) return 0;
  const auto figure = [&](int i) { return most[i].item<double>(); };
  fmt::print("BENCH_FSDP {{\"strategy\": \"{}\", \"world_size\": {}, \"model_mib\": {:.2f}, \"largest_block_mib\": {:.2f}, "
             "\"root_unit_mib\": {:.2f}, \"parameters_mib\": {:.2f}, \"parameters_in_forward_mib\": {:.2f}, "
             "\"gradients_mib\": {:.2f}, \"optimizer_state_mib\": {:.2f}, \"peak_mib\": {:.2f}, \"step_seconds\": {:.4f}}}\n",
             shape.strategy, env.world_size, mebibytes(model_bytes), mebibytes(largest_block_bytes),
             mebibytes(root_bytes), figure(0) / (1 << 20), figure(1) / (1 << 20), figure(2) / (1 << 20),
             figure(3) / (1 << 20), figure(4) / (1 << 20), figure(5));
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "bench_fsdp: {}\n", error.what());
  return 1;
}
