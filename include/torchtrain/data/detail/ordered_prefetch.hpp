// OrderedPrefetch: background threads making a numbered sequence of items ahead of use, handed out in order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace torchtrain::data::detail {

/// Makes items first, first + 1, ..., end - 1 with `make(k)` on `num_workers` threads and
/// hands them out in that order, whatever order they finish in. As PyTorch's DataLoader
/// does, worker w makes items first + w, first + w + W, ... (W workers) and item k is taken
/// from worker (k - first) mod W, so the sequence never depends on thread timing. Each
/// worker reserves a place before it makes an item and holds at most `capacity` items
/// made or being made and not yet taken: memory stays bounded however slow the consumer.
/// An exception thrown by `make` is thrown again by the take() of that item, and by every
/// take() after it (the worker that threw has stopped).
template <class T>
class OrderedPrefetch {
 public:
  OrderedPrefetch(std::function<T(std::int64_t)> make, std::int64_t first, std::int64_t end, int num_workers,
                  int capacity)
      : make_(std::move(make)), first_(first), next_(first), end_(end), capacity_(capacity) {
    for (int w = 0; w < num_workers; ++w) lanes_.push_back(std::make_unique<Lane>());
    for (int w = 0; w < num_workers; ++w) threads_.emplace_back([this, w] { work(w); });
  }
  ~OrderedPrefetch() {
    for (auto& lane : lanes_) {
      {
        std::lock_guard lock(lane->mutex);
        lane->stopping = true;
      }
      lane->changed.notify_all();
    }
    for (auto& thread : threads_) thread.join();
  }
  OrderedPrefetch(const OrderedPrefetch&) = delete;
  OrderedPrefetch& operator=(const OrderedPrefetch&) = delete;

  bool done() const { return next_ >= end_; }

  /// The next item in order; waits for its worker to make it.
  T take() {
    if (failure_) std::rethrow_exception(failure_);
    Lane& lane = *lanes_[static_cast<std::size_t>((next_ - first_) % static_cast<std::int64_t>(lanes_.size()))];
    std::unique_lock lock(lane.mutex);
    lane.changed.wait(lock, [&] { return !lane.items.empty(); });
    auto item = std::move(lane.items.front());
    lane.items.pop_front();
    --lane.reserved;
    lock.unlock();
    lane.changed.notify_all();
    ++next_;
    if (auto* error = std::get_if<std::exception_ptr>(&item)) {
      failure_ = *error;
      std::rethrow_exception(failure_);
    }
    return std::move(std::get<T>(item));
  }

 private:
  struct Lane {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::variant<T, std::exception_ptr>> items;
    int reserved = 0;  // items in `items` or being made
    bool stopping = false;
  };

  void work(int w) {
    Lane& lane = *lanes_[static_cast<std::size_t>(w)];
    for (std::int64_t k = first_ + w; k < end_; k += static_cast<std::int64_t>(lanes_.size())) {
      {
        std::unique_lock lock(lane.mutex);
        lane.changed.wait(lock, [&] { return lane.stopping || lane.reserved < capacity_; });
        if (lane.stopping) return;
        ++lane.reserved;
      }
      std::variant<T, std::exception_ptr> item;
      bool failed = false;
      try {
        item = make_(k);
      } catch (...) {
        item = std::current_exception();
        failed = true;
      }
      {
        std::lock_guard lock(lane.mutex);
        lane.items.push_back(std::move(item));
      }
      lane.changed.notify_all();
      if (failed) return;  // the consumer stops at this item
    }
  }

  std::function<T(std::int64_t)> make_;
  std::int64_t first_, next_, end_;
  int capacity_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::thread> threads_;
  std::exception_ptr failure_;  // the error take() threw, if any
};

}  // namespace torchtrain::data::detail
