// TrainingData: the training set of a run, its order (shuffled, sharded, grouped by length) and where the run stands in it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/collated_stream.hpp>
#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/distributed_sampler.hpp>
#include <torchtrain/data/iterable_dataset.hpp>
#include <torchtrain/data/length_grouped_sampler.hpp>
#include <torchtrain/data/loader_setup.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/trainer/training_plan.hpp>

namespace torchtrain {

namespace detail {
// The loader of a training set: DataLoader for a dataset with a size, IterableLoader for a stream.
template <class D>
struct TrainLoaderOf {
  using type = data::DataLoader<D>;
};
template <class D, class C>
struct TrainLoaderOf<data::CollatedStream<D, C>> {
  using type = data::IterableLoader<D, C>;
};
}  // namespace detail

/// Where the next training batch comes from.
struct EpochPosition {
  int epoch = 0;
  std::int64_t batches_taken = 0;  // micro-batches of the epoch trained on (or skipped)
};

/// The training set and its loader. A dataset with a size is read in the seeded random
/// order (or in order, with --train_sampling_strategy sequential; grouped by length with
/// group_by_length; or in the order of the user's sampler), each process its shard
/// (PyTorch's DistributedSampler), and a resumed epoch skips batches by index without
/// loading them. A stream is read in order on the
/// training thread, each process taking its share, and a resumed epoch reads past what it
/// skips. This is the one place that tells them apart.
template <class TrainDataset>
class TrainingData {
  static constexpr bool streaming = data::is_collated_stream<TrainDataset>;
  using Loader = typename detail::TrainLoaderOf<TrainDataset>::type;

 public:
  using Batch = typename Loader::Batch;

  explicit TrainingData(TrainDataset dataset) : dataset_(std::move(dataset)) {}

  /// Arguments this training set cannot serve, before anything is trained.
  void check(const TrainingArguments& args) const {
    if (!data::HasSampleLengths<TrainDataset> && args.train_sampling_strategy == TrainSamplingStrategy::group_by_length)
      throw ArgumentError("--train_sampling_strategy group_by_length needs the length of each training sample: give "
                          "the dataset a lengths() member (one length per sample), or use another strategy");
    if constexpr (streaming) plan_streaming(args, 1);  // fails now if --max_steps is missing
  }

  /// How the loader of the next run is made: the arguments' options, changed by the user's
  /// customization (Trainer::set_train_dataloader) when there is one.
  void set_customization(data::LoaderCustomization customize) { customize_ = std::move(customize); }

  /// Decides the loader of a run (options and sampler) before it is planned.
  void prepare(const TrainingArguments& args, torch::Device device) {
    setup_ = {data::loader_options(args, args.per_device_train_batch_size, args.dataloader_drop_last, device), {}};
    if (!customize_) return;
    customize_(setup_);
    if (setup_.options.batch_size != args.per_device_train_batch_size ||
        setup_.options.drop_last != args.dataloader_drop_last)
      throw ArgumentError(fmt::format("set_train_dataloader changed the batch size or drop_last ({}, {} instead of {}, "
                                      "{}): the plan, the logs and checkpoints count them, so set "
                                      "--per_device_train_batch_size and --dataloader_drop_last instead",
                                      setup_.options.batch_size, setup_.options.drop_last,
                                      args.per_device_train_batch_size, args.dataloader_drop_last));
    if (setup_.sampler && streaming)
      throw ArgumentError("set_train_dataloader gave a sampler, but the training set is a stream, read in order; "
                          "give a dataset with a size, or no sampler");
    if (setup_.sampler && args.train_sampling_strategy != TrainSamplingStrategy::random)
      throw ArgumentError(fmt::format("set_train_dataloader gave a sampler, and --train_sampling_strategy {} asks for "
                                      "another order; drop one of them",
                                      detail::format_value(args.train_sampling_strategy)));
  }

  /// The steps and epochs of a run; with several processes each trains on its shard of every global batch.
  TrainingPlan plan(const TrainingArguments& args, int accumulation_steps, int world_size, int rank) const {
    if constexpr (streaming) {
      return plan_streaming(args, accumulation_steps);
    } else {
      const std::int64_t size = data::dataset_size(dataset_);
      // A sampler of the user's may visit a number of samples other than the dataset's.
      const std::int64_t visited = setup_.sampler ? setup_.sampler.order(size, 0).size(0) : size;
      return plan_training(args, sampler(args, world_size, rank).num_samples(visited), accumulation_steps);
    }
  }

  /// The examples as Python announces them (a stream's: the samples of max_steps global batches).
  std::int64_t num_examples(const TrainingPlan& plan, int world_size) const {
    if constexpr (streaming)
      return plan.num_samples * world_size;
    else
      return data::dataset_size(dataset_);
  }

  /// A fresh loader and order for a run, from the first batch.
  void begin(const TrainingArguments& args, const TrainingPlan& plan, int world_size, int rank) {
    const auto& options = setup_.options;
    position = {};
    sampler_ = sampler(args, world_size, rank);
    // As Python, megabatches span the samples of one optimizer step.
    if constexpr (data::HasSampleLengths<TrainDataset>)
      if (args.train_sampling_strategy == TrainSamplingStrategy::group_by_length)
        length_sampler_ = data::LengthGroupedSampler{data::sample_lengths(dataset_),
                                                     std::int64_t{args.per_device_train_batch_size} * plan.accumulation_steps,
                                                     args.data_seed.value_or(args.seed)};
    if constexpr (streaming) {
      // Python's worker processes would each read all of a stream unless it splits itself.
      if (options.num_workers > 0)
        message(LogLevel::warning, "--dataloader_num_workers {}: a training stream is read in order on the training "
                "thread, without workers", options.num_workers);
      loader_.emplace(dataset_.stream(), dataset_.collator(), options.batch_size, options.drop_last,
                      args.data_seed.value_or(args.seed));
      loader_->shard(world_size, rank);
      loader_->pin_memory(options.pin_memory);
    } else {
      loader_.emplace(dataset_, options);
    }
  }

  /// Begins `epoch` at `position.batches_taken` (0 unless the run resumed into it).
  void start_epoch(int epoch) {
    const std::int64_t first_batch = epoch == position.epoch ? position.batches_taken : 0;
    if constexpr (streaming) {
      loader_->start_epoch(epoch);
      loader_->skip(first_batch);
    } else {
      const std::int64_t size = data::dataset_size(dataset_);
      loader_->start_epoch(setup_.sampler    ? sampler_.shard(setup_.sampler.order(size, epoch))
                           : length_sampler_ ? sampler_.shard(length_sampler_->order(size, epoch))
                                             : sampler_.order(size, epoch),
                           first_batch);
    }
    position = {epoch, first_batch};
  }

  /// Fills `window` with up to `size` micro-batches of the epoch on `device`; false at the epoch's end.
  bool next_window(std::vector<Batch>& window, int size, torch::Device device) {
    window.clear();
    while (static_cast<int>(window.size()) < size) {
      auto batch = next_batch();
      if (!batch) break;
      window.push_back(batch->to(device, /*non_blocking=*/true));
    }
    position.batches_taken = loader_->batches_taken();
    return !window.empty();
  }
  /// The share of the epoch read so far.
  double epoch_progress(const TrainingPlan& plan) const {
    return static_cast<double>(loader_->batches_taken()) / static_cast<double>(plan.batches_per_epoch);
  }

  /// Ends an epoch; unless training stops, a checkpoint from now on resumes with the next.
  void end_epoch(const TrainingArguments& args, bool training_stops) {
    if (position.batches_taken == 0)  // only a stream can come to this
      throw data::DataError(fmt::format("the training stream gave no batch of {} samples in epoch {}: it is empty, "
                                        "or does not start again at restart({}); check its source{}",
                                        args.per_device_train_batch_size, position.epoch, position.epoch,
                                        args.dataloader_drop_last ? " or drop --dataloader_drop_last" : ""));
    if (!training_stops) position = {position.epoch + 1, 0};
  }

  /// Where a run resumed at `global_step` stands, as Python reckons it from the step:
  /// exact for a dataset with a size; a stream's own saved position (which also counts
  /// the times it ran out) overrides it in resume_stream_at().
  void resume_at(int global_step, const TrainingPlan& plan) {
    position = {global_step / plan.updates_per_epoch,
                std::int64_t{global_step % plan.updates_per_epoch} * plan.accumulation_steps};
  }
  /// A stream resumes at the position its checkpoint saved (loop_state.pt), when there is one.
  void resume_stream_at(const std::optional<EpochPosition>& saved) {
    if constexpr (streaming)
      if (saved) position = *saved;
  }

  EpochPosition position;  // where the next batch comes from

 private:
  // The seeded random order (or the dataset's), and with several processes each one's shard of it.
  static data::DistributedSampler sampler(const TrainingArguments& args, int world_size, int rank) {
    return {.num_replicas = world_size, .rank = rank,
            .shuffle = args.train_sampling_strategy != TrainSamplingStrategy::sequential,
            .seed = args.data_seed.value_or(args.seed), .drop_last = false};
  }
  std::optional<Batch> next_batch() {
    if constexpr (streaming)
      return loader_->next();
    else
      return loader_->has_next() ? std::optional<Batch>(loader_->next()) : std::nullopt;
  }

  TrainDataset dataset_;
  data::DistributedSampler sampler_;                          // at world size 1, the RandomSampler's order
  std::optional<data::LengthGroupedSampler> length_sampler_;  // with --train_sampling_strategy group_by_length
  std::optional<Loader> loader_;                              // made by begin()
  data::LoaderCustomization customize_;                       // the user's, by Trainer::set_train_dataloader
  data::LoaderSetup setup_;                                   // made by prepare()
};

}  // namespace torchtrain
