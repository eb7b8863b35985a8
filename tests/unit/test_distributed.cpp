// Distributed runs: the launch variables, and real ranks over Gloo on the CPU (equivalence, checkpoints, failures, the launcher).
#include "testing.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <launch/free_port.hpp>

namespace distributed_tests {

DOCTEST_TEST_SUITE("distributed") {

namespace {

namespace fs = std::filesystem;
namespace dist = tt::distributed;
using Vars = std::map<std::string, std::string>;

dist::Environment environment_of(const Vars& vars) {
  return dist::read_environment([&](std::string_view name) -> std::optional<std::string> {
    const auto found = vars.find(std::string(name));
    if (found == vars.end()) return std::nullopt;
    return found->second;
  });
}

std::string error_of(const Vars& vars) {
  try {
    environment_of(vars);
  } catch (const dist::DistributedError& error) {
    return error.what();
  }
  return "no error";
}

using test_support::contains;

}  // namespace

DOCTEST_TEST_CASE("without launcher variables a process is rank 0 of 1, with no store to meet at") {
  const auto env = environment_of({});
  DOCTEST_CHECK(env.rank == 0);
  DOCTEST_CHECK(env.world_size == 1);
  DOCTEST_CHECK_FALSE(env.distributed());
  DOCTEST_CHECK(env.master_addr.empty());
  DOCTEST_CHECK(env.launcher == "none");
}

DOCTEST_TEST_CASE("torchrun's, Slurm's and Open MPI's variables are read") {
  const auto torchrun = environment_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                                        {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "1234"},
                                        {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "2"}});
  DOCTEST_CHECK(torchrun.launcher == "torchrun");
  DOCTEST_CHECK(torchrun.rank == 3);
  DOCTEST_CHECK(torchrun.world_size == 4);
  DOCTEST_CHECK(torchrun.local_rank == 1);
  DOCTEST_CHECK(torchrun.local_world_size == 2);
  DOCTEST_CHECK(torchrun.master_addr == "node0");
  DOCTEST_CHECK(torchrun.master_port == 1234);
  DOCTEST_CHECK(torchrun.use_agent_store);
  DOCTEST_CHECK(torchrun.restart_count == 2);

  // srun on one node: the address and port default to this machine and torchrun's port.
  const auto slurm = environment_of(
      {{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS_PER_NODE", "2"}});
  DOCTEST_CHECK(slurm.launcher == "slurm");
  DOCTEST_CHECK(slurm.rank == 1);
  DOCTEST_CHECK(slurm.local_rank == 1);
  DOCTEST_CHECK(slurm.master_addr == "127.0.0.1");
  DOCTEST_CHECK(slurm.master_port == 29500);
  // Slurm's "2(x3)": 2 tasks on each of 3 nodes; several nodes need MASTER_ADDR.
  DOCTEST_CHECK(contains(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "6"}, {"SLURM_NTASKS_PER_NODE", "2(x3)"}}),
                         "MASTER_ADDR is not set"));

  const auto mpi = environment_of({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                   {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"MASTER_ADDR", "10.0.0.1"},
                                   {"MASTER_PORT", "29501"}});
  DOCTEST_CHECK(mpi.launcher == "openmpi");
  DOCTEST_CHECK(mpi.world_size == 2);
  DOCTEST_CHECK(mpi.master_addr == "10.0.0.1");
  DOCTEST_CHECK(mpi.master_port == 29501);
  // torchrun's variables win over Slurm's (torchrun started inside an allocation).
  DOCTEST_CHECK(environment_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}})
                    .launcher == "torchrun");
}

DOCTEST_TEST_CASE("each rank's CUDA device is its local rank; NCCL with more ranks than devices is an error") {
  auto env = environment_of({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "4"},
                             {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "1234"}});
  DOCTEST_CHECK(dist::cuda_device_of(env, 4, "nccl") == 1);
  DOCTEST_CHECK(dist::cuda_device_of(env, 1, "gloo") == 0);  // Gloo ranks may share a device
  try {
    dist::cuda_device_of(env, 1, "nccl");
    DOCTEST_FAIL("4 NCCL ranks on 1 device were accepted");
  } catch (const dist::DistributedError& error) {
    DOCTEST_CHECK(contains(error.what(), "4 ranks on this machine but 1 CUDA device(s)"));
    DOCTEST_CHECK(contains(error.what(), "--nproc_per_node 1"));
    DOCTEST_CHECK(contains(error.what(), "--use_cpu true"));
  }
  DOCTEST_CHECK_THROWS_AS(dist::cuda_device_of(env, 0, "gloo"), dist::DistributedError);
}

DOCTEST_TEST_CASE("NCCL: one rank's backend all-reduces and broadcasts CUDA tensors" * doctest::test_suite("cuda")) {
  dist::Environment env;  // rank 0 of 1
  auto store = c10::make_intrusive<c10d::HashStore>();
  auto backend = dist::detail::make_backend("nccl", store, env, std::chrono::seconds(60));
  DOCTEST_CHECK(backend->getBackendName() == "nccl");
  std::vector<at::Tensor> tensors{torch::arange(4, torch::dtype(torch::kFloat).device(torch::kCUDA))};
  backend->allreduce(tensors)->wait();
  backend->broadcast(tensors)->wait();
  DOCTEST_CHECK(tensors[0].is_cuda());
  DOCTEST_CHECK(torch::equal(tensors[0].cpu(), torch::arange(4, torch::kFloat)));
}

namespace {

// A classifier with one ShardedBlock: FSDP's units are the block and the root.
struct ResidualImpl : torch::nn::Module {
  ResidualImpl() : fc(register_module("fc", torch::nn::Linear(16, 16))) {}
  torch::Tensor forward(const torch::Tensor& x) { return x + torch::relu(fc(x)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Residual);

struct BlockNetImpl : torch::nn::Module {
  BlockNetImpl()
      : first(register_module("first", torch::nn::Linear(8, 16))),
        block(register_module("block", tt::nn::ShardedBlock<Residual>(Residual()))),
        last(register_module("last", torch::nn::Linear(16, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) { return last(block(torch::relu(first(x)))); }
  torch::nn::Linear first;
  tt::nn::ShardedBlock<Residual> block;
  torch::nn::Linear last;
};
TORCH_MODULE(BlockNet);

// Where the trained model's parameters and the optimizer's (FSDP's shards) and its state ended.
struct Placement {
  static inline std::set<std::string> model_devices, optimizer_devices;
  template <class Objects>
  void on_train_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&, Objects& objects) const {
    model_devices.clear();
    optimizer_devices.clear();
    for (const auto& parameter : objects.model->parameters()) model_devices.insert(parameter.device().str());
    for (const auto& group : objects.optimizer->param_groups())
      for (const auto& parameter : group.params()) optimizer_devices.insert(parameter.device().str());
    const auto state = tt::optim::python_state_dict(*objects.optimizer);
    for (const auto& entry : state->toGenericDict().at("state").toGenericDict())
      for (const auto& item : entry.value().toGenericDict())
        if (item.value().isTensor() && item.value().toTensor().dim() > 0)
          optimizer_devices.insert(item.value().toTensor().device().str());
  }
};

// The weights after 6 steps of Trainer<Strategy> in this process (world size 1).
template <class Strategy>
std::vector<torch::Tensor> trained_in_process(const std::string& fsdp, bool use_cpu) {
  torch::manual_seed(5);
  BlockNet model;
  tt::TrainingArguments args{.output_dir = test_support::fresh_folder("fsdp_in_process").string(),
                             .max_steps = 6,
                             .per_device_train_batch_size = 16,
                             .max_grad_norm = 0.5,
                             .learning_rate = 1e-2,
                             .weight_decay = 0.1,
                             .save_strategy = tt::SaveStrategy::no,
                             .use_cpu = use_cpu};
  args.fsdp = fsdp;
  tt::Trainer<Strategy> trainer(model, args, test_support::classification_data(), tt::data::NoDataset{},
                                tt::loss::cross_entropy, tt::NoMetrics{}, tt::callbacks(Placement{}));
  trainer.train();
  trainer.save_model(args.output_dir);  // whole weights, gathered from the shards
  std::vector<torch::Tensor> weights;
  for (auto& [name, tensor] : tt::io::load_safetensors(fs::path(args.output_dir) / "model.safetensors"))
    weights.push_back(tensor);
  return weights;
}

double largest_relative_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  DOCTEST_REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, ((a[i] - b[i]).abs().max() / b[i].abs().max()).item<double>());
  return worst;
}

}  // namespace

DOCTEST_TEST_CASE("FSDP in one process trains as a single device (shards of one rank)") {
  const auto single = trained_in_process<tt::SingleDevice>("", true);
  const auto sharded = trained_in_process<tt::FSDP>("full_shard", true);
  DOCTEST_CHECK(largest_relative_difference(sharded, single) < 1e-6);
}

DOCTEST_TEST_CASE("on CUDA, FSDP offload keeps the shards and the optimizer's state on the CPU and trains as a single device" *
                  doctest::test_suite("cuda")) {
  const auto single = trained_in_process<tt::SingleDevice>("", false);
  const auto offloaded = trained_in_process<tt::FSDP>("full_shard offload", false);
  DOCTEST_CHECK(Placement::model_devices == std::set<std::string>{"cuda:0"});
  DOCTEST_CHECK(Placement::optimizer_devices == std::set<std::string>{"cpu"});
  DOCTEST_CHECK(largest_relative_difference(offloaded, single) < 1e-5);  // AdamW on the CPU beside CUDA's kernels
}

DOCTEST_TEST_CASE("a WORLD_SIZE larger than the ranks started is named as such within the timeout") {
  const auto port = torchtrain_launch::free_port();
  DOCTEST_REQUIRE(port.has_value());
  dist::Environment env;
  env.rank = 0;
  env.world_size = 3;  // and only this rank ever comes
  env.master_addr = "127.0.0.1";
  env.master_port = *port;
  DOCTEST_CHECK_THROWS_WITH_AS(dist::detail::connect_store(env, std::chrono::seconds(1)),
                               doctest::Contains("rank 0 of 3: only 1 of the 3 ranks that WORLD_SIZE promises joined"),
                               dist::DistributedError);
}

DOCTEST_TEST_CASE("record_error writes torchrun's error file, and nothing without one") {
  const auto folder = test_support::fresh_folder("error_file");
  const auto file = folder / "error.json";
  const auto under_torchrun = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "TORCHELASTIC_ERROR_FILE") return file.string();
    return std::nullopt;
  };
  dist::record_error("rank 0 of 2: the gradient all-reduce failed", under_torchrun);
  // The fields torchrun's agent reads (torch.distributed.elastic ProcessFailure).
  const auto error = nlohmann::json::parse(std::ifstream(file))["message"];
  DOCTEST_CHECK(error["message"] == "rank 0 of 2: the gradient all-reduce failed");
  DOCTEST_CHECK(error["extraInfo"]["py_callstack"] == error["message"]);
  const auto timestamp = std::stoll(error["extraInfo"]["timestamp"].get<std::string>());
  DOCTEST_CHECK(std::abs(timestamp - std::time(nullptr)) < 60);

  fs::remove(file);
  dist::record_error("no launcher", [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  DOCTEST_CHECK_FALSE(fs::exists(file));
  // An error file that cannot be written is no new error: the caller is reporting one already.
  dist::record_error("unwritable", [&](std::string_view) -> std::optional<std::string> {
    return (folder / "no-such-folder" / "error.json").string();
  });
}

DOCTEST_TEST_CASE("a half-set or malformed launch is an error naming the variable") {
  DOCTEST_CHECK(contains(error_of({{"RANK", "0"}}), "RANK is set but WORLD_SIZE is not"));
  DOCTEST_CHECK(contains(error_of({{"WORLD_SIZE", "2"}}), "WORLD_SIZE is set but RANK is not"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "http"}}),
                         "MASTER_PORT=http is not a number"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
                         "MASTER_PORT=70000 is not a number in [0, 65535]"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), "RANK=2 is not below WORLD_SIZE=2"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}), "RANK=-1 is not a number"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}}), "WORLD_SIZE=0"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29500"}}),
                         "MASTER_ADDR is not set"));
  DOCTEST_CHECK(contains(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}), "MASTER_PORT is not set"));
}

DOCTEST_TEST_CASE("each rank's shard of the training order is the DistributedSampler's, and shards make the global batch") {
  const auto order = tt::data::RandomSampler{42}.order(37, 2);
  std::vector<torch::Tensor> shards;
  for (int rank = 0; rank < 2; ++rank) {
    const tt::data::DistributedSampler sampler{.num_replicas = 2, .rank = rank, .seed = 42};
    shards.push_back(sampler.order(37, 2));
    DOCTEST_CHECK(torch::equal(sampler.shard(order), shards.back()));
    DOCTEST_CHECK(shards.back().size(0) == 19);  // padded from the start of the order
  }
  // Batch 0 of 4 on each rank is batch 0 of 8 on one process, rank r's sample i at 2 i + r.
  const auto global = torch::stack({shards[0].slice(0, 0, 4), shards[1].slice(0, 0, 4)}, 1).flatten();
  DOCTEST_CHECK(torch::equal(global, order.slice(0, 0, 8)));
}

// ---------------------------------------------------------------------------------------
// Real processes. Each rank is tests/distributed/ddp_worker; most runs go through
// torchtrain-launch, which sets the torchrun variables on a free port.

namespace {

struct Programs {
  const char* worker = std::getenv("TORCHTRAIN_DDP_WORKER");
  const char* launcher = std::getenv("TORCHTRAIN_LAUNCH");
};

// Exit code, or 128 + signal.
int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Starts `words` with stdout and stderr into `log`, without any launcher variables of ours.
pid_t start(const std::vector<std::string>& words, const fs::path& log) {
  const pid_t child = fork();
  if (child == 0) {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
      unsetenv(name);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (const auto& word : words) argv.push_back(const_cast<char*>(word.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return child;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Finished {
  int code;
  std::string output;
};

Finished run(const std::vector<std::string>& words, const fs::path& log) {
  const pid_t child = start(words, log);
  int status = 0;
  waitpid(child, &status, 0);
  return {exit_code(status), read_text(log)};
}

// The worker with `flags`, writing to `out`, started by `launch` (a launcher and its flags;
// none: the worker alone).
Finished run_launched_worker(std::vector<std::string> launch, const fs::path& out,
                             const std::vector<std::string>& flags) {
  launch.insert(launch.end(), {Programs{}.worker, "--out", out.string(), "--output_dir", (out / "output").string()});
  launch.insert(launch.end(), flags.begin(), flags.end());
  fs::create_directories(out);
  return run(launch, out.string() + ".log");
}

// `ranks` workers through the launcher (1: the worker alone, no variables), writing to `out`.
Finished run_worker(int ranks, const fs::path& out, const std::vector<std::string>& flags,
                    const std::vector<std::string>& launcher_flags = {}) {
  std::vector<std::string> launch;
  if (ranks > 1) {
    launch = {Programs{}.launcher, "--nproc_per_node", std::to_string(ranks)};
    launch.insert(launch.end(), launcher_flags.begin(), launcher_flags.end());
  }
  return run_launched_worker(std::move(launch), out, flags);
}

std::vector<torch::Tensor> weights(const fs::path& out, int rank) {
  std::vector<torch::Tensor> tensors;
  torch::load(tensors, (out / fmt::format("weights-rank{}.pt", rank)).string());
  return tensors;
}

nlohmann::json metrics(const fs::path& out, int rank) {
  return nlohmann::json::parse(read_text(out / fmt::format("metrics-rank{}.json", rank)));
}

// |a - b| / |b| over all parameters together.
double relative_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  DOCTEST_REQUIRE(a.size() == b.size());
  double difference = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference += (a[i] - b[i]).to(torch::kDouble).pow(2).sum().item<double>();
    norm += b[i].to(torch::kDouble).pow(2).sum().item<double>();
  }
  return std::sqrt(difference / norm);
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

void require_programs() {
  const Programs programs;
  DOCTEST_REQUIRE_MESSAGE(programs.worker, "set TORCHTRAIN_DDP_WORKER to the ddp_worker program");
  DOCTEST_REQUIRE_MESSAGE(programs.launcher, "set TORCHTRAIN_LAUNCH to the torchtrain-launch program");
}

// The single-process reference and the 2-rank run agree: replicas equal, weights and
// eval metrics within `tolerance` of the reference.
void check_equivalent(const fs::path& single, const fs::path& ddp, double tolerance) {
  const auto reference = weights(single, 0);
  const auto rank0 = weights(ddp, 0);
  DOCTEST_CHECK(all_equal(rank0, weights(ddp, 1)));  // the replicas never drift apart
  const double difference = relative_difference(rank0, reference);
  DOCTEST_MESSAGE("relative difference of the final weights: " << difference);
  DOCTEST_CHECK(difference < tolerance);
  const auto expected = metrics(single, 0);
  for (int rank = 0; rank < 2; ++rank) {
    const auto got = metrics(ddp, rank);
    DOCTEST_CHECK(got["world_size"] == 2);
    DOCTEST_CHECK(got["global_step"] == expected["global_step"]);
    // eval_loss sums over uneven shards; accuracy needs the gathered predictions in order.
    DOCTEST_CHECK(std::abs(got["eval_loss"].get<double>() - expected["eval_loss"].get<double>()) <
                  tolerance * expected["eval_loss"].get<double>());
    DOCTEST_CHECK(got["eval_accuracy"] == expected["eval_accuracy"]);
    DOCTEST_CHECK(std::abs(got["train_loss"].get<double>() - expected["train_loss"].get<double>()) <
                  tolerance * expected["train_loss"].get<double>());
  }
}

}  // namespace

// One process with batch 32 against 2 ranks of `trainer` with `per_device_batch` each (both
// with `flags`): the same weights, and one all-reduce per bucket and optimizer step (none on
// the micro-steps that run under gradient_sync(false)). Returns the test's folder.
fs::path check_two_ranks_match_one(const std::string& name, const std::string& trainer, const std::string& per_device_batch,
                                   const std::vector<std::string>& flags = {}) {
  require_programs();
  const auto folder = test_support::fresh_folder(name);
  const auto with_flags = [&](std::vector<std::string> words) {
    words.insert(words.end(), flags.begin(), flags.end());
    return words;
  };
  const auto single =
      run_worker(1, folder / "single", with_flags({"--trainer", "single", "--per_device_train_batch_size", "32"}));
  DOCTEST_REQUIRE_MESSAGE(single.code == 0, single.output);
  const auto ddp =
      run_worker(2, folder / "ddp", with_flags({"--trainer", trainer, "--per_device_train_batch_size", per_device_batch}));
  DOCTEST_REQUIRE_MESSAGE(ddp.code == 0, ddp.output);
  check_equivalent(folder / "single", folder / "ddp", 1e-6);
  const auto got = metrics(folder / "ddp", 0);
  DOCTEST_CHECK(got["gradient_allreduces"] == got["gradient_buckets"].get<int>() * got["global_step"].get<int>());
  return folder;
}

DOCTEST_TEST_CASE("2 ranks with batch 16 train to the weights of 1 process with batch 32 (FP32)") {
  check_two_ranks_match_one("fp32", "ddp", "16");
}

DOCTEST_TEST_CASE("ignored labels: 2 ranks equal 1 process by the global batch's count, unless --average_tokens_across_devices false") {
  // The loss of each rank divides by the labels of both (Python's num_items_in_batch summed
  // over the processes), so 2 x 16 is 1 x 32 though the ranks' shares count differently.
  const auto folder = check_two_ranks_match_one("ignored_labels", "ddp", "16", {"--ignored_labels", "true"});
  const auto own_count = run_worker(2, folder / "own_count",
                                    {"--trainer", "ddp", "--per_device_train_batch_size", "16", "--ignored_labels",
                                     "true", "--average_tokens_across_devices", "false"});
  DOCTEST_REQUIRE_MESSAGE(own_count.code == 0, own_count.output);
  // Each rank dividing by its own count weighs the samples otherwise: other weights.
  DOCTEST_CHECK(relative_difference(weights(folder / "own_count", 0), weights(folder / "single", 0)) > 1e-4);
}

DOCTEST_TEST_CASE("a training_step of the user's under DDP with Accum<2>: 2 ranks x 2 micro-batches of 8 equal 1 process with batch 32") {
  // Two forwards and a token loss over the window's labels of both ranks; the all-reduce
  // count (checked inside) shows no synchronization inside a window.
  check_two_ranks_match_one("custom_step", "ddp_accum2", "8", {"--custom_step", "true", "--ignored_labels", "true"});
}

DOCTEST_TEST_CASE("--eval_do_concat_batches false on 2 ranks: each global batch gathered in order, the same accuracy as 1 process") {
  check_two_ranks_match_one("no_concat", "ddp", "16", {"--eval_do_concat_batches", "false"});
}

DOCTEST_TEST_CASE("with Accum<2>, 2 ranks x 2 micro-batches of 8 equal 1 process with batch 32, reducing once per step") {
  check_two_ranks_match_one("accum2", "ddp_accum2", "8");
}

// Hidden width 32768: 1.9 MB of parameters, the first layer's weight 1 MB of them.
DOCTEST_TEST_CASE("--ddp_bucket_cap_mb 1 reduces 1.9 MB of gradients in two buckets, with one process's weights") {
  const auto folder = check_two_ranks_match_one("bucket_cap", "ddp", "16",
                                                {"--hidden", "32768", "--max_steps", "3", "--ddp_bucket_cap_mb", "1"});
  DOCTEST_CHECK(metrics(folder / "ddp", 0)["gradient_buckets"] == 2);
  // The default cap, 25 MB, takes them all in one.
  const auto whole = run_worker(2, folder / "default_cap", {"--trainer", "ddp", "--hidden", "32768", "--max_steps", "1"});
  DOCTEST_REQUIRE_MESSAGE(whole.code == 0, whole.output);
  DOCTEST_CHECK(metrics(folder / "default_cap", 0)["gradient_buckets"] == 1);
}

// 45 evaluation samples: rank 0 evaluates 23 (batches of 11, 11 and 1), rank 1 22 (11 and
// 11), so rank 1 joins the third global batch with nothing of its own.
DOCTEST_TEST_CASE("--batch_eval_metrics on 2 ranks: compute_metrics sees each global batch, in order, on every rank") {
  const auto folder = check_two_ranks_match_one(
      "batch_eval_metrics", "ddp", "16",
      {"--max_steps", "4", "--per_device_eval_batch_size", "11", "--batch_eval_metrics", "true"});
  for (int rank = 0; rank < 2; ++rank)
    DOCTEST_CHECK((metrics(folder / "ddp", rank)["metric_batch_sizes"].get<std::vector<std::int64_t>>() ==
                   std::vector<std::int64_t>{22, 22, 1}));
}

DOCTEST_TEST_CASE("rank 0's BatchNorm statistics reach every rank, unless --ddp_broadcast_buffers false") {
  require_programs();
  const auto folder = test_support::fresh_folder("buffers");
  for (const std::string broadcast : {"true", "false"}) {
    DOCTEST_CAPTURE(broadcast);
    const auto out = folder / broadcast;
    const auto result = run_worker(2, out, {"--trainer", "ddp", "--batch_norm", "true", "--max_steps", "4",
                                            "--ddp_broadcast_buffers", broadcast});
    DOCTEST_REQUIRE_MESSAGE(result.code == 0, result.output);
    std::vector<torch::Tensor> rank0, rank1;
    torch::load(rank0, (out / "buffers-rank0.pt").string());
    torch::load(rank1, (out / "buffers-rank1.pt").string());
    // Each rank's batches move its own statistics; the copy before evaluation makes them one.
    DOCTEST_CHECK(all_equal(rank0, rank1) == (broadcast == "true"));
    DOCTEST_CHECK(all_equal(weights(out, 0), weights(out, 1)));
  }
}

// 256 samples are 8 batches of 32: 12 steps read the stream once and a half.
DOCTEST_TEST_CASE("on a stream, 2 ranks x 2 micro-batches of 8 take their shares of 1 process's batches of 32") {
  check_two_ranks_match_one("stream", "ddp_accum2", "8", {"--stream", "true", "--max_steps", "12"});
}

DOCTEST_TEST_CASE("Trainer<BF16, DDP, Accum<4>> runs as written and converges like the single-process BF16 run") {
  require_programs();
  const auto folder = test_support::fresh_folder("bf16");
  const auto single =
      run_worker(1, folder / "single", {"--trainer", "bf16_single", "--bf16", "true", "--per_device_train_batch_size",
                                        "32", "--num_train_epochs", "4"});
  DOCTEST_REQUIRE_MESSAGE(single.code == 0, single.output);
  const auto ddp = run_worker(2, folder / "ddp", {"--trainer", "bf16_ddp_accum4", "--bf16", "true",
                                                  "--per_device_train_batch_size", "4", "--num_train_epochs", "4"});
  DOCTEST_REQUIRE_MESSAGE(ddp.code == 0, ddp.output);
  const auto expected = metrics(folder / "single", 0);
  const auto got = metrics(folder / "ddp", 0);
  DOCTEST_MESSAGE("eval_loss single " << expected["eval_loss"] << ", DDP " << got["eval_loss"]);
  DOCTEST_CHECK(got["global_step"] == expected["global_step"]);
  // From ln 3 = 1.10 at the start; bfloat16 rounds differently in a batch of 32 and 4 of 4.
  DOCTEST_CHECK(expected["eval_loss"].get<double>() < 0.7);
  DOCTEST_CHECK(std::abs(got["eval_loss"].get<double>() - expected["eval_loss"].get<double>()) <
                0.05 * expected["eval_loss"].get<double>());
  DOCTEST_CHECK(std::abs(got["eval_accuracy"].get<double>() - expected["eval_accuracy"].get<double>()) <= 0.05);
  DOCTEST_CHECK(all_equal(weights(folder / "ddp", 0), weights(folder / "ddp", 1)));
}

DOCTEST_TEST_CASE("only rank 0 writes checkpoints and logs, and every rank resumes from them, with its own random state") {
  require_programs();
  const auto folder = test_support::fresh_folder("checkpoints");
  // Each rank gets output_dir/rank-<RANK>: whatever rank 1 wrote would show there. Each
  // rank draws its own number of random numbers a step, so their random states differ.
  const std::vector<std::string> flags = {"--trainer", "ddp", "--rank_output_dir", "true", "--save_strategy", "steps",
                                          "--save_steps", "4", "--report_to", "jsonl", "--rank_draws", "true"};
  const auto full = run_worker(2, folder / "full", flags);
  DOCTEST_REQUIRE_MESSAGE(full.code == 0, full.output);
  const auto rank0 = folder / "full" / "output" / "rank-0";
  DOCTEST_CHECK(fs::exists(rank0 / "checkpoint-8" / "model.safetensors"));
  DOCTEST_CHECK(fs::exists(rank0 / "checkpoint-16" / "trainer_state.json"));
  // Python's names: one random state per process.
  DOCTEST_CHECK(fs::exists(rank0 / "checkpoint-8" / "rng_state_0.pth"));
  DOCTEST_CHECK(fs::exists(rank0 / "checkpoint-8" / "rng_state_1.pth"));
  DOCTEST_CHECK_FALSE(fs::exists(rank0 / "checkpoint-8" / "rng_state.pth"));
  DOCTEST_CHECK(metrics(folder / "full", 0)["random_draw"] != metrics(folder / "full", 1)["random_draw"]);
  DOCTEST_CHECK_FALSE(fs::exists(folder / "full" / "output" / "rank-1"));
  int logs = 0;
  for (const auto& entry : fs::recursive_directory_iterator(rank0)) logs += entry.path().filename() == "log_history.jsonl";
  DOCTEST_CHECK(logs == 1);

  auto resumed_flags = flags;
  resumed_flags.insert(resumed_flags.end(), {"--resume_from_checkpoint", (rank0 / "checkpoint-8").string()});
  const auto resumed = run_worker(2, folder / "resumed", resumed_flags);
  DOCTEST_REQUIRE_MESSAGE(resumed.code == 0, resumed.output);
  for (int rank = 0; rank < 2; ++rank) {
    DOCTEST_CHECK(all_equal(weights(folder / "resumed", rank), weights(folder / "full", rank)));
    // Each rank's random draws went on from its own state.
    DOCTEST_CHECK(metrics(folder / "resumed", rank)["random_draw"] == metrics(folder / "full", rank)["random_draw"]);
  }
  DOCTEST_CHECK(metrics(folder / "resumed", 1)["eval_loss"] == metrics(folder / "full", 1)["eval_loss"]);

  // One process resuming a checkpoint of two has no random state of its own there: it says so.
  std::vector<std::string> alone_flags(flags.begin() + 2, flags.end());  // all but "--trainer ddp"
  alone_flags.insert(alone_flags.end(), {"--trainer", "single", "--resume_from_checkpoint",
                                         (rank0 / "checkpoint-8").string()});
  const auto alone = run_worker(1, folder / "alone", alone_flags);
  DOCTEST_REQUIRE_MESSAGE(alone.code == 0, alone.output);
  DOCTEST_CHECK(contains(alone.output, "holds no rng_state.pth (it was saved by a run of another number of processes)"));
}

// The whole weights a run saved with save_model (every rank took part in gathering them).
std::vector<torch::Tensor> saved_model(const fs::path& out) {
  std::vector<torch::Tensor> tensors;
  for (auto& [name, tensor] : tt::io::load_safetensors(out / "final_model-rank0" / "model.safetensors"))
    tensors.push_back(tensor);
  return tensors;
}

// |a - b| / |b| <= tolerance for a count a rank holds against DDP's divided by the ranks.
bool about(double held, double expected, double tolerance = 0.05) {
  return std::abs(held - expected) <= tolerance * expected;
}

DOCTEST_TEST_CASE("FSDP, each stage on 2 and 4 ranks, trains to DDP's weights and holds 1/N of what it shards") {
  require_programs();
  const auto folder = test_support::fresh_folder("fsdp_stages");
  // Accum<2>, clipping by the global norm, weight decay (not on biases and norms), a third
  // of the labels ignored (a token loss's padding): global batch 32 in every run.
  const std::vector<std::string> common = {"--blocks", "2", "--weight_decay", "0.1", "--max_grad_norm", "0.5",
                                           "--ignored_labels", "true", "--max_steps", "6"};
  for (const int world : {2, 4}) {
    const auto per_device = std::to_string(16 / world);
    const auto run_as = [&](const std::string& name, std::vector<std::string> flags) {
      flags.insert(flags.end(), {"--per_device_train_batch_size", per_device});
      flags.insert(flags.end(), common.begin(), common.end());
      const auto finished = run_worker(world, folder / name, flags);
      DOCTEST_REQUIRE_MESSAGE(finished.code == 0, finished.output);
      return folder / name;
    };
    const auto ddp = run_as(fmt::format("ddp-{}", world), {"--trainer", "ddp_accum2"});
    const auto reference = saved_model(ddp);
    const auto ddp_metrics = metrics(ddp, 0);
    for (const std::string stage : {"shard_optimizer_state", "shard_grad_op", "full_shard"}) {
      DOCTEST_CAPTURE(world);
      DOCTEST_CAPTURE(stage);
      const auto fsdp = run_as(fmt::format("{}-{}", stage, world), {"--trainer", "fsdp_accum2", "--fsdp", stage});
      const double difference = relative_difference(saved_model(fsdp), reference);
      DOCTEST_MESSAGE("relative difference from DDP's weights: " << difference);
      DOCTEST_CHECK(difference < 1e-6);
      for (int rank = 0; rank < world; ++rank) {
        const auto got = metrics(fsdp, rank);
        DOCTEST_CHECK(std::abs(got["eval_loss"].get<double>() - ddp_metrics["eval_loss"].get<double>()) <
                      1e-5 * ddp_metrics["eval_loss"].get<double>());
        // Each rank's optimizer state is 1/N of DDP's (up to the padding of each parameter to N chunks).
        DOCTEST_CHECK(about(got["optimizer_state"].get<double>(), ddp_metrics["optimizer_state"].get<double>() / world));
        const double ddp_gradients = ddp_metrics["gradients_at_step"].get<double>();
        if (stage == "shard_optimizer_state")  // whole gradients, as DDP's, and the shards' beside them
          DOCTEST_CHECK(about(got["gradients_at_step"].get<double>(), ddp_gradients * (1 + 1.0 / world)));
        else
          DOCTEST_CHECK(about(got["gradients_at_step"].get<double>(), ddp_gradients / world));
        // full_shard: between passes no parameter of the model holds memory; the others keep them whole.
        DOCTEST_CHECK(got["parameters_at_step"] ==
                      (stage == "full_shard" ? 0 : ddp_metrics["parameters_at_step"].get<std::int64_t>()));
      }
    }
  }
}

DOCTEST_TEST_CASE("FSDP full_shard checkpoints: optimizer shards per rank, whole weights; resume bit-exact on 2 ranks, and on 4 from 2 and on 2 from 4") {
  require_programs();
  const auto folder = test_support::fresh_folder("fsdp_checkpoints");
  const auto run_as = [&](const std::string& name, int world, std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--trainer", "fsdp_accum2", "--fsdp", "full_shard", "--blocks", "2", "--ignored_labels",
                               "true", "--max_steps", "8", "--save_strategy", "steps", "--save_steps", "4",
                               "--per_device_train_batch_size", std::to_string(16 / world)});
    const auto finished = run_worker(world, folder / name, flags);
    DOCTEST_REQUIRE_MESSAGE(finished.code == 0, finished.output);
    return folder / name;
  };
  const auto full = run_as("full-2", 2, {});
  const auto checkpoint = full / "output" / "checkpoint-4";
  DOCTEST_CHECK(fs::exists(checkpoint / "optimizer_shard_0.pt"));
  DOCTEST_CHECK(fs::exists(checkpoint / "optimizer_shard_1.pt"));
  DOCTEST_CHECK_FALSE(fs::exists(checkpoint / "optimizer.pt"));
  // One whole model.safetensors, with the model's names and shapes (as DDP would save it).
  const auto whole = tt::io::load_safetensors(checkpoint / "model.safetensors");
  DOCTEST_CHECK(whole.size() == tt::io::load_safetensors(full / "final_model-rank0" / "model.safetensors").size());
  for (const auto& [name, tensor] : whole)
    if (name == "block0.fc.weight") DOCTEST_CHECK(tensor.sizes() == torch::IntArrayRef({32, 32}));

  const auto same = run_as("resumed-2", 2, {"--resume_from_checkpoint", checkpoint.string()});
  DOCTEST_CHECK(all_equal(saved_model(same), saved_model(full)));
  const auto wider = run_as("resumed-4", 4, {"--resume_from_checkpoint", checkpoint.string()});
  DOCTEST_CHECK(relative_difference(saved_model(wider), saved_model(full)) < 1e-6);
  const auto full4 = run_as("full-4", 4, {});
  const auto narrower = run_as("resumed-2-from-4", 2,
                               {"--resume_from_checkpoint", (full4 / "output" / "checkpoint-4").string()});
  DOCTEST_CHECK(relative_difference(saved_model(narrower), saved_model(full)) < 1e-6);
}

DOCTEST_TEST_CASE("FSDP --load_best_model_at_end ends with the best checkpoint's whole weights") {
  require_programs();
  const auto folder = test_support::fresh_folder("fsdp_best_model");
  // The highest eval loss is best, so the best checkpoint is an early one, not the last.
  const auto finished = run_worker(2, folder / "run", {"--trainer", "fsdp", "--fsdp", "full_shard", "--blocks", "2",
                                                       "--max_steps", "12", "--eval_strategy", "steps",
                                                       "--eval_steps", "4", "--save_strategy", "steps",
                                                       "--save_steps", "4", "--load_best_model_at_end", "true",
                                                       "--metric_for_best_model", "loss", "--greater_is_better",
                                                       "true"});
  DOCTEST_REQUIRE_MESSAGE(finished.code == 0, finished.output);
  const auto state = nlohmann::json::parse(read_text(folder / "run" / "output" / "checkpoint-12" / "trainer_state.json"));
  const fs::path best = state.at("best_model_checkpoint").get<std::string>();
  DOCTEST_REQUIRE(best.filename() != "checkpoint-12");
  std::vector<torch::Tensor> best_weights;
  for (auto& [name, tensor] : tt::io::load_safetensors(best / "model.safetensors")) best_weights.push_back(tensor);
  DOCTEST_CHECK(all_equal(saved_model(folder / "run"), best_weights));
  std::vector<torch::Tensor> last_weights;
  for (auto& [name, tensor] : tt::io::load_safetensors(folder / "run" / "output" / "checkpoint-12" / "model.safetensors"))
    last_weights.push_back(tensor);
  DOCTEST_CHECK_FALSE(all_equal(saved_model(folder / "run"), last_weights));
  // tests/unit/fsdp_model_check.py reads both files with Python's safetensors and PyTorch.
  if (const char* for_python = std::getenv("TORCHTRAIN_FSDP_MODEL_FOR_PYTHON")) {
    fs::remove_all(for_python);
    fs::create_directories(for_python);
    fs::copy_file(folder / "run" / "final_model-rank0" / "model.safetensors", fs::path(for_python) / "model.safetensors");
    fs::copy_file(best / "model.safetensors", fs::path(for_python) / "best_checkpoint_model.safetensors");
  }
}

DOCTEST_TEST_CASE("--fsdp needs Trainer<FSDP>; FSDP refuses Adafactor and names a wrap type that is no ShardedBlock") {
  require_programs();
  const auto folder = test_support::fresh_folder("fsdp_errors");
  const auto ddp = run_worker(2, folder / "ddp", {"--trainer", "ddp", "--fsdp", "full_shard"});
  DOCTEST_CHECK(ddp.code != 0);
  DOCTEST_CHECK(contains(ddp.output, "this Trainer's strategy is not FSDP"));
  const auto adafactor = run_worker(2, folder / "adafactor", {"--trainer", "fsdp", "--optim", "adafactor"});
  DOCTEST_CHECK(adafactor.code != 0);
  DOCTEST_CHECK(contains(adafactor.output, "Adafactor's factored statistics need whole matrices"));
  const auto wrap = run_worker(2, folder / "wrap", {"--trainer", "fsdp", "--blocks", "1", "--fsdp_config",
                                                    R"({"transformer_layer_cls_to_wrap": ["Linear"]})"});
  DOCTEST_CHECK(wrap.code != 0);
  DOCTEST_CHECK(contains(wrap.output, "transformer_layer_cls_to_wrap names Linear, and 'first' is one that no "
                                      "tt::nn::ShardedBlock wraps"));
}

// Two machines on one: two launchers of one rank each (--nnodes 2), so that each rank is
// its machine's first process (LOCAL_RANK 0) and writes into output_dir/rank-<RANK>.
std::vector<Finished> run_on_two_nodes(const fs::path& out, const std::vector<std::string>& flags) {
  const auto free_port = torchtrain_launch::free_port();
  DOCTEST_REQUIRE_MESSAGE(free_port.has_value(), "no free TCP port for the two launchers to meet at");
  const auto port = std::to_string(*free_port);
  fs::create_directories(out);
  std::vector<pid_t> children;
  for (int node : {0, 1}) {
    std::vector<std::string> words = {Programs{}.launcher, "--nnodes", "2", "--node_rank", std::to_string(node),
                                      "--nproc_per_node", "1", "--master_addr", "127.0.0.1", "--master_port", port,
                                      Programs{}.worker, "--out", out.string(), "--output_dir",
                                      (out / "output").string(), "--rank_output_dir", "true"};
    words.insert(words.end(), flags.begin(), flags.end());
    children.push_back(start(words, out.string() + fmt::format("-node{}.log", node)));
  }
  std::vector<Finished> finished;
  for (int node : {0, 1}) {
    int status = 0;
    waitpid(children[node], &status, 0);
    finished.push_back({exit_code(status), read_text(out.string() + fmt::format("-node{}.log", node))});
  }
  return finished;
}

DOCTEST_TEST_CASE("on two machines: --save_on_each_node saves on each machine's first process, --log_on_each_node logs there") {
  require_programs();
  const auto folder = test_support::fresh_folder("two_nodes");
  const std::vector<std::string> flags = {"--trainer", "ddp", "--save_strategy", "steps", "--save_steps", "8",
                                          "--log_level", "info"};
  const auto saved_output = [](const fs::path& out, int rank) {
    return out / "output" / fmt::format("rank-{}", rank) / "checkpoint-8";
  };
  // Python's defaults: only rank 0 saves; each machine's first process logs at log_level.
  const auto defaults = run_on_two_nodes(folder / "defaults", flags);
  for (const auto& node : defaults) DOCTEST_REQUIRE_MESSAGE(node.code == 0, node.output);
  DOCTEST_CHECK(tt::is_complete_checkpoint(saved_output(folder / "defaults", 0)));
  DOCTEST_CHECK_FALSE(fs::exists(folder / "defaults" / "output" / "rank-1"));
  for (const auto& node : defaults) DOCTEST_CHECK(contains(node.output, "Saving model checkpoint to"));

  auto each = flags;
  each.insert(each.end(), {"--save_on_each_node", "true", "--log_on_each_node", "false"});
  const auto on_each = run_on_two_nodes(folder / "each", each);
  for (const auto& node : on_each) DOCTEST_REQUIRE_MESSAGE(node.code == 0, node.output);
  for (int rank : {0, 1}) {
    const auto checkpoint = saved_output(folder / "each", rank);
    DOCTEST_CHECK(tt::is_complete_checkpoint(checkpoint));
    // A whole checkpoint on each machine: every process's random state, the same weights.
    DOCTEST_CHECK(fs::exists(checkpoint / "rng_state_0.pth"));
    DOCTEST_CHECK(fs::exists(checkpoint / "rng_state_1.pth"));
    DOCTEST_CHECK(read_text(checkpoint / "model.safetensors") == read_text(saved_output(folder / "each", 0) / "model.safetensors"));
  }
  // Only rank 0 logs at log_level now; rank 1 at log_level_replica (warning).
  DOCTEST_CHECK(contains(on_each[0].output, "Saving model checkpoint to"));
  DOCTEST_CHECK_FALSE(contains(on_each[1].output, "Saving model checkpoint to"));
}

DOCTEST_TEST_CASE("FSDP on two machines with disks of their own: each saved checkpoint holds every rank's optimizer shard") {
  require_programs();
  const auto folder = test_support::fresh_folder("two_nodes_fsdp");
  const std::vector<std::string> flags = {"--trainer", "fsdp", "--fsdp", "full_shard", "--blocks", "2",
                                          "--save_strategy", "steps", "--save_steps", "8"};
  const auto saved_output = [](const fs::path& out, int rank) {
    return out / "output" / fmt::format("rank-{}", rank) / "checkpoint-8";
  };
  // Each rank's output_dir is its own (--rank_output_dir): rank 1 cannot write into rank 0's
  // checkpoint, so it sends its shard, and rank 1's disk gets nothing.
  const auto defaults = run_on_two_nodes(folder / "defaults", flags);
  for (const auto& node : defaults) DOCTEST_REQUIRE_MESSAGE(node.code == 0, node.output);
  const auto checkpoint = saved_output(folder / "defaults", 0);
  DOCTEST_REQUIRE(tt::is_complete_checkpoint(checkpoint));
  const auto read = tt::read_checkpoint(checkpoint);
  DOCTEST_CHECK(read.optimizer_shards.size() == 2);
  DOCTEST_CHECK_FALSE(fs::exists(folder / "defaults" / "output" / "rank-1"));
  // A run of 2 ranks on one machine resumes from it.
  const auto resumed = run_worker(2, folder / "resumed", {"--trainer", "fsdp", "--fsdp", "full_shard", "--blocks", "2",
                                                          "--resume_from_checkpoint", checkpoint.string()});
  DOCTEST_CHECK_MESSAGE(resumed.code == 0, resumed.output);

  // --save_on_each_node: each machine's checkpoint is whole, with both shards.
  auto each = flags;
  each.insert(each.end(), {"--save_on_each_node", "true"});
  const auto on_each = run_on_two_nodes(folder / "each", each);
  for (const auto& node : on_each) DOCTEST_REQUIRE_MESSAGE(node.code == 0, node.output);
  for (int rank : {0, 1}) {
    const auto saved = tt::read_checkpoint(saved_output(folder / "each", rank));
    DOCTEST_CHECK(saved.optimizer_shards == read.optimizer_shards);
  }
}

DOCTEST_TEST_CASE("a Trainer without a distributed strategy, launched as 2 ranks, refuses at start instead of training twice") {
  require_programs();
  const auto folder = test_support::fresh_folder("single_launched");
  const auto finished = run_worker(2, folder / "run", {"--trainer", "single"});
  DOCTEST_MESSAGE(finished.output);
  DOCTEST_CHECK(finished.code != 0);
  DOCTEST_CHECK(contains(finished.output, "this process is rank 1 of 2 (torchrun variables), but its Trainer has no "
                                          "distributed strategy"));
  DOCTEST_CHECK(contains(finished.output, "name one (Trainer<DDP> or Trainer<FSDP>"));
  DOCTEST_CHECK_FALSE(fs::exists(folder / "run" / "output"));  // nothing was written
}

DOCTEST_TEST_CASE("a rank that dies: the other stops with a clear error, the launcher returns the worst status") {
  require_programs();
  const auto folder = test_support::fresh_folder("dead_rank");
  const auto finished = run_worker(2, folder / "run", {"--trainer", "ddp", "--die_at_step", "3", "--ddp_timeout", "60"});
  DOCTEST_MESSAGE(finished.output);
  DOCTEST_CHECK(finished.code == 3);  // rank 1's _exit(3), worse than rank 0's 1
  DOCTEST_CHECK(contains(finished.output, "rank 1 fails on purpose at step 3"));
  DOCTEST_CHECK(contains(finished.output, "torchtrain-launch: rank 1 (pid"));
  DOCTEST_CHECK(contains(finished.output, "ddp_worker: rank 0 of 2: summing a count or metric over the ranks failed"));
  DOCTEST_CHECK(contains(finished.output, "torchtrain-launch: rank 0 (pid"));  // it stopped by itself
}

DOCTEST_TEST_CASE("a rank that stops answering: the other gives up after --ddp_timeout") {
  require_programs();
  const auto folder = test_support::fresh_folder("stuck_rank");
  // Rank 1 stops itself (SIGSTOP): its sockets stay open, so only the timeout can tell.
  const auto finished = run_worker(2, folder / "run",
                                   {"--trainer", "ddp", "--die_at_step", "3", "--die_how", "stop", "--ddp_timeout", "3"},
                                   {"--grace_period", "0"});
  DOCTEST_MESSAGE(finished.output);
  DOCTEST_CHECK(finished.code == 1);  // rank 0's error; the launcher ended the stopped rank
  DOCTEST_CHECK(contains(finished.output, "ddp_worker: rank 0 of 2: summing a count or metric over the ranks failed"));
  DOCTEST_CHECK(contains(finished.output, "gives up after --ddp_timeout (3 s)"));
  DOCTEST_CHECK(contains(finished.output, "torchtrain-launch: terminating the 1 rank(s) still running"));
}

// A launcher of two ranks that only wait for a signal; each writes ready-rank<R>, holding
// its pid, once its handlers are in place.
pid_t start_waiting_ranks(const fs::path& folder, const fs::path& log) {
  const Programs programs;
  return start({programs.launcher, "--nproc_per_node", "2", programs.worker, "--wait_for_signal", "true", "--out",
                folder.string()},
               log);
}

DOCTEST_TEST_CASE("the launcher passes SIGTERM to every rank and returns their status") {
  require_programs();
  const auto folder = test_support::fresh_folder("signals");
  const auto log = folder / "run.log";
  const pid_t launcher = start_waiting_ranks(folder, log);
  // Both ranks say when they wait (no sleeping: the launcher's exit would end the loop too).
  int status = 0;
  bool ended = false;
  while (!(fs::exists(folder / "ready-rank0") && fs::exists(folder / "ready-rank1")))
    if ((ended = waitpid(launcher, &status, WNOHANG) == launcher)) break;
    else std::this_thread::yield();
  DOCTEST_REQUIRE_MESSAGE(!ended, read_text(log));
  kill(launcher, SIGTERM);
  waitpid(launcher, &status, 0);
  const auto output = read_text(log);
  DOCTEST_MESSAGE(output);
  DOCTEST_CHECK(exit_code(status) == 128 + SIGTERM);
  DOCTEST_CHECK(contains(output, "rank 0 got a signal to stop"));
  DOCTEST_CHECK(contains(output, "rank 1 got a signal to stop"));
}

// Whether process `pid` is gone: no such process, or a zombie nobody reaps (an orphan's
// new parent in a container may not).
bool process_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  const auto stat = read_text(fs::path("/proc") / std::to_string(pid) / "stat");
  const auto state_at = stat.rfind(") ");
  return state_at != std::string::npos && stat.size() > state_at + 2 && stat[state_at + 2] == 'Z';
}

DOCTEST_TEST_CASE("ranks die with their launcher, even when it is killed with SIGKILL") {
  require_programs();
  const auto folder = test_support::fresh_folder("launcher_killed");
  const auto log = folder / "run.log";
  const pid_t launcher = start_waiting_ranks(folder, log);
  std::vector<pid_t> ranks;
  int status = 0;
  for (int rank : {0, 1}) {
    const auto ready = folder / fmt::format("ready-rank{}", rank);
    std::string pid;
    bool ended = false;
    while (!ended && (pid = fs::exists(ready) ? read_text(ready) : std::string()).empty())
      ended = waitpid(launcher, &status, WNOHANG) == launcher;
    DOCTEST_REQUIRE_MESSAGE(!ended, read_text(log));
    ranks.push_back(static_cast<pid_t>(std::stol(pid)));
  }
  kill(launcher, SIGKILL);
  waitpid(launcher, &status, 0);
  // The kernel sends each rank SIGTERM as the launcher dies; the bound is generous, only
  // so that a rank that never dies fails the test instead of hanging it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (const pid_t rank : ranks) {
    while (!process_gone(rank) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    DOCTEST_CHECK_MESSAGE(process_gone(rank), "rank pid ", rank, " outlived its launcher");
    if (!process_gone(rank)) kill(rank, SIGKILL);
  }
  const auto output = read_text(log);
  DOCTEST_CHECK(contains(output, "rank 0 got a signal to stop"));
  DOCTEST_CHECK(contains(output, "rank 1 got a signal to stop"));
}

DOCTEST_TEST_CASE("the launcher rejects a bad command line with a sentence and its usage") {
  require_programs();
  const Programs programs;
  const auto folder = test_support::fresh_folder("launcher_usage");
  const auto launch = [&](std::vector<std::string> words) {
    words.insert(words.begin(), programs.launcher);
    return run(words, folder / "run.log");
  };
  auto finished = launch({programs.worker});
  DOCTEST_CHECK(finished.code == 2);
  DOCTEST_CHECK(contains(finished.output, "--nproc_per_node is required"));
  finished = launch({"--nproc_per_node", "2", "--master_port", "http", programs.worker});
  DOCTEST_CHECK(contains(finished.output, "--master_port http: expected a whole number in [1, 65535]"));
  finished = launch({"--nproc_per_node", "2", "--nnodes", "2", "--node_rank", "1", "--master_port", "29400",
                     programs.worker});
  DOCTEST_CHECK(contains(finished.output, "--nnodes > 1 needs --master_addr"));
  finished = launch({"--nproc_per_node", "2", "--nproc", "2", programs.worker});
  DOCTEST_CHECK(contains(finished.output, "unknown flag --nproc"));
  finished = launch({"--nproc_per_node", "2"});
  DOCTEST_CHECK(contains(finished.output, "no program to launch"));
  finished = launch({"--nproc_per_node", "2", (folder / "no-such-program").string()});
  DOCTEST_CHECK(finished.code == 127);
  DOCTEST_CHECK(contains(finished.output, "cannot run"));
}

// ---------------------------------------------------------------------------------------
// Python's torchrun starting the same worker. Skipped in unit.distributed: CTest runs these
// as distributed.torchrun, with TORCHTRAIN_TORCHRUN set to the torch wheel's torchrun.

namespace {

// 2 ranks of the worker under `torchrun --no_python`, writing to `out`.
Finished run_under_torchrun(const fs::path& out, std::vector<std::string> flags,
                            const std::vector<std::string>& torchrun_flags = {}) {
  const char* torchrun = std::getenv("TORCHTRAIN_TORCHRUN");
  DOCTEST_REQUIRE_MESSAGE(torchrun, "set TORCHTRAIN_TORCHRUN to a torchrun program");
  const auto port = torchtrain_launch::free_port();
  DOCTEST_REQUIRE(port);
  std::vector<std::string> words = {torchrun, "--no_python", "--nproc_per_node", "2", "--master_port",
                                    std::to_string(*port), "--log_dir", (out / "torchrun_logs").string()};
  words.insert(words.end(), torchrun_flags.begin(), torchrun_flags.end());
  flags.insert(flags.begin(), {"--trainer", "ddp"});
  return run_launched_worker(std::move(words), out, flags);
}

}  // namespace

DOCTEST_TEST_CASE("under torchrun --no_python, 2 ranks with batch 16 train to the weights of 1 process with batch 32" *
                  doctest::skip()) {
  require_programs();
  const auto folder = test_support::fresh_folder("torchrun");
  const auto single = run_worker(1, folder / "single", {"--trainer", "single", "--per_device_train_batch_size", "32"});
  DOCTEST_REQUIRE_MESSAGE(single.code == 0, single.output);
  const auto ddp = run_under_torchrun(folder / "ddp", {});
  DOCTEST_REQUIRE_MESSAGE(ddp.code == 0, ddp.output);
  check_equivalent(folder / "single", folder / "ddp", 1e-6);
  // The ranks met at torchrun's own store, which its agent serves.
  DOCTEST_CHECK(metrics(folder / "ddp", 0)["launcher"] == "torchrun");
}

// A rank's error, written to TORCHELASTIC_ERROR_FILE by ddp_worker's main, is what
// torchrun's failure summary quotes ("error_file: <N/A>" without it).
DOCTEST_TEST_CASE("under torchrun: a failing rank's message reaches torchrun's failure summary" * doctest::skip()) {
  require_programs();
  const auto folder = test_support::fresh_folder("torchrun_error_file");
  const auto failed = run_under_torchrun(folder / "run", {"--die_at_step", "3", "--ddp_timeout", "30"});
  DOCTEST_INFO(failed.output);  // shown if a check fails
  DOCTEST_CHECK(failed.code != 0);
  DOCTEST_CHECK(contains(failed.output, "traceback : rank 0 of 2: summing a count or metric over the ranks failed"));
}

// The agent's store outlives an attempt: the restarted ranks must not meet the dead ones'
// addresses (they would wait for them until --ddp_timeout).
DOCTEST_TEST_CASE("torchrun --max_restarts 1: after a rank dies, the restarted ranks meet again and finish" *
                  doctest::skip()) {
  require_programs();
  const auto folder = test_support::fresh_folder("torchrun_restart");
  const auto clean = run_under_torchrun(folder / "clean", {});
  DOCTEST_REQUIRE_MESSAGE(clean.code == 0, clean.output);
  const auto restarted = run_under_torchrun(folder / "restarted",
                                            {"--die_at_step", "3", "--die_attempt", "0", "--ddp_timeout", "30"},
                                            {"--max_restarts", "1"});
  DOCTEST_REQUIRE_MESSAGE(restarted.code == 0, restarted.output);
  DOCTEST_CHECK(contains(restarted.output, "rank 1 fails on purpose at step 3"));
  for (int rank = 0; rank < 2; ++rank) {
    DOCTEST_CHECK(metrics(folder / "restarted", rank)["restart_count"] == 1);
    DOCTEST_CHECK(all_equal(weights(folder / "restarted", rank), weights(folder / "clean", 0)));
  }
}

}  // DOCTEST_TEST_SUITE

}  // namespace distributed_tests
