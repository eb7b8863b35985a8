// Checkpoint speed: save and load throughput of about 100 MB of model and AdamW state next
// to `cp` of the same bytes on the same disk and `cat` of them (from the page cache, and from
// the disk with the files dropped from the page cache first), what one save holds the caller for (an
// AsyncCheckpoint's later saves, as a run sees them, and its first; copying at save() and beside
// the next step's forward and backward, as the Trainer asks), and the training time
// each save costs, synchronous versus asynchronous, side by side, on LibTorch's threads and on
// one fewer (a core free for the writer).
//
//   bench_checkpoint [--folder bench_checkpoint_data] [--rounds 5] [--steps 60] [--save_steps 10]
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#include "support.hpp"

namespace tt = torchtrain;
namespace fs = std::filesystem;

struct CheckpointBenchArguments {
  std::string folder = "bench_checkpoint_data";  // where checkpoints are written (the disk measured)
  int rounds = 5;                                 // alternating measurements; medians are reported
  int steps = 60;                                 // training steps per timed run
  int save_steps = 10;                            // a save every this many steps
};
TORCHTRAIN_REFLECT(CheckpointBenchArguments, folder, rounds, steps, save_steps);

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Drops the files of `folder` from the page cache (they are on disk: written and synced),
// so that the next read of them comes from the disk.
void drop_from_page_cache(const fs::path& folder) {
  for (const auto& entry : fs::directory_iterator(folder)) {
    const int file = ::open(entry.path().c_str(), O_RDONLY);
    if (file < 0 || ::posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED) != 0)
      throw std::runtime_error("cannot drop " + entry.path().string() + " from the page cache");
    ::close(file);
  }
}

// 4 layers of 1024 x 2048: 8.4 M parameters, 33.6 MB of weights, twice that of AdamW moments.
torch::nn::Sequential make_model() {
  torch::manual_seed(0);
  return torch::nn::Sequential(torch::nn::Linear(1024, 2048), torch::nn::ReLU(), torch::nn::Linear(2048, 1024),
                               torch::nn::ReLU(), torch::nn::Linear(1024, 2048), torch::nn::ReLU(),
                               torch::nn::Linear(2048, 1024));
}

std::uintmax_t folder_bytes(const fs::path& folder) {
  std::uintmax_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    if (entry.is_regular_file()) bytes += entry.file_size();
  return bytes;
}

// A checkpoint of the model and an AdamW that has taken a step: the optimizer's state as
// Python's state dict, which write_checkpoint serializes into optimizer.pt.
tt::Checkpoint make_checkpoint(torch::nn::Sequential& model, torch::optim::AdamW& optimizer) {
  tt::Checkpoint checkpoint;
  checkpoint.model = tt::state_dict(*model);
  checkpoint.optimizer_state = tt::optim::python_state_dict(optimizer, {});
  checkpoint.trainer_state = "{}";
  return checkpoint;
}

template <class Checkpointer>
double train_seconds_with(const CheckpointBenchArguments& options, const tt::data::TensorDataset& data,
                          const fs::path& output_dir) {
  fs::remove_all(output_dir);
  auto model = make_model();
  tt::TrainingArguments args{.output_dir = output_dir.string(),
                             .max_steps = options.steps,
                             .per_device_train_batch_size = 8,
                             .logging_strategy = tt::IntervalStrategy::no,
                             .save_steps = static_cast<double>(options.save_steps),
                             .save_total_limit = 2};
  tt::Trainer<bench::SilentLogger, Checkpointer> trainer(model, args, data, tt::data::NoDataset{},
                                                             tt::loss::mean_squared_error);
  const auto start = Clock::now();
  trainer.train();  // returns once every checkpoint is on disk
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  auto [options] = tt::parse_args<CheckpointBenchArguments>(argc, argv);
  const fs::path root = fs::absolute(options.folder);
  fs::remove_all(root);
  fs::create_directories(root);

  auto model = make_model();
  torch::optim::AdamW optimizer(model->parameters());
  model->forward(torch::randn({8, 1024})).square().mean().backward();
  optimizer.step();
  const auto checkpoint = make_checkpoint(model, optimizer);

  std::vector<double> save, load, load_from_disk, copy, read, read_from_disk, held_first, held, held_beside_first,
      held_beside;
  double megabytes = 0;
  for (int round = 0; round < options.rounds; ++round) {
    const auto saved = root / "checkpoint-1";
    fs::remove_all(saved);
    auto start = Clock::now();
    tt::write_checkpoint(make_checkpoint(model, optimizer), saved);
    save.push_back(seconds_since(start));
    megabytes = static_cast<double>(folder_bytes(saved)) / 1e6;

    // Reading and loading (into the model's and optimizer's memory, as a resume does), first
    // from the disk, then from the page cache; `cat` of the files beside each.
    const auto read_and_load = [&] {
      const auto start = Clock::now();
      auto restored = tt::read_checkpoint(saved);
      tt::load_state_dict(*model, restored.model, "model.safetensors");
      tt::optim::load_optimizer_file(optimizer, restored.optimizer, "optimizer.pt");
      return seconds_since(start);
    };
    const auto cat = [&] {
      const auto start = Clock::now();
      if (std::system(fmt::format("cat '{}'/* > /dev/null", saved.string()).c_str()) != 0)
        throw std::runtime_error("cat failed");
      return seconds_since(start);
    };
    drop_from_page_cache(saved);
    read_from_disk.push_back(cat());
    drop_from_page_cache(saved);
    load_from_disk.push_back(read_and_load());
    read.push_back(cat());
    load.push_back(read_and_load());

    // The physical limits: the same files copied, and fsynced as ours are; and read.
    const auto copied = root / "copy";
    fs::remove_all(copied);
    start = Clock::now();
    const auto command = fmt::format("cp -r '{}' '{}' && sync '{}'/*", saved.string(), copied.string(), copied.string());
    if (std::system(command.c_str()) != 0) return 1;
    copy.push_back(seconds_since(start));

    // What an asynchronous save holds the training thread for. Copying at save(): the copy
    // of the state. Copying beside training (as the Trainer asks): save() and the wait
    // before the next optimizer step, with that step's forward and backward between them on
    // one thread, so that a core is free for the writer. A run's first save copies into new
    // memory, the later ones into the previous save's.
    for (const bool beside : {false, true}) {
      fs::remove_all(root / "async");
      tt::AsyncCheckpoint checkpointer;
      const int threads = torch::get_num_threads();
      torch::set_num_threads(1);
      for (int save = 1; save <= 3; ++save) {
        start = Clock::now();
        checkpointer.save(make_checkpoint(model, optimizer),
                          {.folder = root / "async" / fmt::format("checkpoint-{}", save), .copy_beside_training = beside});
        double held_for = seconds_since(start);
        model->forward(torch::randn({8, 1024})).square().mean().backward();  // the next step
        start = Clock::now();
        checkpointer.wait_for_copy();
        held_for += seconds_since(start);
        auto& row = beside ? (save == 1 ? held_beside_first : held_beside) : (save == 1 ? held_first : held);
        row.push_back(held_for);
        checkpointer.wait();  // written while a run would take its steps
      }
      torch::set_num_threads(threads);
    }
  }
  fmt::print("Checkpoint of {:.1f} MB (model {:.1f} MB + AdamW state), median of {} rounds, folder {}\n\n", megabytes,
             megabytes / 3, options.rounds, root.string());
  fmt::print("| operation                                        |   MB/s | vs cp | vs cat |\n");
  fmt::print("| ------------------------------------------------ | -----: | ----: | -----: |\n");
  const double cp_rate = megabytes / bench::median(copy);
  // "vs cat" compares with cat of the files in the same place: the disk or the page cache.
  const auto row = [&](const char* operation, double seconds, const std::vector<double>& cat_seconds) {
    const double rate = megabytes / seconds;
    fmt::print("| {:48} | {:6.0f} | {:5.2f} | {:6.2f} |\n", operation, rate, rate / cp_rate,
               rate / (megabytes / bench::median(cat_seconds)));
  };
  row("cp -r + sync of the same files", bench::median(copy), read_from_disk);
  row("write_checkpoint (serialize + fsync)", bench::median(save), read_from_disk);
  row("cat of the same files, from the disk", bench::median(read_from_disk), read_from_disk);
  row("read_checkpoint + load, from the disk", bench::median(load_from_disk), read_from_disk);
  row("cat of the same files, page cache", bench::median(read), read);
  row("read_checkpoint + load, page cache", bench::median(load), read);
  fmt::print("\n| one save, per checkpoint                             | seconds | / sync save |\n");
  fmt::print("| ---------------------------------------------------- | ------: | ----------: |\n");
  const auto hold_row = [&](const char* what, const std::vector<double>& seconds) {
    fmt::print("| {:52} | {:7.4f} | {:11.3f} |\n", what, bench::median(seconds), bench::median(seconds) / bench::median(save));
  };
  hold_row("write_checkpoint (a synchronous save)", save);
  hold_row("AsyncCheckpoint holds, copy at save(), later saves", held);
  hold_row("AsyncCheckpoint holds, copy at save(), first save", held_first);
  hold_row("AsyncCheckpoint holds, copy beside, later saves", held_beside);
  hold_row("AsyncCheckpoint holds, copy beside, first save", held_beside_first);
  fmt::print("\n");

  // Training time lost per save: the same run with no, synchronous and asynchronous saves,
  // on LibTorch's threads, then on one fewer (a core free for the writer).
  torch::manual_seed(1);
  tt::data::TensorDataset data(torch::randn({512, 1024}), torch::randn({512, 1024}));
  const int threads = torch::get_num_threads();
  const int saves = options.steps / options.save_steps;
  for (const int training_threads : {threads, threads - 1}) {
    if (training_threads < 1) break;
    torch::set_num_threads(training_threads);
    std::vector<double> none, sync, async;
    for (int round = 0; round < options.rounds; ++round) {
      none.push_back(train_seconds_with<tt::NoCheckpoint>(options, data, root / "none"));
      sync.push_back(train_seconds_with<tt::SyncCheckpoint>(options, data, root / "sync"));
      async.push_back(train_seconds_with<tt::AsyncCheckpoint>(options, data, root / "async"));
    }
    const double base = bench::median(none);
    fmt::print("{} training steps on {} of {} threads, a save every {} ({} saves), median of {} rounds\n\n",
               options.steps, training_threads, threads, options.save_steps, saves, options.rounds);
    fmt::print("| checkpointer     | run (s) | lost per save (s) | lost per save / sync |\n");
    fmt::print("| ---------------- | ------: | ----------------: | -------------------: |\n");
    const double sync_lost = (bench::median(sync) - base) / saves;
    const double async_lost = (bench::median(async) - base) / saves;
    fmt::print("| NoCheckpoint     | {:7.2f} |                   |                      |\n", base);
    fmt::print("| SyncCheckpoint   | {:7.2f} | {:17.3f} |                 1.00 |\n", bench::median(sync), sync_lost);
    fmt::print("| AsyncCheckpoint  | {:7.2f} | {:17.3f} | {:20.2f} |\n\n", bench::median(async), async_lost,
               async_lost / sync_lost);
  }
  torch::set_num_threads(threads);
  fs::remove_all(root);
}
