// TrainerInterface: what a Trainer offers whatever its model, data and callback types; one virtual call per train(), evaluate() or predict().
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include <torch/optim/optimizer.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/resume_from.hpp>
#include <torchtrain/core/metrics.hpp>
#include <torchtrain/core/trainer_state.hpp>
#include <torchtrain/data/loader_setup.hpp>
#include <torchtrain/metrics/preprocess_logits.hpp>
#include <torchtrain/optim/schedulers.hpp>
#include <torchtrain/trainer/detail/any_dataset.hpp>
#include <torchtrain/trainer/optimization.hpp>
#include <torchtrain/trainer/prediction_output.hpp>

namespace torchtrain {

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
  virtual void set_scheduler_factory(SchedulerFactory factory) = 0;
  virtual void set_train_dataloader(data::LoaderCustomization customize) = 0;
  virtual void set_eval_dataloader(data::LoaderCustomization customize) = 0;
  virtual void set_test_dataloader(data::LoaderCustomization customize) = 0;
};

}  // namespace detail

}  // namespace torchtrain
