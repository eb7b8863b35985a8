// Data pipeline: samplers, collators, the prefetching loader and JSON lines datasets (suite "data").
#include "testing.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torchtrain/data/collated_dataset.hpp>
#include <torchtrain/data/collated_stream.hpp>
#include <torchtrain/data/data_collator_for_language_modeling.hpp>
#include <torchtrain/data/data_collator_with_padding.hpp>
#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/default_data_collator.hpp>
#include <torchtrain/data/distributed_sampler.hpp>
#include <torchtrain/data/iterable_dataset.hpp>
#include <torchtrain/data/json_lines.hpp>
#include <torchtrain/data/json_lines_stream.hpp>
#include <torchtrain/data/length_grouped_sampler.hpp>
#include <torchtrain/data/sampler.hpp>
#include <torchtrain/data/token_batch.hpp>

namespace data_pipeline_tests {

using Example = torch::data::Example<>;

std::filesystem::path write_file(const std::string& name, const std::string& content) {
  const auto path = test_support::fresh_folder("pipeline_" + name) / name;
  std::ofstream(path) << content;
  return path;
}

torch::Tensor ids(std::vector<std::int64_t> values) { return torch::tensor(values, torch::kLong); }

// Sample i is the row [i, i]; label i. Counts get_batch calls, and fails on sample `failing`.
struct CountingDataset {
  std::int64_t samples = 40;
  std::int64_t failing = -1;
  std::atomic<std::int64_t>* fetched = nullptr;
  std::int64_t size() const { return samples; }
  tt::data::Batch get_batch(const torch::Tensor& indices) const {
    if (fetched) ++*fetched;
    if (failing >= 0 && (indices == failing).any().item<bool>())
      throw std::runtime_error("sample " + std::to_string(failing) + " is unreadable");
    return {indices.unsqueeze(1).repeat({1, 2}), indices.clone()};
  }
};

// All the batches of an epoch, as the loop takes them.
template <class D>
std::vector<torch::Tensor> epoch_labels(D& dataset, tt::data::DataLoaderOptions options, const torch::Tensor& order,
                                        std::int64_t first_batch = 0) {
  tt::data::DataLoader<D> loader(dataset, options);
  loader.start_epoch(order, first_batch);
  std::vector<torch::Tensor> labels;
  while (loader.has_next()) labels.push_back(loader.next().labels);
  return labels;
}

bool same_batches(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// A language model over a TokenBatch: it reads the batch's fields by name.
struct TinyLanguageModelImpl : torch::nn::Module {
  torch::nn::Embedding embedding = register_module("embedding", torch::nn::Embedding(20, 8));
  torch::nn::Linear head = register_module("head", torch::nn::Linear(8, 20));
  torch::Tensor forward(const tt::data::TokenBatch& batch) {
    return head(embedding(batch.input_ids) * batch.attention_mask.unsqueeze(-1));
  }
};
TORCH_MODULE(TinyLanguageModel);

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

// ---- collators ----

DOCTEST_TEST_CASE("DefaultDataCollator stacks samples and their targets") {
  auto batch = tt::data::DefaultDataCollator{}({{torch::tensor({1.f, 2.f}), torch::tensor(0)},
                                               {torch::tensor({3.f, 4.f}), torch::tensor(1)}});
  DOCTEST_CHECK(torch::equal(batch.inputs, torch::tensor({{1.f, 2.f}, {3.f, 4.f}})));
  DOCTEST_CHECK(torch::equal(batch.labels, torch::tensor({0, 1})));
  DOCTEST_CHECK(!tt::data::DefaultDataCollator{}({{torch::tensor({1.f}), {}}}).labels.defined());
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::DefaultDataCollator{}({{torch::tensor({1.f}), torch::tensor(0)},
                                                               {torch::tensor({2.f}), {}}}),
                               "DefaultDataCollator: 1 of the 2 samples have a target; give every sample one, or none",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("DataCollatorWithPadding pads to the longest, rounded to pad_to_multiple_of, with a mask") {
  const tt::data::DataCollatorWithPadding pad{.pad_token_id = 9, .pad_to_multiple_of = 4};
  auto batch = pad({{ids({5, 6, 7}), torch::tensor(1)}, {ids({8}), torch::tensor(0)}});
  DOCTEST_CHECK(torch::equal(batch.input_ids, torch::tensor({{5, 6, 7, 9}, {8, 9, 9, 9}})));
  DOCTEST_CHECK(torch::equal(batch.attention_mask, torch::tensor({{1, 1, 1, 0}, {1, 0, 0, 0}})));
  DOCTEST_CHECK(torch::equal(batch.labels, torch::tensor({1, 0})));
  // Labels per token are padded with -100; without pad_to_multiple_of, to the longest.
  auto tokens = tt::data::DataCollatorWithPadding{}({{ids({5, 6}), ids({1, 2})}, {ids({8}), ids({3})}});
  DOCTEST_CHECK(torch::equal(tokens.input_ids, torch::tensor({{5, 6}, {8, 0}})));
  DOCTEST_CHECK(torch::equal(tokens.labels, torch::tensor({{1, 2}, {3, -100}})));
  DOCTEST_CHECK_THROWS_WITH_AS(pad({{torch::ones({2, 2}, torch::kLong), {}}}),
                               "padding needs each sample to be a 1-D sequence of token ids, got shape 2x2",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("causal language modeling: labels are the inputs with padding set to -100") {
  const tt::data::DataCollatorForLanguageModeling causal{.mlm = false, .pad_token_id = 0};
  // Token 0 is also a real token here (as GPT-2 pads with end-of-text): only padding loses its label.
  auto batch = causal({{ids({5, 0, 7}), {}}, {ids({8}), {}}});
  DOCTEST_CHECK(torch::equal(batch.input_ids, torch::tensor({{5, 0, 7}, {8, 0, 0}})));
  DOCTEST_CHECK(torch::equal(batch.labels, torch::tensor({{5, 0, 7}, {8, -100, -100}})));
  DOCTEST_CHECK(torch::equal(batch.attention_mask, torch::tensor({{1, 1, 1}, {1, 0, 0}})));
}

DOCTEST_TEST_CASE("masked language modeling: the 80/10/10 rule, seeded per batch, never on padding") {
  const std::int64_t mask = 999, special = 1;
  const tt::data::DataCollatorForLanguageModeling collator{
      .mlm_probability = 1.0, .pad_token_id = 0, .mask_token_id = mask, .vocab_size = 1000,
      .special_token_ids = {special}};
  std::vector<Example> samples;
  for (std::int64_t i = 0; i < 400; ++i)  // ids 2..901; every fourth sample is shorter, so padded
    samples.push_back({torch::arange(2 + i % 100, 2 + i % 100 + (i % 4 == 0 ? 30 : 50), torch::kLong), {}});
  samples[0].data[0] = special;
  const auto original = tt::data::DataCollatorWithPadding{}(samples);
  const auto batch = collator(samples, 5);
  const auto tokens = original.attention_mask.to(torch::kBool) & (original.input_ids != special);
  // Every token but padding and the special one is chosen (probability 1) and labelled.
  DOCTEST_CHECK(torch::equal(batch.labels, original.input_ids.masked_fill(~tokens, -100)));
  DOCTEST_CHECK(torch::equal(batch.input_ids.masked_select(~tokens), original.input_ids.masked_select(~tokens)));
  const double chosen = tokens.sum().item<double>();
  const double masked = (batch.input_ids == mask).sum().item<double>() / chosen;
  const double kept = (tokens & (batch.input_ids == original.input_ids)).sum().item<double>() / chosen;
  DOCTEST_CHECK(masked == doctest::Approx(0.8).epsilon(0.03));
  DOCTEST_CHECK(kept == doctest::Approx(0.1).epsilon(0.15));
  DOCTEST_CHECK(1 - masked - kept == doctest::Approx(0.1).epsilon(0.15));  // random ids
  DOCTEST_CHECK(torch::equal(batch.input_ids, collator(samples, 5).input_ids));
  DOCTEST_CHECK(!torch::equal(batch.input_ids, collator(samples, 6).input_ids));
  // With probability 0 nothing changes and nothing is labelled.
  auto none = collator;
  none.mlm_probability = 0;
  const auto unmasked = none(samples, 5);
  DOCTEST_CHECK(torch::equal(unmasked.input_ids, original.input_ids));
  DOCTEST_CHECK((unmasked.labels == -100).all().item<bool>());
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::DataCollatorForLanguageModeling{}(samples),
                               "DataCollatorForLanguageModeling: masked language modeling (mlm = true) needs "
                               "mask_token_id; set it, or set mlm = false for causal language modeling",
                               tt::ArgumentError);
}

// ---- loader ----

DOCTEST_TEST_CASE("the DataLoader gives the same batches in the same order whatever the number of workers") {
  CountingDataset dataset;
  const auto order = tt::data::RandomSampler{3}.order(dataset.size(), 1);
  for (bool drop_last : {false, true}) {
    const tt::data::DataLoaderOptions plain{.batch_size = 6, .drop_last = drop_last};
    const auto expected = epoch_labels(dataset, plain, order);
    DOCTEST_CHECK(expected.size() == (drop_last ? 6u : 7u));  // 40 samples: the last batch holds 4
    DOCTEST_CHECK(torch::equal(torch::cat(expected), drop_last ? order.slice(0, 0, 36) : order));
    for (int workers : {1, 2, 3, 8})
      for (int prefetch : {1, 2, 5}) {
        auto options = plain;
        options.num_workers = workers;
        options.prefetch_factor = prefetch;
        DOCTEST_CHECK(same_batches(epoch_labels(dataset, options, order), expected));
        // A resumed epoch skips batches by index and goes on identically.
        DOCTEST_CHECK(same_batches(epoch_labels(dataset, options, order, 4),
                                   std::vector<torch::Tensor>(expected.begin() + 4, expected.end())));
      }
  }
}

DOCTEST_TEST_CASE("workers load at most prefetch_factor batches each ahead of the consumer") {
  std::atomic<std::int64_t> fetched{0};
  CountingDataset dataset{.samples = 200, .fetched = &fetched};
  for (int workers : {1, 3})
    for (int prefetch : {1, 2}) {
      fetched = 0;
      tt::data::DataLoader loader(dataset, {.batch_size = 2, .num_workers = workers, .prefetch_factor = prefetch});
      loader.start_epoch(torch::arange(200));
      for (std::int64_t taken = 1; loader.has_next(); ++taken) {
        loader.next();
        DOCTEST_CHECK(fetched.load() <= taken + workers * prefetch);
      }
      DOCTEST_CHECK(fetched.load() == 100);
    }
  // An epoch left half-way stops its workers; the next one starts afresh.
  tt::data::DataLoader loader(dataset, {.batch_size = 2, .num_workers = 2});
  loader.start_epoch(torch::arange(200));
  loader.next();
  loader.start_epoch(torch::arange(4));
  DOCTEST_CHECK(torch::equal(loader.next().labels, ids({0, 1})));
  DOCTEST_CHECK(torch::equal(loader.next().labels, ids({2, 3})));
  DOCTEST_CHECK(!loader.has_next());
  DOCTEST_CHECK_THROWS_AS(loader.next(), std::out_of_range);
}

DOCTEST_TEST_CASE("a batch that fails to load fails in its turn, with the dataset's message") {
  CountingDataset dataset{.failing = 13};
  for (int workers : {0, 2}) {
    tt::data::DataLoader loader(dataset, {.batch_size = 4, .num_workers = workers});
    loader.start_epoch(torch::arange(40));
    for (int batch = 0; batch < 3; ++batch) DOCTEST_CHECK(torch::equal(loader.next().labels, torch::arange(batch * 4, batch * 4 + 4)));
    DOCTEST_CHECK_THROWS_WITH_AS(loader.next(), "sample 13 is unreadable", std::runtime_error);
    if (workers > 0)  // the worker that failed has stopped: its later batches fail too, rather than never come
      for (int batch = 4; batch < 6; ++batch)
        DOCTEST_CHECK_THROWS_WITH_AS(loader.next(), "sample 13 is unreadable", std::runtime_error);
  }
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::DataLoader(dataset, {.batch_size = 0}), "the batch size must be at least 1, got 0",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("training with loader workers gives the same weights as without, also with group_by_length") {
  std::vector<std::int64_t> lengths(100);
  for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = static_cast<std::int64_t>((i * 37) % 11);
  struct WithLengths : tt::data::TensorDataset {
    std::vector<std::int64_t> sample_lengths;
    const std::vector<std::int64_t>& lengths() const { return sample_lengths; }
  };
  const auto weights_after = [&](int workers, bool group_by_length) {
    torch::manual_seed(3);
    torch::nn::Linear model(8, 3);
    std::optional<int> prefetch;
    if (workers > 0) prefetch = 1;
    tt::Trainer<> trainer(model,
                          {.max_steps = 20, .per_device_train_batch_size = 8, .dataloader_num_workers = workers,
                           .dataloader_prefetch_factor = prefetch,
                           .train_sampling_strategy = group_by_length ? tt::TrainSamplingStrategy::group_by_length
                                                                      : tt::TrainSamplingStrategy::random},
                          WithLengths{test_support::classification_data(), lengths}, test_support::classification_data(),
                          tt::loss::cross_entropy);
    trainer.train();
    return torch::cat({model->weight.flatten(), model->bias});
  };
  for (bool group_by_length : {false, true}) {
    const auto expected = weights_after(0, group_by_length);
    DOCTEST_CHECK(torch::equal(weights_after(1, group_by_length), expected));
    DOCTEST_CHECK(torch::equal(weights_after(3, group_by_length), expected));
  }
  DOCTEST_CHECK(!torch::equal(weights_after(0, true), weights_after(0, false)));  // the order did change
}

DOCTEST_TEST_CASE("an empty training set, or no full batch with drop_last, fails before training") {
  torch::nn::Linear model(8, 3);
  const auto data = test_support::classification_data();
  tt::data::TensorDataset empty(data.inputs().slice(0, 0, 0), data.labels().slice(0, 0, 0));
  tt::Trainer<> on_empty(model, {}, empty, tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK_THROWS_WITH_AS(on_empty.train(),
                               "the training set is empty: there is nothing to train on; check the file or the "
                               "split that made it",
                               tt::ArgumentError);
  tt::Trainer<> too_large(model, {.per_device_train_batch_size = 128, .dataloader_drop_last = true}, data,
                          tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK_THROWS_WITH_AS(too_large.train(),
                               "the training set has 100 samples, not one batch of --per_device_train_batch_size 128 "
                               "(with --dataloader_drop_last)",
                               tt::ArgumentError);
  DOCTEST_CHECK(too_large.state().global_step == 0);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(model, {.label_names = std::vector<std::string>{"target"}}, data, tt::data::NoDataset{},
                    tt::loss::cross_entropy),
      "--label_names target: torchtrain batches hold their labels in the member `labels`; name it so in your batch "
      "type and drop --label_names (or pass --label_names labels)",
      tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(model, {.train_sampling_strategy = tt::TrainSamplingStrategy::group_by_length}, data,
                    tt::data::NoDataset{}, tt::loss::cross_entropy),
      "--train_sampling_strategy group_by_length needs the length of each training sample: give the dataset a "
      "lengths() member (one length per sample), or use another strategy",
      tt::ArgumentError);
}

// ---- datasets ----

DOCTEST_TEST_CASE("masked language modeling batches are the same with workers as without") {
  std::string text;
  for (int i = 0; i < 30; ++i) text += fmt::format("{{\"input_ids\": [{}, {}, {}]}}\n", i + 2, i + 3, i % 5 + 2);
  const auto path = write_file("mlm.jsonl", text);
  auto dataset = tt::data::collate(
      tt::data::JsonLinesDataset(path, {.labels = ""}),
      tt::data::DataCollatorForLanguageModeling{.mlm_probability = 0.5, .mask_token_id = 1, .vocab_size = 40});
  const auto order = tt::data::RandomSampler{1}.order(30, 0);
  std::vector<torch::Tensor> batches[2];
  for (int workers : {0, 2}) {
    tt::data::DataLoader loader(dataset, {.batch_size = 4, .num_workers = workers});
    loader.start_epoch(order);
    while (loader.has_next()) batches[workers / 2].push_back(loader.next().input_ids);
  }
  DOCTEST_CHECK(same_batches(batches[0], batches[1]));
}

DOCTEST_TEST_CASE("JsonLinesDataset reads mapped fields as int64 or float32 tensors") {
  const auto path = write_file("data.jsonl", "{\"text_ids\": [3, 4, 5], \"y\": 1, \"other\": \"x\"}\n\n"
                                              "{\"text_ids\": [6], \"y\": 0}\n"
                                              "{\"text_ids\": [[0.5, 1], [2, 3]], \"y\": 2}\r\n");
  tt::data::JsonLinesDataset dataset(path, {.inputs = "text_ids", .labels = "y"});
  DOCTEST_CHECK(tt::data::dataset_size(dataset) == 3);
  DOCTEST_CHECK(torch::equal(dataset.get(0).data, ids({3, 4, 5})));
  DOCTEST_CHECK(torch::equal(dataset.get(0).target, torch::tensor(1, torch::kLong)));
  DOCTEST_CHECK(torch::equal(dataset.get(2).data, torch::tensor({{0.5f, 1.f}, {2.f, 3.f}})));
  DOCTEST_CHECK((dataset.lengths() == std::vector<std::int64_t>{3, 1, 2}));
  // Sequences of different lengths batch through a padding collator.
  auto padded = tt::data::collate(tt::data::JsonLinesDataset(path, {.inputs = "text_ids", .labels = "y"}),
                                  tt::data::DataCollatorWithPadding{});
  auto batch = tt::data::fetch_batch(padded, ids({1, 0}));
  DOCTEST_CHECK(torch::equal(batch.input_ids, torch::tensor({{6, 0, 0}, {3, 4, 5}})));
  DOCTEST_CHECK(torch::equal(batch.labels, ids({0, 1})));
}

DOCTEST_TEST_CASE("a malformed JSON line is an error naming the file, the line and the fix") {
  const auto check = [](const std::string& name, const std::string& content, const std::string& message) {
    const auto path = write_file(name, content);
    DOCTEST_CHECK_THROWS_WITH_AS(tt::data::JsonLinesDataset(path, {.inputs = "x", .labels = "y"}),
                                 (path.string() + message).c_str(), tt::data::DataError);
  };
  check("missing.jsonl", "{\"x\": 1, \"y\": 2}\n{\"x\": 1, \"label\": 2}\n",
        ":2: no field 'y' for the labels; the line has 'label', 'x'. Map the labels to one of them with "
        "JsonFields{.labels = \"...\"}");
  check("text.jsonl", "{\"x\": \"hello\", \"y\": 2}\n",
        ":1: field 'x' is a string, not a number or an array of numbers (tokenize text before reading it here)");
  check("ragged.jsonl", "{\"x\": [[1, 2], [3]], \"y\": 2}\n",
        ":1: field 'x' is a ragged array: arrays at depth 2 differ in length");
  check("array.jsonl", "[1, 2]\n", ":1: expected a JSON object, found array");
  check("empty.jsonl", "\n \n", ": no data lines");
  const auto broken = write_file("broken.jsonl", "{\"x\": 1, \"y\": 2}\n{\"x\": 1, \"y\": 2}\n{\"x\": 1,, \"y\": 2}\n");
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::JsonLinesDataset(broken, {.inputs = "x", .labels = "y"}),
                               doctest::Contains((broken.string() + ":3: not valid JSON: ").c_str()),
                               tt::data::DataError);
}

DOCTEST_TEST_CASE("JsonLinesStream streams what JsonLinesDataset reads; IterableLoader batches it") {
  static_assert(tt::data::IterableDataset<tt::data::JsonLinesStream>);
  const auto path = write_file("stream.jsonl", "{\"input_ids\": [3, 4, 5]}\n\n{\"input_ids\": [6]}\n"
                                                "{\"input_ids\": [7, 8]}\n{\"input_ids\": [9]}\n{\"input_ids\": [2]}");
  const tt::data::JsonLinesDataset dataset(path, {.labels = ""});
  tt::data::JsonLinesStream stream(path, {.labels = ""});
  for (int epoch = 0; epoch < 2; ++epoch) {
    stream.restart(epoch);
    for (std::size_t i = 0; i < 5; ++i) DOCTEST_CHECK(torch::equal(stream.next().value().data, dataset.get(i).data));
    DOCTEST_CHECK(!stream.next());
  }
  for (bool drop_last : {false, true}) {
    tt::data::IterableLoader loader(stream, tt::data::DataCollatorWithPadding{}, 2, drop_last);
    loader.start_epoch(0);
    DOCTEST_CHECK(torch::equal(loader.next().value().input_ids, torch::tensor({{3, 4, 5}, {6, 0, 0}})));
    DOCTEST_CHECK(torch::equal(loader.next().value().input_ids, torch::tensor({{7, 8}, {9, 0}})));
    if (!drop_last) DOCTEST_CHECK(torch::equal(loader.next().value().input_ids, torch::tensor({{2}})));
    DOCTEST_CHECK(!loader.next());
  }
  // A seeded collator masks each batch anew, and the same way for the same epoch.
  const tt::data::DataCollatorForLanguageModeling masking{.mlm_probability = 0.5, .mask_token_id = 1, .vocab_size = 10};
  const auto first_batches = [&](std::int64_t epoch) {
    tt::data::IterableLoader loader(stream, masking, 5);
    loader.start_epoch(epoch);
    return loader.next().value().labels;
  };
  DOCTEST_CHECK(torch::equal(first_batches(0), first_batches(0)));
  DOCTEST_CHECK(!torch::equal(first_batches(0), first_batches(1)));
  // A malformed line is reported when the stream reaches it.
  const auto broken = write_file("broken_stream.jsonl", "{\"input_ids\": [3]}\n{\"input_ids\": 3\n");
  tt::data::JsonLinesStream broken_stream(broken, {.labels = ""});
  DOCTEST_CHECK(broken_stream.next());
  DOCTEST_CHECK_THROWS_WITH_AS(broken_stream.next(), doctest::Contains((broken.string() + ":2: not valid JSON").c_str()),
                               tt::data::DataError);
}

// ---- streams in the Trainer ----

// The first `size` samples of the classification data, in order; notes the epoch of each restart.
struct ClassificationStream {
  std::int64_t size = 20;
  tt::data::TensorDataset data = test_support::classification_data();
  std::shared_ptr<std::vector<std::int64_t>> restarts = std::make_shared<std::vector<std::int64_t>>();
  std::int64_t next_sample = 0;
  void restart(std::int64_t epoch) {
    restarts->push_back(epoch);
    next_sample = 0;
  }
  std::optional<Example> next() {
    if (next_sample == size) return std::nullopt;
    ++next_sample;
    return Example{data.inputs()[next_sample - 1], data.labels()[next_sample - 1]};
  }
};

std::vector<torch::Tensor> stream_labels(tt::data::IterableLoader<ClassificationStream, tt::data::DefaultDataCollator>& loader) {
  std::vector<torch::Tensor> labels;
  while (auto batch = loader.next()) labels.push_back(batch->labels);
  return labels;
}

DOCTEST_TEST_CASE("a stream's shards: the ranks' batches make the one-process batch; skip reads past batches") {
  ClassificationStream stream{.size = 10};
  tt::data::IterableLoader whole(stream, tt::data::DefaultDataCollator{}, 4);
  whole.start_epoch(0);
  const auto expected = stream_labels(whole);  // batches of 4, 4 and 2
  DOCTEST_REQUIRE(expected.size() == 3);
  std::vector<std::vector<torch::Tensor>> shards;
  for (std::int64_t rank : {0, 1}) {
    tt::data::IterableLoader shard(stream, tt::data::DefaultDataCollator{}, 2);
    shard.shard(2, rank);
    shard.start_epoch(0);
    shards.push_back(stream_labels(shard));
  }
  // The short last global batch is dropped, so that both ranks take the same steps.
  DOCTEST_REQUIRE(shards[0].size() == 2);
  DOCTEST_REQUIRE(shards[1].size() == 2);
  for (std::size_t k = 0; k < 2; ++k) DOCTEST_CHECK(torch::equal(torch::cat({shards[0][k], shards[1][k]}), expected[k]));

  tt::data::IterableLoader skipping(stream, tt::data::DefaultDataCollator{}, 4);
  skipping.start_epoch(0);
  DOCTEST_CHECK(skipping.skip(1) == 1);
  DOCTEST_CHECK(skipping.batches_taken() == 1);
  DOCTEST_CHECK(torch::equal(skipping.next().value().labels, expected[1]));
  DOCTEST_CHECK(skipping.skip(5) == 1);
  DOCTEST_CHECK(!skipping.next());
  DOCTEST_CHECK_THROWS_WITH_AS(skipping.shard(2, 2), "rank 2 of 2 processes is not a shard of a stream",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("with pin_memory, batches of a dataset and of a stream come in page-locked memory" *
                  doctest::test_suite("cuda")) {
  CountingDataset dataset;
  for (bool pin : {false, true}) {
    tt::data::DataLoader loader(dataset, {.batch_size = 4, .pin_memory = pin});
    loader.start_epoch(torch::arange(8));
    DOCTEST_CHECK(loader.next().inputs.is_pinned() == pin);
    ClassificationStream stream{.size = 8};
    tt::data::IterableLoader stream_loader(stream, tt::data::DefaultDataCollator{}, 4);
    stream_loader.pin_memory(pin);
    stream_loader.start_epoch(0);
    DOCTEST_CHECK(stream_loader.next().value().inputs.is_pinned() == pin);
  }
}

DOCTEST_TEST_CASE("the Trainer trains on a stream for max_steps, restarting it each epoch; resuming repeats the run") {
  const auto folder = test_support::fresh_folder("stream_trainer");
  // 20 samples in batches of 4, two per step: windows of 2, 2 and 1 batches, 3 steps an epoch.
  const auto run = [&](const std::string& name, tt::ResumeFrom resume_from) {
    ClassificationStream stream;
    torch::manual_seed(5);
    torch::nn::Linear model(8, 3);
    tt::Trainer<> trainer(model,
                          {.output_dir = (folder / name).string(), .max_steps = 7, .per_device_train_batch_size = 4,
                           .gradient_accumulation_steps = 2, .save_steps = 2},
                          stream, tt::data::NoDataset{}, tt::loss::cross_entropy);
    DOCTEST_CHECK(trainer.train(resume_from).global_step == 7);
    // As in Python, an epoch of a stream counts max_steps x accumulation micro-batches.
    DOCTEST_CHECK(trainer.state().epoch == doctest::Approx(2 + 2.0 / 14));
    return std::pair(torch::cat({model->weight.flatten(), model->bias}), *stream.restarts);
  };
  const auto [weights, restarts] = run("whole", {});
  DOCTEST_CHECK((restarts == std::vector<std::int64_t>{0, 1, 2}));
  // Checkpoint 2 is inside epoch 0, 4 inside epoch 1 (after the stream ran out once), and
  // 6 at the end of epoch 1's batches, before the stream has said it has no more.
  for (const auto& [step, first_epoch] : {std::pair{2, 0}, std::pair{4, 1}, std::pair{6, 1}}) {
    DOCTEST_CAPTURE(step);
    const auto [resumed, resumed_restarts] =
        run(fmt::format("resumed_{}", step), folder / "whole" / fmt::format("checkpoint-{}", step));
    DOCTEST_CHECK(torch::equal(resumed, weights));
    DOCTEST_CHECK(resumed_restarts.front() == first_epoch);
    DOCTEST_CHECK(resumed_restarts.back() == 2);
  }
}

DOCTEST_TEST_CASE("a stream needs max_steps, and a stream that gives no batch is an error naming it") {
  torch::nn::Linear model(8, 3);
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<>(model, {}, ClassificationStream{}, tt::data::NoDataset{}, tt::loss::cross_entropy),
      doctest::Contains("the training set is a stream, which has no length, so --num_train_epochs cannot say how "
                        "long to train: set --max_steps"),
      tt::ArgumentError);
  tt::Trainer<> on_empty(model, {.max_steps = 3}, ClassificationStream{.size = 0}, tt::data::NoDataset{},
                         tt::loss::cross_entropy);
  DOCTEST_CHECK_THROWS_WITH_AS(on_empty.train(),
                               doctest::Contains("the training stream gave no batch of 8 samples in epoch 0"),
                               tt::data::DataError);
  tt::Trainer<> too_short(model, {.max_steps = 3, .dataloader_drop_last = true}, ClassificationStream{.size = 5},
                          tt::data::NoDataset{}, tt::loss::cross_entropy);
  DOCTEST_CHECK_THROWS_WITH_AS(too_short.train(), doctest::Contains("or drop --dataloader_drop_last"),
                               tt::data::DataError);
}

DOCTEST_TEST_CASE("a Trainer trains a language model on a collated JSON lines set, batches read by name") {
  std::string text;
  for (int i = 0; i < 24; ++i) {
    text += "{\"input_ids\": [";
    for (int t = 0; t < 3 + i % 5; ++t) text += fmt::format("{}{}", t ? ", " : "", 2 + (i + t) % 18);
    text += "]}\n";
  }
  auto dataset = tt::data::collate(tt::data::JsonLinesDataset(write_file("lm.jsonl", text), {.labels = ""}),
                                   tt::data::DataCollatorForLanguageModeling{.mlm = false});
  TinyLanguageModel model;
  tt::Trainer<> trainer(model, {.max_steps = 4, .per_device_train_batch_size = 4}, dataset, dataset,
                        tt::loss::cross_entropy);
  DOCTEST_CHECK(trainer.train().global_step == 4);
  DOCTEST_CHECK(std::isfinite(trainer.evaluate().at("eval_loss")));
  // The same lines as a stream: 6 batches an epoch, so 8 steps restart it once.
  tt::Trainer<> streaming(model, {.max_steps = 8, .per_device_train_batch_size = 4},
                          tt::data::collate(tt::data::JsonLinesStream(write_file("lm_stream.jsonl", text), {.labels = ""}),
                                            tt::data::DataCollatorForLanguageModeling{.mlm = false}),
                          dataset, tt::loss::cross_entropy);
  DOCTEST_CHECK(streaming.train().global_step == 8);
  DOCTEST_CHECK(streaming.state().epoch == doctest::Approx(1 + 2.0 / 8));
}

// ---- text: sentencepiece and blocks ----

DOCTEST_TEST_CASE("SentencePieceTokenizer trains on a text, round-trips it, and loads its model again") {
  const auto folder = test_support::fresh_folder("sentencepiece");
  const auto corpus = "/usr/share/common-licenses/GPL-3";
  const auto tokenizer = tt::data::SentencePieceTokenizer::train(corpus, folder / "spm", {.vocab_size = 300});
  DOCTEST_CHECK(tokenizer.vocab_size() == 300);
  DOCTEST_CHECK(tokenizer.piece_id("<pad>") == 3);
  DOCTEST_CHECK(tokenizer.piece_id("<unk>") == 0);
  const std::string sentence = "This License applies to any program or other work.";
  const auto ids = tokenizer.encode(sentence);
  DOCTEST_CHECK(ids.size() > 3);
  DOCTEST_CHECK(ids.size() < sentence.size());  // pieces, not characters
  DOCTEST_CHECK(tokenizer.decode(ids) == sentence);
  const auto loaded = tt::data::SentencePieceTokenizer::load(folder / "spm.model");
  DOCTEST_CHECK((loaded.encode(sentence) == ids));

  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::SentencePieceTokenizer::load(folder / "none.model"),
                               doctest::Contains("none.model': no such file; train one"), tt::data::DataError);
  const auto not_a_model = write_file("not_a.model", "plain text\n");
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::SentencePieceTokenizer::load(not_a_model),
                               doctest::Contains("spm_export_vocab failed"), tt::data::DataError);
}

DOCTEST_TEST_CASE("text_blocks cuts the tokenized text into equal blocks, inputs equal to labels") {
  // A tokenizer that makes one id per byte: the blocks can be checked by hand.
  struct Bytes {
    std::vector<int> encode(std::string_view text) const { return {text.begin(), text.end()}; }
  };
  const auto file = write_file("blocks.txt", "abcdefghij");
  const auto blocks = tt::data::text_blocks(file, Bytes{}, 3);
  DOCTEST_REQUIRE(blocks.size() == 3);  // "abc", "def", "ghi"; the partial "j" is dropped
  const auto batch = blocks.get_batch(ids({1}));
  DOCTEST_CHECK(torch::equal(batch.inputs, ids({'d', 'e', 'f'}).view({1, 3})));
  DOCTEST_CHECK(torch::equal(batch.labels, batch.inputs));
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::text_blocks(file, Bytes{}, 11),
                               doctest::Contains("has 10 tokens, fewer than one block of 11"), tt::data::DataError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::text_blocks(file, Bytes{}, 0), "the block size is 0; it must be at least 1",
                               tt::data::DataError);
}

DOCTEST_TEST_CASE("causal_lm_cross_entropy scores the logits at t against the label at t + 1") {
  torch::manual_seed(3);
  const auto logits = torch::randn({2, 5, 7});
  tt::data::Batch batch{torch::zeros({2, 5}, torch::kLong), torch::randint(7, {2, 5}, torch::kLong)};
  batch.labels[0][4] = tt::loss::ignore_index;
  const auto expected = torch::nn::functional::cross_entropy(
      logits.slice(1, 0, 4).reshape({8, 7}), batch.labels.slice(1, 1).reshape({8}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(tt::loss::ignore_index));
  const auto loss = tt::loss::causal_lm_cross_entropy(logits, batch).item<double>();
  DOCTEST_CHECK(loss == doctest::Approx(expected.item<double>()));
  const auto summed = tt::loss::causal_lm_cross_entropy(logits, batch, torch::tensor(7.0)).item<double>();
  DOCTEST_CHECK(summed == doctest::Approx(expected.item<double>()));  // 7 labels count after the shift
}

}  // DOCTEST_TEST_SUITE

}  // namespace data_pipeline_tests
