// BackgroundWriter: records written by a thread of their own, so that the caller pays a move.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace torchtrain::io {

/// Writes records on a thread of its own. `push` moves a record into a queue: no
/// formatting and no system call on the caller's thread. The thread wakes at the first
/// record pushed into an empty queue, waits `latency` for more (default 0.1 s), and hands
/// them all at once to `sink.write(records)`: a record reaches the sink at most `latency`
/// after it was pushed, or at once when flush() asks. Records reach the sink in the order
/// pushed. At most `capacity` records wait (default 65536): a push beyond waits for the
/// thread, so a disk slower than the logs slows training instead of filling memory.
///
/// `Sink` is any movable type with `void write(std::vector<Record>&)`; only the thread
/// calls it. An exception the sink throws is kept and thrown again, as it was, by every
/// later push() and flush() on the caller's thread; nothing more is written after it. The
/// destructor writes what is queued and ends the thread; an error then, which it cannot
/// throw, it prints to stderr.
///
/// Why: a log written where the training thread logs it costs that thread the
/// formatting and a write() system call at every log, several percent of a small model's
/// step (docs/benchmarks.md, "Loggers").
template <class Record, class Sink>
class BackgroundWriter {
 public:
  explicit BackgroundWriter(Sink sink, std::chrono::milliseconds latency = std::chrono::milliseconds(100),
                            std::size_t capacity = 65536)
      : shared_(std::make_unique<Shared>(std::move(sink), latency, capacity)),
        thread_([shared = shared_.get()] { shared->run(); }) {}

  BackgroundWriter(BackgroundWriter&&) noexcept = default;
  BackgroundWriter& operator=(BackgroundWriter&& other) noexcept {
    if (this != &other) {
      stop();
      shared_ = std::move(other.shared_);
      thread_ = std::move(other.thread_);
    }
    return *this;
  }
  ~BackgroundWriter() { stop(); }

  /// Queues `record`, first waiting for room if `capacity` records wait. Throws the error
  /// the sink threw, if it threw one.
  void push(Record record) {
    std::unique_lock lock(shared_->mutex);
    shared_->throw_error();
    if (shared_->queue.size() >= shared_->capacity) {
      shared_->flush_requested = true;
      shared_->work.notify_one();
      shared_->written_up_to.wait(lock, [&] { return shared_->queue.size() < shared_->capacity || shared_->error; });
      shared_->throw_error();
    }
    const bool wakes = shared_->queue.empty();
    shared_->queue.push_back(std::move(record));
    ++shared_->pushed;
    lock.unlock();
    if (wakes) shared_->work.notify_one();  // the thread sleeps only while the queue is empty
  }

  /// Returns once every record pushed so far has been written. Throws the sink's error, if any.
  void flush() {
    std::unique_lock lock(shared_->mutex);
    const std::uint64_t target = shared_->pushed;
    shared_->flush_requested = true;
    shared_->work.notify_one();
    shared_->written_up_to.wait(lock, [&] { return shared_->written >= target || shared_->error; });
    shared_->throw_error();
  }

 private:
  struct Shared {
    Shared(Sink s, std::chrono::milliseconds l, std::size_t c)
        : sink(std::move(s)), latency(l), capacity(std::max<std::size_t>(c, 1)) {}

    void run() {
      std::vector<Record> batch;
      std::unique_lock lock(mutex);
      while (true) {
        work.wait(lock, [&] { return stopping || flush_requested || !queue.empty(); });
        // Gather what else comes within the latency, unless asked to write now.
        work.wait_for(lock, latency, [&] { return stopping || flush_requested; });
        flush_requested = false;
        batch.swap(queue);
        if (!batch.empty() && !error) {
          lock.unlock();
          std::exception_ptr failure;
          try {
            sink.write(batch);
          } catch (...) {
            failure = std::current_exception();
          }
          lock.lock();
          if (failure) error = failure;
        }
        written += batch.size();
        batch.clear();
        written_up_to.notify_all();
        if (stopping && queue.empty()) return;
      }
    }

    // Called with the mutex held.
    void throw_error() {
      if (!error) return;
      reported = true;
      std::rethrow_exception(error);
    }

    Sink sink;  // touched by the thread only
    const std::chrono::milliseconds latency;
    const std::size_t capacity;
    std::mutex mutex;
    std::condition_variable work;           // a record, a flush or the end
    std::condition_variable written_up_to;  // a batch written
    std::vector<Record> queue;
    std::uint64_t pushed = 0, written = 0;
    bool flush_requested = false, stopping = false, reported = false;
    std::exception_ptr error;
  };

  void stop() noexcept {
    if (!shared_) return;
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stopping = true;
    }
    shared_->work.notify_one();
    thread_.join();
    if (shared_->error && !shared_->reported) {
      try {
        std::rethrow_exception(shared_->error);
      } catch (const std::exception& failure) {
        std::fprintf(stderr, "torchtrain error: %s\n", failure.what());
      } catch (...) {
        std::fprintf(stderr, "torchtrain error: a background writer failed\n");
      }
    }
    shared_.reset();
  }

  std::unique_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace torchtrain::io
