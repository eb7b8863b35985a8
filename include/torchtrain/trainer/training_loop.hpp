// TrainingLoop: the Python Trainer's train(), evaluate() and predict(), with every type known at compile time.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <boost/hana/prepend.hpp>
#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <ATen/Context.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/arguments/training_arguments_json.hpp>
#include <torchtrain/arguments/validate.hpp>
#include <torchtrain/callbacks/default_flow.hpp>
#include <torchtrain/callbacks/events.hpp>
#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/random_state.hpp>
#include <torchtrain/checkpoint/resume_from.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/data/collated_stream.hpp>
#include <torchtrain/data/csv.hpp>
#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/distributed_sampler.hpp>
#include <torchtrain/data/iterable_dataset.hpp>
#include <torchtrain/data/length_grouped_sampler.hpp>
#include <torchtrain/data/named_datasets.hpp>
#include <torchtrain/data/random_sampler.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/archive_bytes.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/io/torch_pickle.hpp>
#include <torchtrain/io/trainer_state_json.hpp>
#include <torchtrain/io/training_plot.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/metrics/preprocess_logits.hpp>
#include <torchtrain/nn/checkpoint.hpp>
#include <torchtrain/nn/neftune_embedding.hpp>
#include <torchtrain/nn/parameter_count.hpp>
#include <torchtrain/optim/clip_grad_norm.hpp>
#include <torchtrain/optim/optimizers.hpp>
#include <torchtrain/optim/python_state_dict.hpp>
#include <torchtrain/optim/schedulers.hpp>
#include <torchtrain/optim/zero_grad.hpp>
#include <torchtrain/policies/logger/report_to.hpp>
#include <torchtrain/trainer/detail/any_dataset.hpp>
#include <torchtrain/trainer/detail/forward.hpp>
#include <torchtrain/trainer/detail/main_input.hpp>
#include <torchtrain/trainer/evaluation_loop.hpp>
#include <torchtrain/trainer/loss_sum.hpp>
#include <torchtrain/trainer/memory_metrics.hpp>
#include <torchtrain/trainer/prediction_output.hpp>
#include <torchtrain/trainer/results_files.hpp>
#include <torchtrain/trainer/set_seed.hpp>
#include <torchtrain/trainer/training_plan.hpp>

namespace torchtrain {

/// Makes the optimizer of a run from the model and the arguments (see Trainer::set_optimizer_factory).
using OptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(torch::nn::Module&, const TrainingArguments&)>;

namespace detail {

/// What a Trainer offers, whatever its model, data and callback types, which only the
/// TrainingLoop behind it knows. Crossing this interface costs one virtual call per
/// train(), evaluate() or predict(), never one per step.
class TrainerInterface {
 public:
  virtual ~TrainerInterface() = default;
  virtual TrainOutput train(const ResumeFrom& resume_from_checkpoint) = 0;
  virtual Metrics evaluate(std::string_view metric_key_prefix) = 0;
  virtual Metrics evaluate(const AnyDataset& dataset, std::string_view metric_key_prefix) = 0;
  virtual PredictionOutput predict(const AnyDataset& dataset, std::string_view metric_key_prefix) = 0;
  virtual void set_preprocess_logits_for_metrics(PreprocessLogits preprocess) = 0;
  virtual void log_metrics(std::string_view split, const Metrics& metrics) = 0;
  virtual void save_metrics(std::string_view split, const Metrics& metrics) = 0;
  virtual void save_model(const std::filesystem::path& folder) = 0;
  virtual void load_model(const std::filesystem::path& folder) = 0;
  virtual void save_state() = 0;
  virtual const TrainerState& state() const = 0;
  virtual const TrainingArguments& args() const = 0;
  virtual void set_optimizers(std::unique_ptr<torch::optim::Optimizer> optimizer,
                              std::optional<optim::LRScheduler> scheduler) = 0;
  virtual void set_optimizer_factory(OptimizerFactory factory) = 0;
};

// The loader of a training set: DataLoader for a dataset with a size, IterableLoader for a stream.
template <class D>
struct TrainLoaderOf {
  using type = data::DataLoader<D>;
};
template <class D, class C>
struct TrainLoaderOf<data::CollatedStream<D, C>> {
  using type = data::IterableLoader<D, C>;
};

inline double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

}  // namespace detail

/// The loop of one Trainer. `Policies` is a PolicySet; the callbacks tuple runs after
/// the built-in DefaultFlow. Users meet it through Trainer, not by name.
template <class Policies, class Model, class TrainDataset, class EvalDataset, class Loss,
          class Compute, class Callbacks>
class TrainingLoop final : public detail::TrainerInterface {
  static_assert(check_callbacks<TrainingObjects<Model>>(static_cast<Callbacks*>(nullptr)));
  using Clock = std::chrono::steady_clock;
  static constexpr bool has_eval_dataset = !std::is_same_v<EvalDataset, data::NoDataset>;
  static constexpr bool has_compute_metrics = !std::is_same_v<Compute, NoMetrics>;
  static constexpr bool streaming = data::is_collated_stream<TrainDataset>;
  using TrainLoader = typename detail::TrainLoaderOf<TrainDataset>::type;
  using Batch = typename TrainLoader::Batch;
  using Outputs = std::remove_cvref_t<decltype(detail::forward(std::declval<Model&>(), std::declval<const Batch&>()))>;
  static constexpr bool loss_counts_items = loss::CountsItems<Loss, Outputs, Batch>;

 public:
  using Precision = typename Policies::precision;
  using Accumulation = typename Policies::accumulation;
  using Strategy = typename Policies::strategy;
  using Checkpointer = typename Policies::checkpointer;
  using Logger = typename Policies::logger;

  TrainingLoop(Model model, TrainingArguments args, TrainDataset train_dataset,
               EvalDataset eval_dataset, Loss loss, Compute compute_metrics, Callbacks callbacks)
      : model_(std::move(model)),
        args_(std::move(args)),
        train_dataset_(std::move(train_dataset)),
        eval_dataset_(std::move(eval_dataset)),
        loss_(std::move(loss)),
        compute_metrics_(std::move(compute_metrics)),
        callbacks_(boost::hana::prepend(std::move(callbacks), DefaultFlow{})),
        memory_(args_.skip_memory_metrics) {
    memory_.start("init");
    derive_defaults(args_);
    check_arguments();
    tokens_seen_ = *detail::parse_value<TokensSeen>(args_.include_num_input_tokens_seen);  // validated
    if (args_.full_determinism)
      enable_full_determinism(args_.seed);
    else
      set_seed(args_.seed);
    nn::set_gradient_checkpointing(*model_, args_.gradient_checkpointing);
    apply_label_smoothing();
    if (args_.neftune_noise_alpha && nn::set_neftune_noise_alpha(*model_, 0) == 0)
      throw ArgumentError("--neftune_noise_alpha adds noise to the model's input embeddings, but the model has no "
                          "tt::nn::NEFTuneEmbedding; use one (a drop-in torch::nn::Embedding) for its input embedding");
    strategy_.setup(model_, args_);
    loss_since_log_ = LossSum(LossSum::where_for(strategy_.device()));
    precision_.setup(strategy_.device());
    apply_tf32();
    set_process_flags();
    set_verbosity(should_log() ? args_.log_level : args_.log_level_replica);
    if constexpr (requires { logger_.setup(args_); })
      if (strategy_.is_main_process()) logger_.setup(args_);
    Metrics none;  // init's metrics go with the first stage reported, as in Python
    memory_.stop_and_update("init", none);
    notify<event::on_init_end>();
  }

  void set_process_flags() {
    state_.is_world_process_zero = strategy_.is_main_process();
    state_.is_local_process_zero = strategy_.local_rank() == 0;
  }
  // As Python's should_log and should_save: each machine's first process logs at
  // log_level (--log_on_each_node, the default) or only rank 0 does; only rank 0 saves, or
  // each machine's first process too (--save_on_each_node, for machines that share no disk).
  bool should_log() const { return args_.log_on_each_node ? strategy_.local_rank() == 0 : strategy_.is_main_process(); }
  bool should_save() const {
    return args_.save_on_each_node ? strategy_.local_rank() == 0 : strategy_.is_main_process();
  }

  // --tf32 sets LibTorch's float32 precision for every backend and op ("tf32" or "ieee"),
  // as the Python Trainer sets torch.backends.fp32_precision; a backend's own setting, where
  // one was made, still wins. Asking for it without a CUDA device is an error there too.
  void apply_tf32() const {
    if (!args_.tf32) return;
    if (*args_.tf32 && !strategy_.device().is_cuda())
      throw ArgumentError("--tf32 needs a CUDA GPU (Ampere or newer); this run is on the CPU: drop --tf32");
    at::globalContext().setFloat32Precision(at::Float32Backend::GENERIC, at::Float32Op::ALL,
                                            *args_.tf32 ? at::Float32Precision::TF32 : at::Float32Precision::IEEE);
  }

  TrainOutput train(const ResumeFrom& resume_from_checkpoint) override {
    memory_.start("train");
    const auto plan = training_plan();
    begin_run(plan);
    // A resumed run continues where the checkpoint was taken, skipping the batches of the
    // current epoch that it already trained on (unless --ignore_data_skip).
    epoch_position_ = {};
    if (const auto folder = resume_from_checkpoint.folder(args_.output_dir)) {
      resume(*folder, plan);
      if (args_.ignore_data_skip) epoch_position_.batches_taken = 0;
    }
    announce_training(plan);
    // As in Python, NEFTune's noise is on for train() only.
    if (args_.neftune_noise_alpha) nn::set_neftune_noise_alpha(*model_, *args_.neftune_noise_alpha);
    auto loader = train_loader();
    train_start_ = Clock::now();
    initial_global_step_ = state_.global_step;
    initial_tokens_seen_ = state_.num_input_tokens_seen;
    control_.should_training_stop = false;
    in_train_ = true;
    notify<event::on_train_begin>();
    if constexpr (requires { logger_.on_train_begin(state_); })
      if (strategy_.is_main_process()) logger_.on_train_begin(state_);
    // A sanity check before the first step: like Python, it neither counts for the best
    // metric nor steps a plateau schedule.
    if constexpr (has_eval_dataset)
      if (args_.eval_on_start) evaluate_eval_datasets("eval");
    const EpochPosition first = epoch_position_;
    for (int epoch = first.epoch;
         epoch < plan.num_epochs && state_.global_step < plan.max_steps && !control_.should_training_stop; ++epoch)
      train_epoch(plan, epoch, epoch == first.epoch ? first.batches_taken : 0, loader);

    const double runtime = std::chrono::duration<double>(Clock::now() - train_start_).count();
    total_loss_ += read_loss_since_log();
    // Over every step of the run, a resumed one included (Python's covers this call's steps).
    const double train_loss = total_loss_ / std::max(state_.global_step, 1);
    const double samples = args_.max_steps > 0
                               ? static_cast<double>(plan.max_steps) * args_.per_device_train_batch_size *
                                     plan.accumulation_steps * strategy_.world_size()
                               : static_cast<double>(plan.num_samples) * strategy_.world_size() * args_.num_train_epochs;
    // As Python: the share of the planned samples and steps that this call trained.
    const int steps_trained = state_.global_step - initial_global_step_;
    store_flos();
    Metrics metrics{{"train_runtime", detail::round_to(runtime, 4)},
                    {"train_samples_per_second",
                     detail::round_to(samples * steps_trained / std::max(plan.max_steps, 1) / runtime, 3)},
                    {"train_steps_per_second", detail::round_to(steps_trained / runtime, 3)},
                    {"total_flos", state_.total_flos},
                    {"train_loss", train_loss}};
    memory_.stop_and_update("train", metrics);
    checkpointer_.wait();  // every checkpoint is on disk before train() returns
    strategy_.barrier("waiting for rank 0 to finish writing checkpoints");  // before any rank reads one
    if (args_.neftune_noise_alpha) nn::set_neftune_noise_alpha(*model_, 0);
    if (args_.load_best_model_at_end && state_.best_model_checkpoint) load_best_model();
    in_train_ = false;
    metrics = log(metrics);
    notify<event::on_train_end>();
    if (strategy_.is_main_process()) {
      if constexpr (requires { logger_.on_train_end(state_); }) logger_.on_train_end(state_);
      flush_logs();
      // A picture of the run, beside the checkpoints (and trainer_state.json once saved).
      std::filesystem::create_directories(args_.output_dir);
      io::write_training_plot(state_, std::filesystem::path(args_.output_dir) / Checkpoint::training_plot_file);
    }
    return {state_.global_step, train_loss, metrics};
  }

  Metrics evaluate(std::string_view metric_key_prefix) override {
    memory_.start("eval");
    cast_for_full_eval();
    if constexpr (has_eval_dataset) {
      auto metrics = evaluate_eval_datasets(metric_key_prefix);
      flush_logs();
      memory_.stop_and_update("eval", metrics);
      return metrics;
    } else {
      throw ArgumentError("evaluate() needs an eval dataset: pass one to the Trainer, or call evaluate(dataset)");
    }
  }
  Metrics evaluate(const detail::AnyDataset& dataset, std::string_view metric_key_prefix) override {
    dataset.check_batch_type<Batch>("evaluate(dataset)");
    memory_.start("eval");
    cast_for_full_eval();
    detail::TypedDataset<Batch> typed{dataset};
    auto metrics = evaluate_dataset(typed, metric_key_prefix);
    flush_logs();
    memory_.stop_and_update("eval", metrics);
    return metrics;
  }
  // As in Python, prediction logs nothing and tells callbacks through on_predict.
  PredictionOutput predict(const detail::AnyDataset& dataset, std::string_view metric_key_prefix) override {
    dataset.check_batch_type<Batch>("predict(dataset)");
    memory_.start("test");
    cast_for_full_eval();
    detail::TypedDataset<Batch> typed{dataset};
    auto output = run_evaluation(typed, metric_key_prefix, /*prediction=*/true);
    notify<event::on_predict>(output.metrics);
    flush_logs();
    memory_.stop_and_update("test", output.metrics);
    return output;
  }
  void set_preprocess_logits_for_metrics(PreprocessLogits preprocess) override {
    preprocess_logits_ = std::move(preprocess);
  }

  void log_metrics(std::string_view split, const Metrics& metrics) override {
    if (strategy_.is_main_process()) logger_.log_metrics(split, metrics);
  }
  void save_metrics(std::string_view split, const Metrics& metrics) override {
    if (strategy_.is_main_process()) torchtrain::save_metrics(args_.output_dir, split, metrics);
  }
  void save_model(const std::filesystem::path& folder) override {
    if (should_save()) {
      torchtrain::save_model(*model_, folder);
      io::replace_file(folder / Checkpoint::training_args_file, training_arguments_json(args_));
    }
    strategy_.barrier("waiting for rank 0 to save the model");
  }
  void load_model(const std::filesystem::path& folder) override { torchtrain::load_model(*model_, folder); }
  void save_state() override {
    if (!strategy_.is_main_process()) return;
    const std::filesystem::path output_dir = args_.output_dir;
    std::filesystem::create_directories(output_dir);
    io::replace_file(output_dir / Checkpoint::trainer_state_file, trainer_state_json(state_));
    io::write_training_plot(state_, output_dir / Checkpoint::training_plot_file);
  }

  const TrainerState& state() const override { return state_; }
  const TrainingArguments& args() const override { return args_; }

  void set_optimizers(std::unique_ptr<torch::optim::Optimizer> optimizer,
                      std::optional<optim::LRScheduler> scheduler) override {
    if (!optimizer && scheduler)
      throw ArgumentError("set_optimizers: a scheduler needs the optimizer it was made for");
    given_optimizer_ = std::move(optimizer);
    given_scheduler_ = std::move(scheduler);
  }
  void set_optimizer_factory(OptimizerFactory factory) override { optimizer_factory_ = std::move(factory); }
  Model& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  optim::LRScheduler& lr_scheduler() { return *scheduler_; }
  Precision& precision() { return precision_; }

 private:
  // One epoch: optimizer steps over windows of `accumulation_steps` micro-batches, the
  // last window short when the epoch's batches run out.
  void train_epoch(const TrainingPlan& plan, int epoch, std::int64_t first_batch, TrainLoader& loader) {
    start_epoch(loader, epoch, first_batch);
    control_.should_epoch_stop = false;
    notify<event::on_epoch_begin>();
    while (true) {
      // The whole window is fetched first, so that a token-level loss can be divided by
      // the number of labels in the window (the Python Trainer's num_items_in_batch).
      auto& window = window_;
      window.clear();
      while (static_cast<int>(window.size()) < plan.accumulation_steps) {
        auto batch = next_batch(loader);
        if (!batch) break;
        window.push_back(batch->to(strategy_.device(), /*non_blocking=*/true));
      }
      epoch_position_ = {epoch, loader.batches_taken()};
      if (window.empty()) break;
      control_.should_log = control_.should_evaluate = control_.should_save = false;
      notify<event::on_step_begin>();

      const auto num_items_in_batch = count_items(window);
      for (std::size_t i = 0; i < window.size(); ++i) {
        const bool last_of_window = i + 1 == window.size();
        count_input_tokens(window[i]);
        if constexpr (requires { detail::main_input(window[i]); })
          current_flos_ += 6.0 * static_cast<double>(detail::main_input(window[i]).numel()) *
                           static_cast<double>(non_embedding_parameters_);
        [[maybe_unused]] auto sync = strategy_.gradient_sync(/*enabled=*/last_of_window);
        loss_since_log_.add(training_step(window[i], static_cast<double>(window.size()), num_items_in_batch),
                            nan_inf_divisor());
        if (!last_of_window) notify<event::on_substep_end>();
      }
      optimizer_step();

      state_.global_step += 1;
      state_.epoch = epoch + static_cast<double>(loader.batches_taken()) / static_cast<double>(plan.batches_per_epoch);
      notify<event::on_step_end>();
      if constexpr (requires { logger_.on_step_end(state_); })
        if (strategy_.is_main_process()) logger_.on_step_end(state_);
      log_evaluate_save();
      if (control_.should_epoch_stop || control_.should_training_stop) break;
    }
    if (epoch_position_.batches_taken == 0)  // only a stream can come to this
      throw data::DataError(fmt::format("the training stream gave no batch of {} samples in epoch {}: it is empty, "
                                        "or does not start again at restart({}); check its source{}",
                                        args_.per_device_train_batch_size, epoch, epoch,
                                        args_.dataloader_drop_last ? " or drop --dataloader_drop_last" : ""));
    // A checkpoint taken from now on resumes with the next epoch.
    if (!control_.should_training_stop) epoch_position_ = {epoch + 1, 0};
    notify<event::on_epoch_end>();
    log_evaluate_save();
  }

  // Begins `epoch` at batch `first_batch`: a dataset skips by index without loading; a
  // stream has to read past the batches it skips.
  void start_epoch(TrainLoader& loader, int epoch, std::int64_t first_batch) {
    if constexpr (streaming) {
      loader.start_epoch(epoch);
      loader.skip(first_batch);
    } else {
      const std::int64_t size = data::dataset_size(train_dataset_);
      loader.start_epoch(length_sampler_ ? sampler_.shard(length_sampler_->order(size, epoch)) : sampler_.order(size, epoch),
                         first_batch);
    }
  }

  // The next micro-batch of the epoch, or nothing at its end.
  std::optional<Batch> next_batch(TrainLoader& loader) {
    if constexpr (streaming)
      return loader.next();
    else
      return loader.has_next() ? std::optional<Batch>(loader.next()) : std::nullopt;
  }

  // Forward and loss under the precision policy, then backward. A loss that counts items
  // divides its sum by the labels of the whole window; any other loss is divided by the
  // number of micro-batches in the window. Either way the window's gradient is the
  // gradient of one batch as large as the window.
  torch::Tensor training_step(const Batch& batch, double window_length, const torch::Tensor& num_items_in_batch) {
    if constexpr (requires { strategy_.synchronize_buffers(); }) strategy_.synchronize_buffers();
    auto loss = precision_.autocast([&] {
      if constexpr (loss_counts_items)
        if (num_items_in_batch.defined()) return loss_(detail::forward(model_, batch), batch, num_items_in_batch);
      return loss_(detail::forward(model_, batch), batch);
    });
    if (!num_items_in_batch.defined() && window_length > 1) loss = loss / window_length;
    // The count covers every process's labels, and DDP averages the gradients: undo that.
    if (num_items_in_batch.defined() && args_.average_tokens_across_devices && strategy_.world_size() > 1)
      loss = loss * strategy_.world_size();
    if (args_.torch_empty_cache_steps && state_.global_step % *args_.torch_empty_cache_steps == 0 &&
        strategy_.device().is_cuda())
      c10::getDeviceAllocator(c10::DeviceType::CUDA)->emptyCache();
    precision_.backward(loss);
    return loss.detach();
  }

  // The labels that count in a window (loss::count_items), when the loss divides by them; undefined
  // for a window of one micro-batch, whose mean loss is already exact.
  torch::Tensor count_items(const std::vector<Batch>& window) const {
    if constexpr (!loss_counts_items) {
      return {};
    } else {
      const bool across_devices = args_.average_tokens_across_devices && strategy_.world_size() > 1;
      if (window.size() == 1 && !across_devices) return {};
      auto count = loss::count_items(loss_, window.front());
      for (std::size_t i = 1; i < window.size(); ++i) count = count + loss::count_items(loss_, window[i]);
      // --average_tokens_across_devices: the labels of the global batch, as one large batch.
      return across_devices ? strategy_.reduce_sum(count) : count;
    }
  }

  // Unscale, clip, step, schedule, zero: in the Python Trainer's order.
  void optimizer_step() {
    precision_.unscale_gradients(*optimizer_);
    if (args_.max_grad_norm > 0) grad_norm_ = optim::clip_grad_norm(parameters_, args_.max_grad_norm);
    notify<event::on_pre_optimizer_step>();
    const bool stepped = precision_.optimizer_step(*optimizer_);
    notify<event::on_optimizer_step>();
    learning_rate_ = scheduler_->last_lr();  // the rate this step used
    if (stepped && !scheduler_->steps_on_metrics()) scheduler_->step();
    optim::zero_grad_set_to_none(*optimizer_);
  }

  // Acts on the control flags that the flow and the callbacks set.
  void log_evaluate_save() {
    if (control_.should_log && state_.global_step > last_logged_step_) log_training_progress();
    if (control_.should_evaluate) {
      if constexpr (has_eval_dataset) {
        auto metrics = evaluate_eval_datasets("eval");
        // As in Python, a plateau rule watches metric_for_best_model (default: loss).
        if (scheduler_->steps_on_metrics()) scheduler_->step(best_model_metric(metrics));
        if (update_best_metric(metrics) && args_.save_strategy == SaveStrategy::best) control_.should_save = true;
      }
      control_.should_evaluate = false;
    }
    if (control_.should_save) {
      save_checkpoint();
      control_.should_save = false;
      notify<event::on_save>();
    }
  }

  // Notes a new best metric_for_best_model (the Python `_determine_best_metric`); returns
  // whether this evaluation is the best so far. A NaN is never the best.
  bool update_best_metric(const Metrics& metrics) {
    if (!args_.metric_for_best_model) return false;
    const double value = best_model_metric(metrics);
    const bool greater = args_.greater_is_better.value_or(true);
    const double best = state_.best_metric.value_or(greater ? -INFINITY : INFINITY);
    if (!(greater ? value > best : value < best)) return false;
    state_.best_metric = value;
    state_.best_global_step = state_.global_step;
    return true;
  }

  // --bf16_full_eval and --fp16_full_eval: as Python, evaluation outside train() turns the
  // model itself to that type first, and leaves it so.
  void cast_for_full_eval() {
    if (in_train_ || !(args_.bf16_full_eval || args_.fp16_full_eval)) return;
    model_->to(args_.bf16_full_eval ? torch::kBFloat16 : torch::kFloat16);
  }

  // The value of metric_for_best_model (with "eval_" put in front, as Python does) in an
  // evaluation's metrics.
  double best_model_metric(const Metrics& metrics) const {
    std::string name = args_.metric_for_best_model.value_or("loss");
    if (!name.starts_with("eval_")) name = "eval_" + name;
    if (!metrics.contains(name)) {
      std::string names;
      for (const auto& [key, value] : metrics) names += (names.empty() ? "" : ", ") + key;
      throw ArgumentError(fmt::format("--metric_for_best_model {} names '{}', which evaluation does not return; "
                                      "it returns {}",
                                      args_.metric_for_best_model.value_or("loss"), name, names));
    }
    return metrics.at(name);
  }

  // Saves output_dir/checkpoint-<step> through the checkpointer (where should_save()).
  void save_checkpoint() {
    if constexpr (Checkpointer::writes_checkpoints) {
      const std::filesystem::path output_dir = args_.output_dir;
      // This checkpoint holds the best model when the evaluation just before it was the best.
      if (state_.best_global_step == state_.global_step)
        state_.best_model_checkpoint = checkpoint_folder(output_dir, state_.global_step).string();
      flush_logs();  // a checkpoint's logs are in the log files too
      message(LogLevel::info, "Saving model checkpoint to {}", checkpoint_folder(output_dir, state_.global_step).string());
      store_flos();  // as Python, the checkpoint's total_flos is up to date
      // Every process takes part: rank 0 writes each one's random state.
      auto rng_states = args_.save_only_model ? std::map<std::string, std::string>() : random_states();
      if (should_save())
        checkpointer_.save(snapshot(std::move(rng_states)), {checkpoint_folder(output_dir, state_.global_step),
                                                             args_.save_total_limit, state_.best_model_checkpoint});
    }
  }

  // Every process's random state by its file name in a checkpoint (see Checkpoint::rng_states),
  // on the processes that save (empty elsewhere); with several processes a collective that
  // every rank calls.
  std::map<std::string, std::string> random_states() {
    std::string own = save_random_state(args_.seed, strategy_.world_size() > 1);
    const int world = strategy_.world_size();
    if (world == 1) return {{Checkpoint::rng_state_file, std::move(own)}};
    const auto size = static_cast<std::int64_t>(own.size());
    const auto sizes = strategy_.gather_shards(torch::tensor({size}), world).cpu();
    const auto bytes = torch::from_blob(own.data(), {1, size}, torch::kUInt8);
    const auto all = strategy_.gather_shards(bytes, world).cpu();  // [world, the largest size]
    std::map<std::string, std::string> states;
    if (!should_save()) return states;  // it took part; the saving processes write them
    for (int rank = 0; rank < world; ++rank) {
      const auto row = all[rank].narrow(0, 0, sizes[rank].template item<std::int64_t>()).contiguous();
      states[Checkpoint::rng_state_file_name(rank, world)] =
          std::string(reinterpret_cast<const char*>(row.template data_ptr<std::uint8_t>()), static_cast<std::size_t>(row.numel()));
    }
    return states;
  }

  // The checkpoint of this moment, in memory, with the processes' random states.
  Checkpoint snapshot(std::map<std::string, std::string> rng_states) {
    Checkpoint checkpoint;
    checkpoint.model = state_dict(*model_);
    checkpoint.training_args = training_arguments_json(args_);
    // As in Python, the control is saved as a stateful callback.
    state_.stateful_callbacks["TrainerControl"] = fmt::format(
        R"({{"args": {{"should_epoch_stop": {}, "should_evaluate": {}, "should_log": {}, "should_save": {}, )"
        R"("should_training_stop": {}}}, "attributes": {{}}}})",
        control_.should_epoch_stop, control_.should_evaluate, control_.should_log, control_.should_save,
        control_.should_training_stop);
    save_callback_states();
    checkpoint.trainer_state = trainer_state_json(state_);
    checkpoint.training_plot = io::training_plot_svg(state_);
    if (args_.save_only_model) return checkpoint;
    // Python's state dicts, as torch.save writes them: the Python Trainer resumes from them.
    checkpoint.optimizer = optim::optimizer_file_bytes(*optimizer_, scheduler_->initial_lrs());
    checkpoint.scheduler = io::torch_save_bytes(scheduler_->state_dict());
    if constexpr (requires { precision_.scaler; })
      checkpoint.scaler = io::torch_save_bytes(precision_.scaler.state_dict());
    checkpoint.rng_states = std::move(rng_states);
    torch::serialize::OutputArchive loop_state;
    loss_since_log_.save(loop_state);
    loop_state.write("total_loss", c10::IValue(total_loss_));
    loop_state.write("last_logged_step", c10::IValue(static_cast<std::int64_t>(last_logged_step_)));
    loop_state.write("epoch", c10::IValue(static_cast<std::int64_t>(epoch_position_.epoch)));
    loop_state.write("epoch_batches_taken", c10::IValue(epoch_position_.batches_taken));
    checkpoint.loop_state = io::archive_bytes(loop_state);
    return checkpoint;
  }

  // Restores everything a checkpoint holds: weights, optimizer, schedule, loss scale,
  // trainer state, the running loss and the random state. The intervals and batch size
  // are this run's (a change from the checkpoint's is reported).
  void resume(const std::filesystem::path& folder, const TrainingPlan& plan) {
    const Checkpoint checkpoint = read_checkpoint(folder);
    const auto file = [&](const char* name) { return (folder / name).string(); };
    if (checkpoint.optimizer.empty())
      throw FileError(fmt::format("'{}' holds no optimizer state (it was saved with --save_only_model), so training "
                                  "cannot resume from it; load its weights with load_model() and train afresh",
                                  folder.string()));
    load_state_dict(*model_, checkpoint.model, file(Checkpoint::model_file));
    optim::load_optimizer_file(*optimizer_, checkpoint.optimizer, file(Checkpoint::optimizer_file));
    if (checkpoint.scheduler.empty())
      throw FileError(fmt::format("'{}' holds no {}; resume from a checkpoint saved with its optimizer state",
                                  folder.string(), Checkpoint::scheduler_file));
    scheduler_->load_state_dict(io::torch_load_bytes(checkpoint.scheduler, file(Checkpoint::scheduler_file)),
                                file(Checkpoint::scheduler_file));
    if constexpr (requires { precision_.scaler; })
      if (!checkpoint.scaler.empty())
        precision_.scaler.load_state_dict(io::torch_load_bytes(checkpoint.scaler, file(Checkpoint::scaler_file)),
                                          file(Checkpoint::scaler_file));
    TrainerState saved = trainer_state_from_json(checkpoint.trainer_state, file(Checkpoint::trainer_state_file));
    warn_if_changed("logging_steps", saved.logging_steps, state_.logging_steps);
    warn_if_changed("eval_steps", saved.eval_steps, state_.eval_steps);
    warn_if_changed("save_steps", saved.save_steps, state_.save_steps);
    warn_if_changed("per_device_train_batch_size", saved.train_batch_size, state_.train_batch_size);
    for (auto field : {&TrainerState::logging_steps, &TrainerState::eval_steps, &TrainerState::save_steps,
                       &TrainerState::train_batch_size, &TrainerState::max_steps, &TrainerState::num_train_epochs})
      saved.*field = state_.*field;
    state_ = saved;
    set_process_flags();
    // As in Python, callbacks start afresh on resume unless asked to take their saved state.
    if (args_.restore_callback_states_from_checkpoint) restore_callback_states(file(Checkpoint::trainer_state_file));
    if (state_.global_step > plan.max_steps)
      throw ArgumentError(fmt::format("'{}' is at step {}, past this run's {} steps; raise --max_steps or "
                                      "--num_train_epochs to train further",
                                      folder.string(), state_.global_step, plan.max_steps));
    // Where the epoch stood, as Python reckons it from the step: exact for a dataset with
    // a size; a stream's own position (which also counts the times it ran out) is below.
    epoch_position_ = {state_.global_step / plan.updates_per_epoch,
                       std::int64_t{state_.global_step % plan.updates_per_epoch} * plan.accumulation_steps};
    // A Python checkpoint has no loop state: as the Python Trainer, the running loss starts
    // again from the resumed step.
    if (checkpoint.from_python) {
      last_logged_step_ = state_.global_step;
    } else {
      io::read_archive(checkpoint.loop_state, file(Checkpoint::loop_state_file), [&](auto& archive) {
        loss_since_log_.load(archive, strategy_.device());
        c10::IValue value;
        archive.read("total_loss", value);
        total_loss_ = value.toDouble();
        archive.read("last_logged_step", value);
        last_logged_step_ = static_cast<int>(value.toInt());
        if constexpr (streaming) {
          c10::IValue epoch, batches_taken;
          if (archive.try_read("epoch", epoch) && archive.try_read("epoch_batches_taken", batches_taken))
            epoch_position_ = {static_cast<int>(epoch.toInt()), batches_taken.toInt()};
        }
      });
    }
    // This process's random state, as Python: a checkpoint of another number of processes
    // has none for it, and the random draws then differ from the interrupted run's.
    const auto rng_file = Checkpoint::rng_state_file_name(strategy_.rank(), strategy_.world_size());
    const auto rng_state = checkpoint.rng_states.find(rng_file);
    if (rng_state != checkpoint.rng_states.end() && checkpoint.from_python)
      message(LogLevel::warning,
              "'{}' is a Python Trainer's checkpoint: its {} holds Python's and NumPy's states, which LibTorch cannot "
              "read, so this process's random state is not restored and dropout and other random draws will not "
              "repeat the interrupted run's",
              folder.string(), rng_file);
    else if (rng_state != checkpoint.rng_states.end())
      load_random_state(rng_state->second, file(rng_file.c_str()));
    else
      message(LogLevel::warning,
              "'{}' holds no {} (it was saved by a run of another number of processes): this process's random "
              "state is not restored, so dropout and other random draws will not repeat the interrupted run's",
              folder.string(), rng_file);
  }

  void warn_if_changed(std::string_view name, int saved, int now) const {
    if (saved != now)
      message(LogLevel::warning, "--{} is {} in this run but was {} in the checkpoint; using {}", name, now, saved,
              now);
  }

  // --include_num_input_tokens_seen: the main input's elements (all), or the attention
  // mask's ones (non_padding), summed over the processes, as Python counts them.
  void count_input_tokens(const Batch& batch) {
    if (tokens_seen_ == TokensSeen::no) return;
    if constexpr (requires { detail::main_input(batch); }) {
      std::int64_t tokens = detail::main_input(batch).numel();
      if constexpr (requires { batch.attention_mask; })
        if (tokens_seen_ == TokensSeen::non_padding && batch.attention_mask.defined())
          tokens = batch.attention_mask.sum().template item<std::int64_t>();
      if (strategy_.world_size() > 1)
        tokens = strategy_.reduce_sum(torch::tensor({tokens}, torch::kLong).to(strategy_.device()))
                     .template item<std::int64_t>();
      state_.num_input_tokens_seen += tokens;
    }
  }

  // Adds the floating-point operations since the last call (of every process) to
  // total_flos, as Python's store_flos at each log, save and the end of training.
  void store_flos() {
    double flos = current_flos_;
    if (strategy_.world_size() > 1)
      flos = strategy_.reduce_sum(torch::tensor({flos}, torch::kDouble).to(strategy_.device())).template item<double>();
    state_.total_flos += flos;
    current_flos_ = 0;
  }

  // With --logging_nan_inf_filter, a NaN or infinite loss counts as the mean of the losses
  // since the last log, by Python's formula (see LossSum).
  std::optional<double> nan_inf_divisor() const {
    if (!args_.logging_nan_inf_filter) return std::nullopt;
    return 1.0 + state_.global_step - last_logged_step_;
  }

  // --label_smoothing_factor smooths the cross-entropy loss, as Python's LabelSmoother
  // (the same formula as LibTorch's label_smoothing), in training and evaluation.
  void apply_label_smoothing() {
    if (args_.label_smoothing_factor == 0) return;
    if constexpr (std::is_same_v<Loss, loss::CrossEntropy>) {
      if (loss_.label_smoothing != 0 && loss_.label_smoothing != args_.label_smoothing_factor)
        throw ArgumentError(fmt::format("--label_smoothing_factor {} and the loss's own label_smoothing {} differ; "
                                        "give one of them",
                                        args_.label_smoothing_factor, loss_.label_smoothing));
      loss_.label_smoothing = args_.label_smoothing_factor;
    } else {
      throw ArgumentError("--label_smoothing_factor smooths tt::loss::CrossEntropy, and this Trainer's loss is "
                          "another; pass tt::loss::cross_entropy as the loss, or smooth in your own loss");
    }
  }

  // What the Python Trainer logs at info level when training starts.
  void announce_training(const TrainingPlan& plan) const {
    if (LogLevel::info < verbosity()) return;
    std::int64_t trainable = 0;
    for (const auto& parameter : model_->parameters())
      if (parameter.requires_grad()) trainable += parameter.numel();
    // A stream's, as Python counts them: the samples of max_steps global batches.
    const std::int64_t num_examples = [&]() -> std::int64_t {
      if constexpr (streaming)
        return plan.num_samples * strategy_.world_size();
      else
        return data::dataset_size(train_dataset_);
    }();
    message(LogLevel::info,
            "***** Running training *****\n  Num examples = {}\n  Num Epochs = {}\n"
            "  Instantaneous batch size per device = {}\n"
            "  Total train batch size (w. parallel, distributed & accumulation) = {}\n"
            "  Gradient Accumulation steps = {}\n  Total optimization steps = {}\n"
            "  Number of trainable parameters = {}",
            num_examples, plan.num_epochs, args_.per_device_train_batch_size,
            std::int64_t{args_.per_device_train_batch_size} * plan.accumulation_steps * strategy_.world_size(),
            plan.accumulation_steps, plan.max_steps, trainable);
  }

  // Loads the weights of the best checkpoint, as --load_best_model_at_end asks.
  void load_best_model() {
    const std::filesystem::path folder = *state_.best_model_checkpoint;
    message(LogLevel::info, "Loading best model from {} (score: {}).", folder.string(),
            state_.best_metric.value_or(NAN));
    const Checkpoint best = read_checkpoint(folder, /*model_only=*/true);
    load_state_dict(*model_, best.model, (folder / Checkpoint::model_file).string());
    // With a limit of one, the newest checkpoint was kept beside the best only to resume from.
    if (args_.save_total_limit == 1 && should_save())
      for (const auto& other : sorted_checkpoints(args_.output_dir))
        if (!std::filesystem::equivalent(other, folder)) std::filesystem::remove_all(other);
  }

  // Returns once the logger has written every log so far (the loggers that write on a
  // thread of their own).
  void flush_logs() {
    if constexpr (requires { logger_.flush(); })
      if (strategy_.is_main_process()) logger_.flush();
  }

  // The sum of the step losses since the last log (averaged over processes), then resets it.
  double read_loss_since_log() {
    const auto& sum = loss_since_log_.sum();
    const double value = sum.defined() ? strategy_.reduce_mean(sum).template item<double>() : 0.0;
    loss_since_log_.reset();
    return value;
  }

  // Logs the mean step loss since the last log, the gradient norm and the learning rate.
  void log_training_progress() {
    const double loss_sum = read_loss_since_log();
    total_loss_ += loss_sum;
    Metrics logs{{"loss", loss_sum / (state_.global_step - last_logged_step_)}};
    if (grad_norm_.defined()) logs.set("grad_norm", strategy_.reduce_mean(grad_norm_).template item<double>());
    logs.set("learning_rate", learning_rate_);
    last_logged_step_ = state_.global_step;
    store_flos();
    log(logs, train_start_);
  }

  // The eval dataset, or each of the named ones under `<prefix>_<name>`, their metrics merged.
  Metrics evaluate_eval_datasets(std::string_view prefix) {
    if constexpr (data::is_named_datasets<EvalDataset>) {
      Metrics all;
      for (auto& [name, dataset] : eval_dataset_.datasets)
        for (const auto& [key, value] : evaluate_dataset(dataset, fmt::format("{}_{}", prefix, name)))
          all.set(key, value);
      return all;
    } else {
      return evaluate_dataset(eval_dataset_, prefix);
    }
  }

  // One evaluation, logged (which adds the epoch) and told to the callbacks.
  template <class Dataset>
  Metrics evaluate_dataset(Dataset& dataset, std::string_view prefix) {
    auto metrics = log(run_evaluation(dataset, prefix, /*prediction=*/false).metrics);
    control_.should_evaluate = false;
    notify<event::on_evaluate>(metrics);
    return metrics;
  }

  // The evaluation loop over `dataset`, as the arguments ask, with the prefixed metrics:
  // <prefix>_loss, compute_metrics' (a name that has the prefix keeps it), the speed.
  template <class Dataset>
  PredictionOutput run_evaluation(Dataset& dataset, std::string_view prefix, bool prediction) {
    const auto start = Clock::now();
    const std::int64_t size = data::dataset_size(dataset);
    if (size == 0)
      throw ArgumentError(fmt::format("{}() got an empty dataset: there is nothing to evaluate",
                                      prediction ? "predict" : "evaluate"));
    const detail::EvalLoopOptions options{.loader = loader_options(args_.per_device_eval_batch_size, /*drop_last=*/false),
                                          .device = strategy_.device(),
                                          .keep_outputs = !args_.prediction_loss_only,
                                          .keep_all_batches = !args_.batch_eval_metrics || prediction,
                                          .compute_per_batch = args_.batch_eval_metrics,
                                          .include_inputs = includes_for_metrics("inputs"),
                                          .include_losses = includes_for_metrics("loss"),
                                          .accumulation_steps = args_.eval_accumulation_steps,
                                          .concat_batches = args_.eval_do_concat_batches,
                                          .preprocess_logits = &preprocess_logits_,
                                          .order = strategy_.evaluation_shard(size),
                                          .world_size = strategy_.world_size(),
                                          .gather = [&](const torch::Tensor& shard, std::int64_t samples) {
                                            return strategy_.gather_shards(shard, samples);
                                          }};
    if (size < strategy_.world_size())
      throw ArgumentError(fmt::format("{}() got {} samples for {} processes: give every process at least one",
                                      prediction ? "predict" : "evaluate", size, strategy_.world_size()));
    // Every rank evaluates the model rank 0 would save, buffers included.
    if constexpr (requires { strategy_.synchronize_buffers(); }) strategy_.synchronize_buffers();
    const auto step = [&](const auto& batch) {
      return precision_.autocast([&] {
        auto outputs = detail::forward(model_, batch);
        std::pair<torch::Tensor, torch::Tensor> logits_and_loss;
        if constexpr (detail::HasLogits<decltype(outputs)>) logits_and_loss.first = detail::logits_of(outputs);
        // As Python, a counting loss divides by the batch's own count here too.
        if (batch.labels.defined()) {
          if constexpr (loss::CountsItems<Loss, decltype(outputs), std::remove_cvref_t<decltype(batch)>>)
            logits_and_loss.second = loss_(outputs, batch, loss::count_items(loss_, batch));
          else
            logits_and_loss.second = loss_(outputs, batch);
        }
        return logits_and_loss;
      });
    };
    auto output = detail::evaluation_loop(*model_, dataset, options, step, compute_metrics_,
                                          [&] { notify<event::on_prediction_step>(); });

    const std::string p(prefix);
    Metrics metrics;
    if (output.loss_sum.defined())
      metrics.set(p + "_loss", strategy_.reduce_sum(output.loss_sum).template item<double>() / size);
    if (output.metrics)
      for (const auto& [name, value] : *output.metrics)
        metrics.set(name.starts_with(p + "_") ? name : p + "_" + name, value);
    const double runtime = std::chrono::duration<double>(Clock::now() - start).count();
    metrics.set(p + "_runtime", detail::round_to(runtime, 4));
    metrics.set(p + "_samples_per_second", detail::round_to(size / runtime, 3));
    metrics.set(p + "_steps_per_second", detail::round_to(output.num_batches / runtime, 3));
    return {output.prediction.predictions, output.prediction.label_ids, std::move(metrics),
            std::move(output.prediction.batches)};
  }

  bool includes_for_metrics(std::string_view name) const {
    return std::ranges::find(args_.include_for_metrics, name) != args_.include_for_metrics.end();
  }

  // Adds the epoch, appends to log_history with the step, tells callbacks and the logger;
  // returns the logs with the epoch, as the Python Trainer's `log` leaves them.
  // With `start` (training logs), also the time since it and, when tokens are counted,
  // the tokens per second of this train().
  Metrics log(Metrics logs, std::optional<Clock::time_point> start = std::nullopt) {
    logs.set("epoch", state_.epoch);
    if (tokens_seen_ != TokensSeen::no) {
      logs.set("num_input_tokens_seen", static_cast<double>(state_.num_input_tokens_seen));
      if (start) {
        const double runtime = std::chrono::duration<double>(Clock::now() - *start).count();
        logs.set("train_runtime", detail::round_to(runtime, 4));
        logs.set("train_tokens_per_second",
                 detail::round_to(static_cast<double>(state_.num_input_tokens_seen - initial_tokens_seen_) / runtime, 3));
      }
    }
    Metrics entry = logs;
    entry.set("step", state_.global_step);
    state_.log_history.push_back(std::move(entry));
    control_.should_log = false;
    notify<event::on_log>(logs);
    if (strategy_.is_main_process()) logger_.log(logs, state_);
    return logs;
  }

  // With several processes, each trains on its shard of every global batch.
  TrainingPlan training_plan() const {
    if constexpr (streaming)
      return plan_streaming(args_, Accumulation::steps(args_));
    else
      return plan_training(args_, train_sampler().num_samples(data::dataset_size(train_dataset_)),
                           Accumulation::steps(args_));
  }

  // A stream is read in order on the training thread; Python's worker processes would
  // each read all of it unless the stream splits itself, so workers are not used for it.
  TrainLoader train_loader() {
    const auto options = loader_options(args_.per_device_train_batch_size, args_.dataloader_drop_last);
    if constexpr (streaming) {
      if (options.num_workers > 0)
        message(LogLevel::warning, "--dataloader_num_workers {}: a training stream is read in order on the training "
                "thread, without workers", options.num_workers);
      TrainLoader loader(train_dataset_.stream(), train_dataset_.collator(), options.batch_size, options.drop_last,
                         args_.data_seed.value_or(args_.seed));
      loader.shard(strategy_.world_size(), strategy_.rank());
      loader.pin_memory(options.pin_memory);
      return loader;
    } else {
      return TrainLoader(train_dataset_, options);
    }
  }

  // Fresh optimizer, schedule, state and counters for a run.
  void begin_run(const TrainingPlan& plan) {
    // The user's optimizer (and scheduler) if given, else the factory's, else by --optim.
    if (given_optimizer_)
      optimizer_ = std::move(given_optimizer_);
    else if (optimizer_factory_)
      optimizer_ = optimizer_factory_(*model_, args_);
    else
      optimizer_ = optim::make_optimizer(*model_, args_);
    parameters_ = model_->parameters();  // clipped in model order, as Python clips model.parameters()
    if (given_scheduler_) {
      scheduler_ = std::make_unique<optim::LRScheduler>(std::move(*given_scheduler_));
      given_scheduler_.reset();
    } else {
      const auto scheduler_options = parse_scheduler_kwargs(args_.lr_scheduler_kwargs);
      scheduler_ = std::make_unique<optim::LRScheduler>(
          *optimizer_,
          optim::LRSchedule(args_.lr_scheduler_type, optim::resolve_warmup_steps(args_, plan.max_steps),
                            plan.max_steps, scheduler_options, optimizer_->param_groups().front().options().get_lr()),
          scheduler_options);
    }
    sampler_ = train_sampler();
    // As Python, megabatches span the samples of one optimizer step.
    if constexpr (data::HasSampleLengths<TrainDataset>)
      if (args_.train_sampling_strategy == TrainSamplingStrategy::group_by_length)
        length_sampler_ = data::LengthGroupedSampler{data::sample_lengths(train_dataset_),
                                                     std::int64_t{args_.per_device_train_batch_size} * plan.accumulation_steps,
                                                     args_.data_seed.value_or(args_.seed)};

    state_.epoch = 0;
    state_.global_step = 0;
    state_.max_steps = plan.max_steps;
    state_.num_train_epochs = plan.num_epochs;
    state_.train_batch_size = args_.per_device_train_batch_size;
    state_.logging_steps = resolve_interval(args_.logging_steps, plan.max_steps);
    state_.eval_steps = resolve_interval(args_.eval_steps.value_or(args_.logging_steps), plan.max_steps);
    state_.save_steps = resolve_interval(args_.save_steps, plan.max_steps);
    state_.log_history.clear();
    state_.num_input_tokens_seen = 0;
    state_.total_flos = 0;
    current_flos_ = 0;
    non_embedding_parameters_ = nn::non_embedding_parameters(*model_);
    state_.best_metric.reset();
    state_.best_global_step.reset();
    state_.best_model_checkpoint.reset();

    loss_since_log_.reset();
    total_loss_ = 0;
    last_logged_step_ = 0;
    grad_norm_ = torch::Tensor();
    model_->train();
  }

  // The training sampler: the seeded random order (or the dataset's, with
  // --train_sampling_strategy sequential), and with several processes each one's shard of
  // it (PyTorch's DistributedSampler).
  data::DistributedSampler train_sampler() const {
    return {.num_replicas = strategy_.world_size(), .rank = strategy_.rank(),
            .shuffle = args_.train_sampling_strategy != TrainSamplingStrategy::sequential,
            .seed = args_.data_seed.value_or(args_.seed), .drop_last = false};
  }

  // Batches are pinned only when they go to a CUDA device, where pinning makes copies
  // non-blocking. Unlike Python, evaluation never drops a short last batch: eval_loss and
  // the metrics cover every sample.
  data::DataLoaderOptions loader_options(std::int64_t batch_size, bool drop_last) const {
    return {.batch_size = batch_size,
            .drop_last = drop_last,
            .num_workers = args_.dataloader_num_workers,
            .prefetch_factor = args_.dataloader_prefetch_factor,
            .pin_memory = args_.dataloader_pin_memory && strategy_.device().is_cuda()};
  }

  void check_arguments() const {
    validate(args_);
    if (Precision::uses_bf16 && !args_.bf16)
      throw ArgumentError(fmt::format("the Trainer's precision policy is {}, but --bf16 is not set; pass --bf16",
                                      Precision::name));
    if (Precision::uses_fp16 && !args_.fp16)
      throw ArgumentError(fmt::format("the Trainer's precision policy is {}, but --fp16 is not set; pass --fp16",
                                      Precision::name));
    if (args_.bf16 && !Precision::uses_bf16)
      throw ArgumentError(fmt::format("--bf16 is set, but the Trainer's precision policy is {}; "
                                      "use Trainer<BF16> or drop --bf16", Precision::name));
    if (args_.fp16 && !Precision::uses_fp16)
      throw ArgumentError(fmt::format("--fp16 is set, but the Trainer's precision policy is {}; "
                                      "use Trainer<FP16> or drop --fp16", Precision::name));
    if (!std::is_same_v<Logger, ReportTo> && !args_.report_to.empty())
      throw ArgumentError(fmt::format("--report_to {} chooses loggers, but this Trainer's logger policy chooses them "
                                      "already; drop --report_to, or leave the logger policy out (the default, "
                                      "ReportTo, follows --report_to)",
                                      fmt::join(args_.report_to, " ")));
    if (args_.load_best_model_at_end && !Checkpointer::writes_checkpoints)
      throw ArgumentError("--load_best_model_at_end needs checkpoints, but this Trainer's checkpointer is "
                          "NoCheckpoint; drop the flag or use a checkpointer that writes");
    if (!data::HasSampleLengths<TrainDataset> && args_.train_sampling_strategy == TrainSamplingStrategy::group_by_length)
      throw ArgumentError("--train_sampling_strategy group_by_length needs the length of each training sample: give "
                          "the dataset a lengths() member (one length per sample), or use another strategy");
    // Batches are structs: losses and metrics read the member `labels`, so a label name
    // is checked here once rather than looked up in every step.
    if (args_.label_names && *args_.label_names != std::vector<std::string>{"labels"})
      throw ArgumentError(fmt::format("--label_names {}: torchtrain batches hold their labels in the member "
                                      "`labels`; name it so in your batch type and drop --label_names (or pass "
                                      "--label_names labels)",
                                      fmt::join(*args_.label_names, " ")));
    if constexpr (!requires(const Batch& batch) { detail::main_input(batch); })
      if (args_.include_num_input_tokens_seen != "no")
        throw ArgumentError("--include_num_input_tokens_seen counts the elements of a batch's input_ids (or inputs), "
                            "and this Trainer's batches have neither; drop it");
    if constexpr (streaming) plan_streaming(args_, 1);  // fails now if --max_steps is missing
    if (!has_eval_dataset && args_.eval_on_start)
      throw ArgumentError("--eval_on_start needs an eval dataset: pass one to the Trainer, or drop --eval_on_start");
    if constexpr (has_compute_metrics && !ComputesPerBatch<Compute>)
      if (args_.batch_eval_metrics)
        throw ArgumentError("--batch_eval_metrics calls compute_metrics(prediction, compute_result) after every "
                            "batch, but this compute_metrics takes no `bool compute_result`; give it one (keep "
                            "what you need per batch and return the metrics of the whole set when it is true), "
                            "or drop --batch_eval_metrics");
    if constexpr (!requires(const Batch& batch) { torch::Tensor(batch.inputs); })
      if (includes_for_metrics("inputs"))
        throw ArgumentError("--include_for_metrics inputs: this Trainer's batches have no `inputs` tensor to hand "
                            "to compute_metrics; drop it from --include_for_metrics");
    if (!has_eval_dataset && args_.eval_strategy != IntervalStrategy::no)
      throw ArgumentError(fmt::format("--eval_strategy {} needs an eval dataset: pass one to the "
                                      "Trainer, or use --eval_strategy no",
                                      detail::format_value(args_.eval_strategy)));
    if ((args_.lr_scheduler_type == SchedulerType::reduce_lr_on_plateau ||
         args_.lr_scheduler_type == SchedulerType::greedy) &&
        args_.eval_strategy == IntervalStrategy::no)
      throw ArgumentError(fmt::format("--lr_scheduler_type {} steps on evaluation results: set --eval_strategy steps "
                                      "or epoch",
                                      detail::format_value(args_.lr_scheduler_type)));
    parse_scheduler_kwargs(args_.lr_scheduler_kwargs);  // fails now, naming a bad name or value
    optim::make_optimizer(*model_, args_);               // likewise for --optim_args
    Accumulation::steps(args_);
  }

  template <class Event, class... Extra>
  void notify(const Extra&... extra) {
    TrainingObjects<Model> objects{model_, optimizer_.get(), scheduler_.get()};
    torchtrain::notify<Event>(callbacks_, args_, state_, control_, objects, extra...);
  }

  // The state of each callback that has one (EarlyStopping's counter), as Python keeps it
  // in trainer_state.json's stateful_callbacks, under the callback's name.
  void save_callback_states() {
    boost::hana::for_each(callbacks_, [&](const auto& callback) {
      if constexpr (requires { callback.state(); })
        state_.stateful_callbacks[std::string(callback.state_key)] = callback.state().dump();
    });
  }
  void restore_callback_states(std::string_view file_name) {
    boost::hana::for_each(callbacks_, [&](auto& callback) {
      if constexpr (requires { callback.state(); }) {
        const auto saved = state_.stateful_callbacks.find(std::string(callback.state_key));
        if (saved == state_.stateful_callbacks.end()) return;
        try {
          callback.load_state(nlohmann::json::parse(saved->second));
        } catch (const nlohmann::json::exception& error) {
          throw FileError(fmt::format("'{}': the saved state of {} does not fit it ({}); resume with "
                                      "another checkpoint",
                                      file_name, callback.state_key, error.what()));
        }
      }
    });
  }

  Model model_;
  TrainingArguments args_;
  TrainDataset train_dataset_;
  EvalDataset eval_dataset_;
  Loss loss_;
  Compute compute_metrics_;
  PreprocessLogits preprocess_logits_;
  decltype(boost::hana::prepend(std::declval<Callbacks>(), DefaultFlow{})) callbacks_;
  MemoryMetrics memory_;  // with --skip_memory_metrics false, Python's memory metrics

  Precision precision_;
  Strategy strategy_;
  Checkpointer checkpointer_;
  Logger logger_;

  TrainerState state_;
  TrainerControl control_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LRScheduler> scheduler_;
  std::unique_ptr<torch::optim::Optimizer> given_optimizer_;  // by set_optimizers, for the next train()
  std::optional<optim::LRScheduler> given_scheduler_;
  OptimizerFactory optimizer_factory_;
  std::vector<torch::Tensor> parameters_;
  std::vector<Batch> window_;  // the micro-batches of the current optimizer step
  struct EpochPosition {
    int epoch = 0;
    std::int64_t batches_taken = 0;  // micro-batches of the epoch trained on (or skipped)
  };
  EpochPosition epoch_position_;  // where the next batch comes from
  data::DistributedSampler sampler_;  // at world size 1, the RandomSampler's order
  std::optional<data::LengthGroupedSampler> length_sampler_;  // with --train_sampling_strategy group_by_length

  LossSum loss_since_log_;        // step losses since the last log
  bool in_train_ = false;  // inside train(), where evaluation keeps the model's type
  TokensSeen tokens_seen_ = TokensSeen::no;  // --include_num_input_tokens_seen, read once
  // For the logs: when this train() began, and the step and token count it began at.
  Clock::time_point train_start_;
  int initial_global_step_ = 0;
  std::int64_t initial_tokens_seen_ = 0;
  // total_flos as Python counts it: 6 x main input elements x parameters outside embeddings.
  std::int64_t non_embedding_parameters_ = 0;
  double current_flos_ = 0;       // since the last store_flos
  torch::Tensor grad_norm_;       // of the last step, before clipping
  double learning_rate_ = 0;
  double total_loss_ = 0;
  int last_logged_step_ = 0;
};

}  // namespace torchtrain
