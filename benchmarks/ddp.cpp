// The share of a DDP step spent waiting for the gradient all-reduce, with the all-reduce overlapping backward and without.
//
//   torchtrain-launch --nproc_per_node 2 build/benchmarks/bench_ddp [--width 1024] [--layers 8] [--batch 64]
//                     [--steps 10] [--rounds 5] [--bucket_mb 25] [--threads 1]
//
// Each round times four step loops, alternated, on every rank: gradients not
// synchronized (compute only), synchronized after backward ends (no overlap),
// synchronized by torchtrain's buckets that start while backward runs (overlap, what DDP
// does), and by PyTorch's own c10d::Reducer (the engine of Python's DDP, driven as
// DistributedDataParallel drives it: one bucket at first, rebuilt in gradient order after
// the first backward, 1 MB first bucket). The all-reduce's share of a step is
// (step - compute-only step) / step: the communication the step waits for. Rank 0 prints
// the medians.
#include <chrono>
#include <cstdio>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "support.hpp"

namespace tt = torchtrain;

struct DdpArguments {
  int width = 1024;    // of each square Linear layer
  int layers = 8;      // 8 x 1024 x 1024 floats: 32 MB of gradients, 2 buckets of 25 MB
  int batch = 64;      // samples per rank and step
  int steps = 10;      // per timed loop
  int rounds = 5;      // of the three loops, alternated
  int bucket_mb = 25;  // PyTorch DDP's default
  int threads = 1;     // intra-op threads per rank (2 ranks on 2 cores)
};
BOOST_HANA_ADAPT_STRUCT(DdpArguments, width, layers, batch, steps, rounds, bucket_mb, threads);

namespace {

enum class Sync { none, after_backward, overlapped, reducer };

// PyTorch's DDP engine over a Gloo backend of its own (keys under "reducer/" in our store),
// set up as torch.nn.parallel.DistributedDataParallel sets it up by default.
std::unique_ptr<c10d::Reducer> make_reducer(const std::vector<at::Tensor>& parameters,
                                            const tt::distributed::ProcessGroup& group, std::size_t bucket_bytes) {
  auto store = c10::make_intrusive<c10d::PrefixStore>("reducer", group.store());
  auto backend = tt::distributed::detail::make_backend("gloo", store, group.environment(), std::chrono::seconds(600));
  auto process_group = c10::make_intrusive<c10d::ProcessGroup>(store, group.rank(), group.size());
  process_group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
  process_group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, backend);
  const std::vector<bool> expect_sparse(parameters.size(), false);
  // DDP's first bucketing: every parameter in one bucket, until the first backward has
  // shown the order gradients come in (then rebuild_buckets cuts 1 MB, then bucket_bytes).
  auto [bucket_indices, limits] =
      c10d::compute_bucket_assignment_by_size(parameters, {std::numeric_limits<std::size_t>::max()}, expect_sparse);
  std::reverse(bucket_indices.begin(), bucket_indices.end());
  return std::make_unique<c10d::Reducer>(parameters, bucket_indices, process_group, expect_sparse,
                                         static_cast<std::int64_t>(bucket_bytes), /*find_unused_parameters=*/false,
                                         /*gradient_as_bucket_view=*/false,
                                         std::unordered_map<std::size_t, std::string>{},
                                         /*first_bucket_bytes_cap=*/std::int64_t{1} << 20,
                                         /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
                                         /*bucket_bytes_cap_list=*/std::vector<std::int64_t>{});
}

}  // namespace

int main(int argc, char** argv) try {
  auto [shape] = tt::parse_args<DdpArguments>(argc, argv);
  torch::set_num_threads(shape.threads);
  auto group = tt::distributed::default_process_group({.backend = "gloo", .timeout = std::chrono::seconds(600)});
  torch::manual_seed(0);  // the same replica on every rank
  torch::nn::Sequential model;
  for (int layer = 0; layer < shape.layers; ++layer) {
    model->push_back(torch::nn::Linear(shape.width, shape.width));
    model->push_back(torch::nn::ReLU());
  }
  torch::manual_seed(1 + group->rank());  // each rank its own batch
  const auto inputs = torch::randn({shape.batch, shape.width});
  tt::distributed::detail::GradientBuckets buckets(model->parameters(), group,
                                                   static_cast<std::size_t>(shape.bucket_mb) << 20);
  auto reducer = make_reducer(model->parameters(), *group, static_cast<std::size_t>(shape.bucket_mb) << 20);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(1e-6));

  const auto use = [&](Sync sync) {
    buckets.set_sync(sync == Sync::after_backward || sync == Sync::overlapped);
    buckets.set_overlap(sync == Sync::overlapped);
  };
  const auto forward_backward = [&](Sync sync) {
    optimizer.zero_grad();
    if (sync == Sync::reducer) {  // what DistributedDataParallel.forward does around the model's forward
      reducer->prepare_for_forward();
      reducer->rebuild_buckets();
    }
    auto loss = model->forward(inputs).pow(2).mean();
    if (sync == Sync::reducer) reducer->prepare_for_backward({});
    loss.backward();
  };
  const auto loop_seconds = [&](Sync sync) {
    use(sync);
    group->barrier("aligning the ranks before a timed loop");
    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < shape.steps; ++step) {
      forward_backward(sync);
      optimizer.step();
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / shape.steps;
  };
  for (auto sync : {Sync::none, Sync::after_backward, Sync::overlapped, Sync::reducer}) loop_seconds(sync);  // warm-up
  std::vector<double> compute, after, overlapped, reduced;
  for (int round = 0; round < shape.rounds; ++round) {
    compute.push_back(loop_seconds(Sync::none));
    after.push_back(loop_seconds(Sync::after_backward));
    overlapped.push_back(loop_seconds(Sync::overlapped));
    reduced.push_back(loop_seconds(Sync::reducer));
  }
  // Both engines must average the same gradients: one more backward of each, compared.
  const auto gradients_of = [&](Sync sync) {
    use(sync);
    forward_backward(sync);
    std::vector<at::Tensor> gradients;
    for (const auto& parameter : model->parameters()) gradients.push_back(parameter.grad().clone());
    return gradients;
  };
  const auto ours = gradients_of(Sync::overlapped), theirs = gradients_of(Sync::reducer);
  double largest_difference = 0;
  for (std::size_t i = 0; i < ours.size(); ++i)
    largest_difference = std::max(largest_difference, (ours[i] - theirs[i]).abs().max().item<double>());
  if (group->rank() == 0) {
    const double c = bench::median(compute), a = bench::median(after), o = bench::median(overlapped),
                 r = bench::median(reduced);
    std::int64_t parameters = 0;
    for (const auto& parameter : model->parameters()) parameters += parameter.numel();
    fmt::print("{} ranks, {} parameters ({:.1f} MB of gradients) in {} buckets, batch {} per rank, {} thread(s) per "
               "rank; median of {} rounds of {} steps\n\n",
               group->size(), parameters, parameters * 4 / 1e6, buckets.num_buckets(), shape.batch, shape.threads,
               shape.rounds, shape.steps);
    fmt::print("| gradients | step (ms) | all-reduce share of the step |\n| --- | --- | --- |\n");
    fmt::print("| not synchronized (compute only) | {:.2f} | |\n", c * 1e3);
    fmt::print("| all-reduced after backward | {:.2f} | {:.0f}% |\n", a * 1e3, 100 * (a - c) / a);
    fmt::print("| all-reduced by buckets during backward (DDP) | {:.2f} | {:.0f}% |\n", o * 1e3, 100 * (o - c) / o);
    fmt::print("| all-reduced by PyTorch's c10d::Reducer during backward | {:.2f} | {:.0f}% |\n", r * 1e3,
               100 * (r - c) / r);
    fmt::print("\noverlapped / after-backward step time: {:.3f}\n", o / a);
    fmt::print("torchtrain's buckets / c10d::Reducer step time: {:.3f}\n", o / r);
    fmt::print("largest difference between their averaged gradients: {:g}\n", largest_difference);
  }
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "bench_ddp: %s\n", error.what());
  return 1;
}
