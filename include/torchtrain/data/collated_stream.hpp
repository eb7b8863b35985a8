// CollatedStream: a stream of samples and the collator that batches it, as a training set for the Trainer.
#pragma once

#include <utility>

#include <torchtrain/data/collator.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/default_data_collator.hpp>
#include <torchtrain/data/iterable_dataset.hpp>

namespace torchtrain::data {

/// `stream`'s samples, to be batched by `collator` in stream order: what the Python
/// Trainer does with an IterableDataset and a `data_collator`. The Trainer takes it as its
/// training set (a bare stream gets DefaultDataCollator); it needs --max_steps, as a
/// stream has no length.
template <IterableDataset D, Collator C = DefaultDataCollator>
class CollatedStream {
 public:
  explicit CollatedStream(D stream, C collator = {}) : stream_(std::move(stream)), collator_(std::move(collator)) {}

  D& stream() { return stream_; }
  const C& collator() const { return collator_; }

 private:
  D stream_;
  C collator_;
};

/// `collate(JsonLinesStream("corpus.jsonl"), DataCollatorForLanguageModeling{.mlm = false})`.
template <IterableDataset D, Collator C>
CollatedStream<D, C> collate(D stream, C collator) {
  return CollatedStream<D, C>(std::move(stream), std::move(collator));
}

template <class D>
inline constexpr bool is_collated_stream = false;
template <class D, class C>
inline constexpr bool is_collated_stream<CollatedStream<D, C>> = true;

/// What the Trainer can train on: a dataset with a size, or a stream.
template <class D>
concept TrainingSet = Dataset<D> || IterableDataset<D> || is_collated_stream<D>;

namespace detail {
template <class D>
struct TrainingSetOf {
  using type = D;
};
template <IterableDataset D>
struct TrainingSetOf<D> {
  using type = CollatedStream<D>;
};
}  // namespace detail

/// The training set the Trainer keeps for `D`: a bare stream with DefaultDataCollator,
/// anything else as given.
template <class D>
using training_set_t = typename detail::TrainingSetOf<D>::type;

}  // namespace torchtrain::data
