// The share of a DDP step spent waiting for the gradient all-reduce, with the all-reduce overlapping backward and without.
//
//   torchtrain-launch --nproc_per_node 2 build/benchmarks/bench_ddp [--width 1024] [--layers 8] [--batch 64]
//                     [--steps 10] [--rounds 5] [--bucket_mb 25] [--threads 1]
//
// Each round times three step loops, alternated, on every rank: gradients not
// synchronized (compute only), synchronized after backward ends (no overlap), and
// synchronized by buckets that start while backward runs (overlap, what DDP does). The
// all-reduce's share of a step is (step - compute-only step) / step: the communication
// the step waits for. Rank 0 prints the medians.
#include <chrono>
#include <cstdio>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>
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

enum class Sync { none, after_backward, overlapped };

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
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(1e-6));

  const auto loop_seconds = [&](Sync sync) {
    buckets.set_sync(sync != Sync::none);
    buckets.set_overlap(sync == Sync::overlapped);
    group->barrier("aligning the ranks before a timed loop");
    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < shape.steps; ++step) {
      optimizer.zero_grad();
      model->forward(inputs).pow(2).mean().backward();
      optimizer.step();
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / shape.steps;
  };
  for (auto sync : {Sync::none, Sync::after_backward, Sync::overlapped}) loop_seconds(sync);  // warm-up
  std::vector<double> compute, after, overlapped;
  for (int round = 0; round < shape.rounds; ++round) {
    compute.push_back(loop_seconds(Sync::none));
    after.push_back(loop_seconds(Sync::after_backward));
    overlapped.push_back(loop_seconds(Sync::overlapped));
  }
  if (group->rank() == 0) {
    const double c = bench::median(compute), a = bench::median(after), o = bench::median(overlapped);
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
    fmt::print("\noverlapped / after-backward step time: {:.3f}\n", o / a);
  }
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "bench_ddp: %s\n", error.what());
  return 1;
}
