// DataLoader: the batches of an epoch in sampler order, loaded ahead by background threads (--dataloader_num_workers).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/detail/ordered_prefetch.hpp>

namespace torchtrain::data {

/// How a DataLoader batches and loads, from the Python TrainingArguments of the same names.
struct DataLoaderOptions {
  std::int64_t batch_size = 8;
  bool drop_last = false;                // --dataloader_drop_last
  int num_workers = 0;                   // --dataloader_num_workers; 0: next() loads the batch itself
  std::optional<int> prefetch_factor;    // --dataloader_prefetch_factor: batches per worker ahead (default 2)
  bool pin_memory = false;               // page-locked batches, for non-blocking copies to a CUDA device
};

/// The options the arguments give a loader of `batch_size` for batches going to `device`:
/// pinned only for a CUDA device, where pinning makes the copies non-blocking.
TORCHTRAIN_INLINE DataLoaderOptions loader_options(const TrainingArguments& args, std::int64_t batch_size,
                                                   bool drop_last, torch::Device device);

/// Batches of `dataset` over one epoch's `order` (from a Sampler): batch k holds the
/// samples at order[k b, (k + 1) b). With workers, batches are fetched ahead on background
/// threads, at most prefetch_factor per worker, and handed out in the same order as with
/// none: the training run is the same whatever the number of workers.
///
/// Requires: with workers, the dataset's get / get_batch may be called from several
/// threads at once (the ready-made datasets allow it) and must not draw from LibTorch's
/// global generator (a collator that draws gets its own seed per batch, see
/// CollatedDataset); the dataset outlives the loader.
template <Dataset D>
class DataLoader {
 public:
  using Batch = std::remove_cvref_t<decltype(fetch_batch(std::declval<D&>(), std::declval<const torch::Tensor&>()))>;

  DataLoader(D& dataset, DataLoaderOptions options) : dataset_(&dataset), options_(std::move(options)) {
    if (options_.batch_size < 1)
      throw ArgumentError(fmt::format("the batch size must be at least 1, got {}", options_.batch_size));
    if (options_.num_workers < 0)
      throw ArgumentError(fmt::format("--dataloader_num_workers must not be negative, got {}", options_.num_workers));
    if (options_.prefetch_factor && *options_.prefetch_factor < 1)
      throw ArgumentError(fmt::format("--dataloader_prefetch_factor must be at least 1, got {}",
                                      *options_.prefetch_factor));
  }

  /// Batches in an epoch of `num_samples` samples: the last one short, or dropped with drop_last.
  std::int64_t num_batches(std::int64_t num_samples) const {
    return options_.drop_last ? num_samples / options_.batch_size
                              : (num_samples + options_.batch_size - 1) / options_.batch_size;
  }

  /// Begins an epoch over `order` at batch `first_batch` (a resumed run skips batches by
  /// index, without loading them). Batches of an epoch left unfinished are dropped.
  void start_epoch(torch::Tensor order, std::int64_t first_batch = 0) {
    prefetch_.reset();  // joins the workers of the previous epoch before `order_` changes
    order_ = std::move(order).contiguous();
    next_ = first_batch;
    end_ = num_batches(order_.size(0));
    if (options_.num_workers > 0 && next_ < end_)
      prefetch_ = std::make_unique<detail::OrderedPrefetch<Batch>>(
          [this](std::int64_t batch) { return load(batch); }, next_, end_, options_.num_workers,
          options_.prefetch_factor.value_or(2));
  }

  bool has_next() const { return next_ < end_; }
  /// Batches taken (or skipped) since the epoch began.
  std::int64_t batches_taken() const { return next_; }

  /// The next batch of the epoch, on the CPU (pinned with pin_memory); rethrows what
  /// loading it threw.
  Batch next() {
    if (!has_next())
      throw std::out_of_range(fmt::format("DataLoader::next: the epoch's {} batches are all taken", end_));
    ++next_;
    return prefetch_ ? prefetch_->take() : load(next_ - 1);
  }

  const DataLoaderOptions& options() const { return options_; }

 private:
  Batch load(std::int64_t batch) const {
    auto indices = order_.slice(0, batch * options_.batch_size, (batch + 1) * options_.batch_size);
    auto loaded = fetch_batch(*dataset_, indices);
    if constexpr (requires { loaded.pin_memory(); })
      if (options_.pin_memory) return loaded.pin_memory();
    return loaded;
  }

  D* dataset_;
  DataLoaderOptions options_;
  torch::Tensor order_;
  std::int64_t next_ = 0, end_ = 0;
  std::unique_ptr<detail::OrderedPrefetch<Batch>> prefetch_;
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

namespace torchtrain::data {

TORCHTRAIN_INLINE DataLoaderOptions loader_options(const TrainingArguments& args, std::int64_t batch_size,
                                                   bool drop_last, torch::Device device) {
  return {.batch_size = batch_size,
          .drop_last = drop_last,
          .num_workers = args.dataloader_num_workers,
          .prefetch_factor = args.dataloader_prefetch_factor,
          .pin_memory = args.dataloader_pin_memory && device.is_cuda()};
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS
