// Data pipeline: samplers, collators, the prefetching loader and JSON lines datasets (suite "data").
#include "testing.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <torchtrain/data/distributed_sampler.hpp>
#include <torchtrain/data/length_grouped_sampler.hpp>
#include <torchtrain/data/sampler.hpp>

namespace {

torch::Tensor ids(std::vector<std::int64_t> values) { return torch::tensor(values, torch::kLong); }

}  // namespace

DOCTEST_TEST_SUITE("data") {

// ---- samplers ----

DOCTEST_TEST_CASE("RandomSampler and SequentialSampler: seeded epoch orders and the stored order") {
  static_assert(tt::data::Sampler<tt::data::RandomSampler> && tt::data::Sampler<tt::data::DistributedSampler> &&
                tt::data::Sampler<tt::data::LengthGroupedSampler>);
  const tt::data::RandomSampler sampler{7};
  DOCTEST_CHECK(torch::equal(sampler.order(30, 2), tt::data::RandomSampler{7}.order(30, 2)));  // after a resume
  DOCTEST_CHECK(!torch::equal(sampler.order(30, 2), sampler.order(30, 3)));
  DOCTEST_CHECK(torch::equal(tt::data::SequentialSampler{}.order(4, 5), ids({0, 1, 2, 3})));
}

DOCTEST_TEST_CASE("DistributedSampler pads or drops the tail as PyTorch's DistributedSampler") {
  // 10 samples on 4 ranks: padded to 12 by repeating the start, rank r takes r, r + 4, r + 8.
  const std::vector<std::vector<std::int64_t>> padded{{0, 4, 8}, {1, 5, 9}, {2, 6, 0}, {3, 7, 1}};
  const std::vector<std::vector<std::int64_t>> dropped{{0, 4}, {1, 5}, {2, 6}, {3, 7}};
  for (std::int64_t rank = 0; rank < 4; ++rank) {
    tt::data::DistributedSampler sampler{.num_replicas = 4, .rank = rank, .shuffle = false};
    DOCTEST_CHECK(sampler.num_samples(10) == 3);
    DOCTEST_CHECK(torch::equal(sampler.order(10, 0), ids(padded[static_cast<std::size_t>(rank)])));
    sampler.drop_last = true;
    DOCTEST_CHECK(sampler.num_samples(10) == 2);
    DOCTEST_CHECK(torch::equal(sampler.order(10, 0), ids(dropped[static_cast<std::size_t>(rank)])));
  }
  // Fewer samples than ranks: the order repeats as often as it takes.
  DOCTEST_CHECK(torch::equal(tt::data::DistributedSampler{.num_replicas = 5, .rank = 4, .shuffle = false}.order(2, 0),
                             ids({0})));
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::DistributedSampler({.num_replicas = 2, .rank = 2}).order(10, 0),
                               "DistributedSampler: rank 2 is not in [0, 2); pass the process's RANK",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("the ranks' batches of one global batch are exactly the single-process batch") {
  const std::int64_t size = 96, per_device = 4;
  for (std::int64_t ranks : {2, 3, 4}) {
    const auto single = tt::data::RandomSampler{11}.order(size, 5);  // one process, batch ranks x 4
    std::vector<torch::Tensor> shards;
    for (std::int64_t rank = 0; rank < ranks; ++rank)
      shards.push_back(tt::data::DistributedSampler{.num_replicas = ranks, .rank = rank, .seed = 11}.order(size, 5));
    for (std::int64_t k = 0; k < size / (ranks * per_device); ++k) {
      const auto global = single.slice(0, k * ranks * per_device, (k + 1) * ranks * per_device);
      // Sample i of rank r's batch k sits at place i * ranks + r of the global batch.
      std::vector<torch::Tensor> rank_batches;
      for (const auto& shard : shards) rank_batches.push_back(shard.slice(0, k * per_device, (k + 1) * per_device));
      DOCTEST_CHECK(torch::equal(torch::stack(rank_batches, 1).flatten(), global));
    }
    DOCTEST_CHECK(torch::equal(std::get<0>(torch::cat(shards).sort()), torch::arange(size)));
  }
}

DOCTEST_TEST_CASE("group_by_length sorts megabatches longest first and puts the longest sample first") {
  // Megabatches [0 1 2 3] and [4 5 6 7] of the identity order, by length: [3 1 2 0] and
  // [5 7 6 4]; sample 5 (length 9) is the longest, so it swaps places with sample 3.
  const std::vector<std::int64_t> lengths{1, 5, 2, 8, 3, 9, 4, 7};
  DOCTEST_CHECK(torch::equal(tt::data::group_by_length(torch::arange(8), lengths, 4),
                             ids({5, 1, 2, 0, 3, 7, 6, 4})));
  // The Python test: 100 random lengths below 25, one of 50, batches of 4.
  torch::manual_seed(0);
  auto random = torch::randint(0, 25, {100}, torch::kLong);
  random[32] = 50;
  const tt::data::LengthGroupedSampler sampler{
      std::vector<std::int64_t>(random.data_ptr<std::int64_t>(), random.data_ptr<std::int64_t>() + 100), 4, 3};
  DOCTEST_CHECK(sampler.megabatch_size() == 24);  // min(100 / 16, 50) = 6 batches
  const auto order = sampler.order(100, 0);
  DOCTEST_CHECK(order[0].item<std::int64_t>() == 32);
  DOCTEST_CHECK(torch::equal(std::get<0>(order.sort()), torch::arange(100)));
  // After the first sample, each megabatch runs from long to short.
  const auto sorted_lengths = random.index_select(0, order);
  for (std::int64_t start = 0; start < 100; start += 24) {
    const auto part = sorted_lengths.slice(0, start == 0 ? 1 : start, std::min<std::int64_t>(start + 24, 100));
    DOCTEST_CHECK(torch::equal(part, std::get<0>(part.sort(0, /*descending=*/true))));
  }
  DOCTEST_CHECK(torch::equal(order, sampler.order(100, 0)));
  DOCTEST_CHECK(!torch::equal(order, sampler.order(100, 1)));
  DOCTEST_CHECK_THROWS_WITH_AS(sampler.order(99, 0),
                               "LengthGroupedSampler: the dataset has 99 samples but 100 lengths were given; give "
                               "one length per sample",
                               tt::ArgumentError);
}

}  // DOCTEST_TEST_SUITE
